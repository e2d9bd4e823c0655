// Models by hub id against a stand-in Hub (test/helpers/fake-hub.ts) with a temporary HF_HOME: `dllm pull`
// writes huggingface_hub's cache layout, a second pull downloads nothing, a cut connection resumes with Range,
// a wrong hash fails and leaves no snapshot, HF_TOKEN is sent, HF_HUB_OFFLINE uses only the cache, and a model
// a Python user already has in the cache loads without a single request.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchModel, loadModel, modelName } from '../../src/platform/node-generator.js';
import { hubEnv, hubIdOfDir, isHubId } from '../../src/platform/node-hub-cache.js';
import { pullModel } from '../../src/platform/node-hub.js';
import { startServer } from '../../src/serve/index.js';
import { gitSha1, isLfs, repoFromFolder, sha256, startFakeHub, type FakeRepo, type RecordedRequest } from '../helpers/fake-hub.js';

const CLI = new URL('../../../bin/dllm.js', import.meta.url).pathname;
const fixture = (name: string) => new URL(`../../../test/fixtures/${name}`, import.meta.url).pathname;
const TINY = repoFromFolder('org/tiny', fixture('llada'));
const SHARDED = repoFromFolder('org/sharded', fixture('dream'));
const TOKEN = 'hf_test_token';
const homes: string[] = [];
after(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

function freshHome(): string {
  const h = mkdtempSync(join(tmpdir(), 'dllm-hub-'));
  homes.push(h);
  return h;
}

/** the process environment for a pull: only our HF_* variables, none inherited from the machine */
function hubEnvVars(endpoint: string, home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('HF_') || k.startsWith('HUGGING')) delete env[k];
  return { ...env, HF_ENDPOINT: endpoint, HF_HOME: home, ...extra };
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { env });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

const repoDir = (home: string, r: FakeRepo) => join(home, 'hub', `models--${r.id.replace('/', '--')}`);
const fileGets = (reqs: RecordedRequest[]) => reqs.filter((q) => q.method === 'GET' && !q.path.startsWith('/api/'));

/** the snapshot holds every file of the repo as a relative symlink to blobs/<etag>, each blob's hash its name */
function assertLayout(home: string, r: FakeRepo, dir: string): void {
  const repo = repoDir(home, r);
  assert.equal(readFileSync(join(repo, 'refs', 'main'), 'utf8'), r.commit);
  assert.equal(dir, join(repo, 'snapshots', r.commit));
  for (const [name, data] of r.files) {
    const etag = isLfs(name) ? sha256(data) : gitSha1(data);
    const link = join(dir, name);
    assert.ok(lstatSync(link).isSymbolicLink(), `${name} is a symlink`);
    assert.equal(readlinkSync(link), `../../blobs/${etag}`, name);
    assert.deepEqual(readFileSync(link), data, `${name}: the bytes the hub served`);
  }
  assert.deepEqual(
    readdirSync(join(repo, 'blobs')).filter((b) => b.endsWith('.incomplete')),
    [],
    'no partial file left',
  );
}

test('dllm pull: the cache layout, the Bearer token on every hub request, and a second pull downloads nothing', async () => {
  const hub = await startFakeHub({ repos: [TINY], token: TOKEN });
  try {
    const home = freshHome(),
      env = hubEnvVars(hub.url, home, { HF_TOKEN: TOKEN });
    const first = await cli(['pull', 'org/tiny'], env);
    assert.equal(first.code, 0, first.stderr);
    assertLayout(home, TINY, first.stdout.trim());
    const toHub = hub.requests.filter((q) => !q.path.startsWith('/cdn/'));
    assert.ok(toHub.length > 0 && toHub.every((q) => q.authorization === `Bearer ${TOKEN}`), 'HF_TOKEN is sent as a Bearer header');
    assert.ok(
      hub.requests.filter((q) => q.path.startsWith('/cdn/')).every((q) => q.authorization === null),
      'the token does not follow the redirect to another origin',
    );

    hub.requests.length = 0;
    const second = await cli(['pull', 'org/tiny'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /up to date/);
    assert.deepEqual(fileGets(hub.requests), [], 'no file downloaded twice');

    const denied = await cli(['pull', 'org/tiny'], hubEnvVars(hub.url, freshHome()));
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /401.*set HF_TOKEN/);
  } finally {
    await hub.close();
  }
});

