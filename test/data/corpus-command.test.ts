// `dllm data corpus` end to end on a stand-in package set this test builds itself (dpkg-deb): licences per
// file, every filter, dedup, decontamination, the package-held-out split, the docstring views, token streams,
// and the same corpusSha256 on a second run. Needs dpkg-deb and python3 (Python's ast), as the command does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { dataCorpus } from '../../src/cli/corpus.js';

const MIT_DEP5 = (gplGlob: string) => `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
License: Expat

Files: ${gplGlob}
License: GPL-3+
`;

function fn(name: string, k: number): string {
  return `def ${name}(values, scale=${k}):\n    """Scale every value by ${k} and drop the negative ones."""\n    out = []\n    for v in values:\n        if v * scale >= 0:\n            out.append(v * scale + ${k})\n    return out\n`;
}
function module(seed: number, n = 12): string {
  return Array.from({ length: n }, (_, i) => fn(`f_${seed}_${i}`, seed * 31 + i)).join('\n\n') + '\n';
}

function deb(cache: string, work: string, name: string, version: string, files: Record<string, string>, copyright: string): void {
  const root = join(work, name);
  for (const [p, text] of Object.entries({ ...files, [`usr/share/doc/${name}/copyright`]: copyright })) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  writeFileSync(
    join(root, 'DEBIAN', 'control'),
    `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: test <t@example.org>\nDescription: stand-in\n`,
  );
  execFileSync('dpkg-deb', ['--build', '--root-owner-group', root, join(cache, `${name}_${version}_all.deb`)], { stdio: 'ignore' });
}

test('data corpus: licences, filters, dedup, decontamination, held-out packages, views, streams, same hash twice', async () => {
  const tmp = mkdtempSync(join(os.tmpdir(), 'dllm-corpus-'));
  try {
    const cache = join(tmp, 'cache'),
      work = join(tmp, 'work'),
      evalDir = join(tmp, 'eval');
    mkdirSync(cache, { recursive: true });
    const dp = 'usr/lib/python3/dist-packages';
    const leaked =
      'def sum_of_squares(numbers):\n    total = 0\n    for number in numbers:\n        total = total + number * number\n    return total\n';
    const a = module(1),
      near = a.replace('Scale every value', 'Scale  every value');
    deb(
      cache,
      work,
      'python3-alpha',
      '1.0-1',
      {
        [`${dp}/alpha/__init__.py`]: module(2),
        [`${dp}/alpha/core.py`]: a,
        [`${dp}/alpha/copy_of_core.py`]: module(2), // the same bytes as __init__.py
        [`${dp}/alpha/near.py`]: near,
        [`${dp}/alpha/broken.py`]: module(3) + '\ndef oops(:\n    pass\n',
        [`${dp}/alpha/gpl/thing.py`]: module(4),
        [`${dp}/alpha/leak.py`]: module(5) + '\n' + leaked,
        [`${dp}/alpha/_vendor/six.py`]: module(6),
        [`${dp}/alpha/tests/test_core.py`]: module(7, 40), // more test code than 10 % of the rest allows
      },
      MIT_DEP5('alpha/gpl/*'),
    );
    deb(cache, work, 'python3-beta', '2.0-1', { [`${dp}/beta/__init__.py`]: module(8) }, MIT_DEP5('nothing/*'));
    mkdirSync(join(evalDir, 'humaneval'), { recursive: true });
    writeFileSync(
      join(evalDir, 'humaneval', 'HumanEval.jsonl.gz'),
      gzipSync(
        JSON.stringify({
          task_id: 'x/0',
          prompt: 'def sum_of_squares(numbers):\n',
          canonical_solution: leaked.split('\n').slice(1).join('\n'),
        }) + '\n',
      ),
    );
    const list = join(tmp, 'packages.txt');
    writeFileSync(list, '# stand-ins\npython3-alpha 1.0-1\npython3-beta 2.0-1 val\n');
    const args = (out: string) => [
      '--out',
      out,
      '--packages',
      list,
      '--cache',
      cache,
      '--eval-data',
      evalDir,
      '--offline',
      '--vocab-size',
      '300',
      '--quiet',
    ];
    const log = console.log;
    console.log = () => undefined;
    try {
      await dataCorpus(args(join(tmp, 'c1')));
      await dataCorpus(args(join(tmp, 'c2')));
    } finally {
      console.log = log;
    }
    const m1 = JSON.parse(readFileSync(join(tmp, 'c1', 'manifest.json'), 'utf8')),
      m2 = JSON.parse(readFileSync(join(tmp, 'c2', 'manifest.json'), 'utf8'));
    assert.equal(m1.corpusSha256, m2.corpusSha256, 'a second run gives the same corpusSha256');
    assert.deepEqual(m1.dropped, {
      licence: 1,
      exactDuplicate: 1,
      nearDuplicate: 1,
      syntax: 1,
      contaminated: 1,
      vendored: 1,
      testShare: 1,
    });
    const kept = m1.files as { path: string; split: string; licence: string; package: string }[];
    assert.deepEqual(kept.map((f) => f.path.split('/').pop()).sort(), ['__init__.py', '__init__.py', 'core.py']);
    assert.deepEqual(
      kept.filter((f) => f.split === 'val').map((f) => f.package),
      ['python3-beta'],
    );
    assert.ok(kept.every((f) => f.licence === 'Expat'));
    assert.equal(m1.packages.length, 2);
    assert.match(m1.packages[0].debSha256, /^[0-9a-f]{64}$/);
    assert.equal(m1.counts.views.train, 24, 'every documented function of the two kept train files');
    const view = JSON.parse(readFileSync(join(tmp, 'c1', 'views-train.jsonl'), 'utf8').split('\n')[0]!);
    assert.match(view.prompt, /^def f_\d+_0\(values, scale=\d+\):\n {4}"""Scale every value/);
    assert.match(view.body, /^ {4}out = \[\]\n/);
    const train = readFileSync(join(tmp, 'c1', 'train.bin')),
      fim = readFileSync(join(tmp, 'c1', 'train-fim.bin'));
    assert.equal(train.length / 2, m1.trainTokens);
    assert.ok(fim.length >= train.length, 'the FIM stream holds the same documents plus sentinels');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
