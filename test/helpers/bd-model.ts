// The shipped AR twin's folder read as a block-diffusion model: its files in a temp folder, config.json + bd_size.
// The shipped tokenizer has the mask and FIM tokens; the weights' quality does not matter to the tests using it.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const AR = new URL('../../../models/dllm-code-mini-ar/', import.meta.url).pathname;

export function bdFolder(bdSize = 8): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'dllm-bd-'));
  for (const f of readdirSync(AR)) copyFileSync(join(AR, f), join(dir, f));
  const hf = JSON.parse(readFileSync(join(AR, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...hf, bd_size: bdSize }));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