test('a sharded model: the index and every shard it names', async () => {
  const hub = await startFakeHub({ repos: [SHARDED] });
  try {
    const home = freshHome();
    const r = await pullModel('org/sharded', { env: hubEnvVars(hub.url, home) });
    assert.ok([...SHARDED.files.keys()].filter((n) => n.startsWith('model-')).length === 2);
    assertLayout(home, SHARDED, r.dir);
    assert.equal(
      r.downloadedBytes,
      [...SHARDED.files.values()].reduce((s, b) => s + b.length, 0),
    );
  } finally {
    await hub.close();
  }
});

test('a connection cut halfway through the weights: the pull resumes with a Range request and ends verified', async () => {
  const hub = await startFakeHub({ repos: [TINY], cutOnce: 'model.safetensors' });
  try {
    const home = freshHome(),
      notes: string[] = [];
    const r = await pullModel('org/tiny', { env: hubEnvVars(hub.url, home), onNote: (m) => notes.push(m) });
    assertLayout(home, TINY, r.dir);
    const gets = fileGets(hub.requests).filter((q) => q.path.startsWith('/cdn/') && q.path.endsWith('/model.safetensors')); // the bytes come from the CDN the Hub redirects to
    const size = TINY.files.get('model.safetensors')!.length;
    const resumed = gets.map((q) => /^bytes=(\d+)-$/.exec(q.range ?? '')).filter((m) => m && Number(m[1]) > 0);
    assert.equal(resumed.length, 1, `one resumed request: ${JSON.stringify(gets)}`);
    assert.ok(Number(resumed[0]![1]) <= size / 2 + 1);
    assert.ok(
      notes.some((n) => /resuming at \d+ of \d+ bytes/.test(n)),
      notes.join('\n'),
    );
    assert.ok(r.downloadedBytes < size * 1.5, 'the first half was not downloaded again');
  } finally {
    await hub.close();
  }
});

test('a wrong checksum fails naming the file and both hashes, and leaves nothing in snapshots/', async () => {
  const hub = await startFakeHub({ repos: [TINY], corrupt: 'model.safetensors' });
  try {
    const home = freshHome();
    const r = await cli(['pull', 'org/tiny', '--quiet'], hubEnvVars(hub.url, home));
    assert.equal(r.code, 1);
    const expected = sha256(TINY.files.get('model.safetensors')!);
    assert.match(r.stderr, new RegExp(`model\\.safetensors: sha256 mismatch: expected ${expected}, got [0-9a-f]{64}`));
    const repo = repoDir(home, TINY);
    assert.ok(!existsSync(join(repo, 'snapshots')) || readdirSync(join(repo, 'snapshots', TINY.commit)).length === 0, 'no snapshot files');
    assert.ok(!existsSync(join(repo, 'refs', 'main')), 'no ref to a broken snapshot');
    assert.deepEqual(
      readdirSync(join(repo, 'blobs')).filter((b) => b.startsWith(expected)),
      [],
      'the bad download was deleted',
    );
  } finally {
    await hub.close();
  }
});

