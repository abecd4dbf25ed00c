import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildSampleStore } from '../helpers/sample-store.js';
import { cliJson, runCli } from '../helpers/run-cli.js';

const s = buildSampleStore(t.testdir());

t.test('--json: stdout is JSON only, warnings go to stderr, exit 0', async (t) => {
  const file = join(s.root, 'image', 'overlay2', 'repositories.json');
  const repos = readFileSync(file, 'utf8');
  writeFileSync(file, '{broken');
  t.teardown(() => writeFileSync(file, repos));
  const r = runCli(['--root', s.root, 'images', '--json']);
  t.equal(r.status, 0);
  t.equal(JSON.parse(r.stdout).length, 6);
  t.ok(r.stderr.startsWith(`strata: warning: ${file}: corrupt JSON (`), 'names the file and the reason');
  t.equal(r.stderr.split('\n').length, 2, 'in one line');
});

t.test('STRATA_ROOT sets the root; text output like docker images', async (t) => {
  const r = runCli(['images'], { STRATA_ROOT: s.root });
  t.equal(r.status, 0);
  const lines = r.stdout.trimEnd().split('\n');
  t.match(lines[0], /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
  t.equal(lines.length, 1 + 9, 'one row per tag: base×2, app×2, python×2, ruby, and <none> rows for old and tool');
  t.match(r.stdout, new RegExp(`example.com/team/app\\s+v1\\s+${s.images.app.slice(7, 19)}\\s+.* ago\\s+1.23kB`));
  t.match(r.stdout, /tool\s+<none>/, 'digest-only image shows its repository');
  t.equal(r.stderr, '');
});

t.test('images --tree, dangling, layers, inspect, df all answer', async (t) => {
  t.match(runCli(['--root', s.root, 'images', '--tree']).stdout, /└─[0-9a-f]{12} Virtual Size: 1 kB Tags: base:1, base:latest/);
  t.same(cliJson(['--root', s.root, 'dangling']).map((i: { id: string }) => i.id).sort(), [s.images.old, s.images.x].sort());
  const layers = cliJson(['--root', s.root, 'layers', 'app:1']);
  t.same(layers.map((l: { chainId: string }) => l.chainId), [s.layers.L1.chainId, s.layers.L2.chainId, s.layers.L3.chainId]);
  t.same(layers.map((l: { images: number }) => l.images), [5, 4, 1], 'L1 is in base, i1, i2, old and app');
  const [info] = JSON.parse(runCli(['--root', s.root, 'inspect', s.images.i2.slice(7, 20)]).stdout);
  t.equal(info.Id, s.images.i2);
  t.equal(info.Parent, s.images.i1);
  const children = [s.images.old, s.images.app].sort().map((id) => id.slice(7, 19)).join(', ');
  t.match(runCli(['--root', s.root, 'inspect', '--pretty', s.images.i2.slice(7, 20)]).stdout, `Children:    ${children}\n`);
  const df = cliJson(['--root', s.root, 'df']);
  t.equal(df.layersSize, 6921);
  t.match(runCli(['--root', s.root, 'df']).stdout, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+7\s+3\s+6.921kB\s+6.887kB \(99%\)\nContainers\s+3\s+1\s+110B\s+100B \(90%\)/);
});

t.test('errors: one line naming the problem, exit 1', async (t) => {
  const r = runCli(['--root', s.root, 'inspect', 'nope:1']);
  t.equal(r.status, 1);
  t.equal(r.stderr, 'Error: No such object: nope:1\n', "docker inspect's line");
  t.equal(r.stdout, '[]\n', 'the (empty) array of what was found, as docker prints it');
  const missing = runCli(['--root', join(s.root, 'missing'), 'images']);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /^strata: error: .*missing: no such directory \(pass the data-root with --root\)\n$/);
  const usage = runCli(['--root', s.root, 'imagez']);
  t.equal(usage.status, 2);
});

t.test('a layer directory that is gone: still answers, warns, exit 0', async (t) => {
  rmSync(join(s.root, 'overlay2', s.layers.K1.cacheId), { recursive: true });
  const r = runCli(['--root', s.root, 'layers']);
  t.equal(r.status, 0);
  t.match(r.stdout, /MISSING/);
  t.match(r.stderr, new RegExp(`strata: warning: .*${s.layers.K1.cacheId}/diff: missing — driver directory of layer ${s.layers.K1.chainId} is gone`));
});

t.test('--no-trunc is docker\'s flag, not a negation', async (t) => {
  const r = runCli(['--root', s.root, 'images', '-q', '--no-trunc']);
  t.equal(r.status, 0, r.stderr);
  t.ok(r.stdout.split('\n').filter(Boolean).every((l) => /^sha256:[0-9a-f]{64}$/.test(l)));
});
