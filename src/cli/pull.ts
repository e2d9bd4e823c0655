// dllm pull ORG/NAME [--revision R] [--quiet]: a model from the Hugging Face Hub into the hub cache (the layout
// Python's huggingface_hub uses; HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE are honoured), with
// a progress bar on stderr. Every command that takes --model pulls a hub id the same way before it runs.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { isHubId } from '../platform/node-hub-cache.js';
import { ensureHubModel, pullModel, type PullOptions } from '../platform/node-hub.js';

const MB = 1024 * 1024;

/** progress on stderr: one bar over the bytes still to download (a TTY only; a log gets the notes) */
function barOptions(quiet: boolean): Pick<PullOptions, 'onPlan' | 'onProgress' | 'onNote'> {
  if (quiet) return {};
  let bar: cliProgress.SingleBar | null = null;
  const mb = (n: number) => (n / MB).toFixed(1);
  return {
    onPlan(files, todo) {
      const total = todo.reduce((s, f) => s + f.size, 0);
      if (!todo.length) return;
      console.error(`pull: ${todo.length} of ${files.length} files to download, ${mb(total)} MB`);
      bar = new cliProgress.SingleBar(
        {
          format: 'pull [{bar}] {percentage}% | {mb}/{totalMb} MB | {eta_formatted} left | {file}',
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { mb: '0.0', totalMb: mb(total), file: '' });
    },
    onProgress(p) {
      bar?.update(p.bytes, { mb: mb(p.bytes), file: p.file });
      if (p.bytes >= p.total) {
        bar?.stop();
        bar = null;
      }
    },
    // under a live bar a note takes the file's place on it; in a log (no TTY: no bar drawn) it is a line
    onNote(m) {
      if (bar && process.stderr.isTTY) bar.update({ file: m });
      else console.error(`pull: ${m}`);
    },
  };
}

/** the flags of the command (usage.ts lists them) */
export const PULL_FLAGS = { revision: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean' } } as const;

export async function pull(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: PULL_FLAGS,
  });
  if (values.help || positionals.length !== 1) {
    console.log(HELP);
    return values.help ? 0 : 1;
  }
  const id = positionals[0]!;
  if (!isHubId(id)) throw new Error(`"${id}" is not a hub id (ORG/NAME, e.g. GSAI-ML/LLaDA-8B-Instruct)`);
  const r = await pullModel(id, { ...(values.revision ? { revision: values.revision } : {}), ...barOptions(!!values.quiet) });
  const fetched = r.files.filter((f) => !f.cached).length;
  const what =
    r.files.length === 0
      ? 'in the cache (HF_HUB_OFFLINE: not checked with the Hub)'
      : fetched === 0
        ? `up to date, ${r.files.length} files`
        : `${fetched} of ${r.files.length} files downloaded, ${(r.downloadedBytes / MB).toFixed(1)} MB`;
  console.error(`pull: ${id}@${r.commit.slice(0, 12)} ${what}`);
  console.log(r.dir); // stdout: the folder, for scripts (`dllm generate --model "$(dllm pull ORG/NAME)"`)
  return 0;
}

/** the flags through which commands name models */
const MODEL_FLAGS = new Set(['--model', '--twin']);

/** before a command runs: each hub id its --model/--twin names that is not a folder and not in the cache is
 *  pulled, with the progress bar, so the command (resolveModel: synchronous) then finds it in the cache */
export async function pullNamedModels(argv: readonly string[]): Promise<void> {
  const ids = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!,
      eq = a.indexOf('=');
    const [flag, value] = eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, argv[i + 1]];
    if (MODEL_FLAGS.has(flag) && value !== undefined && isHubId(value) && !existsSync(value)) ids.add(value);
  }
  for (const id of ids) await ensureHubModel(id, barOptions(false));
}

const HELP = `usage: dllm pull ORG/NAME [--revision main] [--quiet]
  download a model's config, tokenizer and safetensors weights (sharded too) from the Hugging Face Hub into
  the hub cache: resumable, checked against the Hub's sizes and sha256; prints the snapshot folder
  env: HF_HOME / HF_HUB_CACHE (where), HF_ENDPOINT (a mirror), HF_TOKEN (gated models), HF_HUB_OFFLINE=1 (no network)`;