test("loadModel('org/tiny') downloads then generates; HF_HUB_OFFLINE=1 uses the cache, and fails clearly without it", async () => {
  const hub = await startFakeHub({ repos: [TINY] });
  const saved = { ...process.env };
  try {
    const home = freshHome();
    for (const k of Object.keys(process.env)) if (k.startsWith('HF_') || k.startsWith('HUGGING')) delete process.env[k];
    Object.assign(process.env, hubEnvVars(hub.url, home));
    const lm = await loadModel('org/tiny', { backend: 'wasm', threads: 1 });
    try {
      const r = await lm.complete('hi', { maxTokens: 4 });
      assert.ok(r.ids.length <= 4);
    } finally {
      lm.dispose();
    }
    assert.ok(fileGets(hub.requests).length > 0);

    hub.requests.length = 0;
    process.env['HF_HUB_OFFLINE'] = '1';
    assert.equal(await fetchModel('org/tiny'), join(repoDir(home, TINY), 'snapshots', TINY.commit));
    await assert.rejects(fetchModel('org/absent'), /org\/absent@main is not in the Hugging Face cache .*HF_HUB_OFFLINE/);
    const offline = await cli(['pull', 'org/absent'], process.env);
    assert.equal(offline.code, 1);
    assert.match(offline.stderr, /HF_HUB_OFFLINE/);
    assert.deepEqual(hub.requests, [], 'offline: not one request');
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await hub.close();
  }
});

test('a model Python already put in the cache is found without any request, by the CLI and by loadModel', async () => {
  const hub = await startFakeHub({ repos: [] });
  try {
    // huggingface_hub's layout, written by hand: blobs by etag, snapshot symlinks, refs/main
    const home = freshHome(),
      commit = 'c'.repeat(40),
      repo = join(home, 'hub', 'models--py-org--py-model');
    mkdirSync(join(repo, 'blobs'), { recursive: true });
    mkdirSync(join(repo, 'snapshots', commit), { recursive: true });
    mkdirSync(join(repo, 'refs'));
    writeFileSync(join(repo, 'refs', 'main'), commit);
    for (const [name, data] of TINY.files) {
      const etag = isLfs(name) ? sha256(data) : gitSha1(data);
      writeFileSync(join(repo, 'blobs', etag), data);
      symlinkSync(`../../blobs/${etag}`, join(repo, 'snapshots', commit, name));
    }
    const env = hubEnvVars(hub.url, home);
    const r = await cli(['inspect', '--model', 'py-org/py-model', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).architecture, 'llada');
    const saved = process.env['HF_HOME'],
      savedEndpoint = process.env['HF_ENDPOINT'];
    process.env['HF_HOME'] = home;
    process.env['HF_ENDPOINT'] = hub.url;
    try {
      assert.equal(await fetchModel('py-org/py-model'), join(repo, 'snapshots', commit));
    } finally {
      if (saved === undefined) delete process.env['HF_HOME'];
      else process.env['HF_HOME'] = saved;
      if (savedEndpoint === undefined) delete process.env['HF_ENDPOINT'];
      else process.env['HF_ENDPOINT'] = savedEndpoint;
    }
    assert.deepEqual(hub.requests, []);
  } finally {
    await hub.close();
  }
});

test('--model ORG/NAME on another command pulls the model first (dllm inspect)', async () => {
  const hub = await startFakeHub({ repos: [TINY] });
  try {
    const r = await cli(['inspect', '--model', 'org/tiny', '--json'], hubEnvVars(hub.url, freshHome()));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).architecture, 'llada');
    assert.ok(fileGets(hub.requests).some((q) => q.path.endsWith('model.safetensors')));
  } finally {
    await hub.close();
  }
});

test("a partial blob left by an earlier run (or by Python's huggingface_hub) is continued, or restarted when the server ignores Range", async () => {
  const data = TINY.files.get('model.safetensors')!,
    etag = sha256(data);
  for (const ignoreRange of [false, true]) {
    const hub = await startFakeHub({ repos: [TINY], ignoreRange });
    try {
      const home = freshHome(),
        blobs = join(repoDir(home, TINY), 'blobs');
      mkdirSync(blobs, { recursive: true });
      writeFileSync(join(blobs, `${etag}.incomplete`), data.subarray(0, 1000));
      const r = await pullModel('org/tiny', { env: hubEnvVars(hub.url, home) });
      assertLayout(home, TINY, r.dir);
      const cdn = hub.requests.filter((q) => q.path.startsWith('/cdn/'));
      assert.deepEqual(
        cdn.map((q) => q.range),
        ['bytes=1000-'],
        `ignoreRange ${ignoreRange}`,
      );
      const others = [...TINY.files.values()].reduce((s, b) => s + b.length, 0) - data.length;
      assert.equal(r.downloadedBytes - others, ignoreRange ? data.length : data.length - 1000);
    } finally {
      await hub.close();
    }
  }
});

test('--revision: a commit is pulled into its own snapshot without touching refs/main; an unknown one is a clear 404', async () => {
  const hub = await startFakeHub({ repos: [TINY] });
  try {
    const home = freshHome(),
      env = hubEnvVars(hub.url, home);
    const r = await cli(['pull', 'org/tiny', '--revision', TINY.commit, '--quiet'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), join(repoDir(home, TINY), 'snapshots', TINY.commit));
    assert.ok(!existsSync(join(repoDir(home, TINY), 'refs', 'main')));
    const bad = await cli(['pull', 'org/tiny', '--revision', 'nope'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /org\/tiny@nope: not found on .*RevisionNotFound/);
    const missing = await cli(['generate', 'x', '--model', 'org/missing'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /org\/missing@main: not found/);
  } finally {
    await hub.close();
  }
});

test('hub ids and cache folders: what counts as ORG/NAME, and a snapshot is named by its id', () => {
  for (const id of ['GSAI-ML/LLaDA-8B-Instruct', 'Dream-org/Dream-v0-Instruct-7B', 'inclusionAI/LLaDA2.0-mini-preview'])
    assert.ok(isHubId(id), id);
  for (const s of ['llada', './a/b', 'a/b/c', 'a/..', '../x', 'a--b/c', '/abs/path', 'org/']) assert.ok(!isHubId(s), s);
  assert.equal(modelName('/h/hub/models--GSAI-ML--LLaDA-8B-Instruct/snapshots/' + 'a'.repeat(40)), 'GSAI-ML/LLaDA-8B-Instruct');
  assert.equal(hubIdOfDir('/h/models--a--b-c--d/x'), null);
  assert.equal(modelName('/work/models/dllm-code-mini'), 'dllm-code-mini');
  const h = '/home/u';
  assert.equal(hubEnv({ HOME: h, HF_HOME: '/x' }).cacheDir, '/x/hub');
  assert.equal(hubEnv({ HF_HOME: '/x', HF_HUB_CACHE: '/y' }).cacheDir, '/y');
  assert.equal(hubEnv({ XDG_CACHE_HOME: '/c' }).cacheDir, '/c/huggingface/hub');
  assert.equal(hubEnv({ HF_ENDPOINT: 'http://m/' }).endpoint, 'http://m');
  assert.equal(hubEnv({ HF_HUB_OFFLINE: 'true' }).offline, true);
  assert.equal(hubEnv({ HF_HUB_OFFLINE: '0' }).offline, false);
});

test('a served hub snapshot is named by its id in /v1/models, and the page can fetch its files (symlinks to blobs)', async () => {
  const hub = await startFakeHub({ repos: [TINY] });
  try {
    const home = freshHome(),
      r = await pullModel('org/tiny', { env: hubEnvVars(hub.url, home) });
    const server = await startServer({
      modelDir: [r.dir],
      config: { port: 0, maxTokens: 16, defaultMaxTokens: 4 },
      threads: 1,
      backend: 'wasm',
    });
    try {
      const models = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: Array<{ id: string; meta: { files?: string } }> };
      assert.deepEqual(
        models.data.map((m) => m.id),
        ['org/tiny'],
      );
      assert.equal(models.data[0]!.meta.files, '/model/org%2Ftiny/');
      const res = await fetch(`${server.url}${models.data[0]!.meta.files}model.safetensors`);
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), TINY.files.get('model.safetensors'));
    } finally {
      await server.close();
    }
  } finally {
    await hub.close();
  }
});
