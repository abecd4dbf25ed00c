import { rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import t from 'tap';
import { detectDriver } from '../../inspect/detect-driver.js';
import { dataRootOf, defaultRoot } from '../../inspect/open-store.js';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore } from '../helpers/sample-store.js';

t.test('one store: its driver', async (t) => {
  t.equal(detectDriver(t.testdir({ image: { overlay2: {} }, overlay2: {} })), 'overlay2');
  t.equal(detectDriver(t.testdir({ image: { vfs: {} }, vfs: { dir: {} } })), 'vfs');
});

t.test('no image/ directory: the non-empty driver directory', async (t) => {
  t.equal(detectDriver(t.testdir({ aufs: { diff: {} }, vfs: {} })), 'aufs');
});

t.test('several: say which, ask for --driver', async (t) => {
  const root = t.testdir({ image: { overlay2: {}, vfs: {} } });
  t.throws(() => detectDriver(root), /several drivers \(overlay2, vfs\); choose one with --driver/);
  t.equal(detectDriver(root, 'vfs'), 'vfs');
});

t.test('none, or a wrong --driver', async (t) => {
  t.throws(() => detectDriver(t.testdir({ x: {} })), /no storage driver found/);
  t.throws(() => detectDriver(t.testdir({ image: { overlay2: {} } }), 'aufs'), /no aufs store .*found: overlay2/);
  t.throws(() => detectDriver('/nonexistent-strata-root'), /^\/nonexistent-strata-root: no such directory \(pass the data-root with --root\)$/);
  const file = join(t.testdir({ 'a-file': 'x' }), 'a-file');
  t.throws(() => detectDriver(file), /: not a directory \(pass the data-root with --root\)$/);
});

t.test("the default root: $STRATA_ROOT, else daemon.json's data-root (or the legacy graph), else /var/lib/docker", async (t) => {
  const dir = t.testdir({
    'data-root.json': JSON.stringify({ 'data-root': '/srv/docker', 'storage-driver': 'overlay2' }),
    'graph.json': JSON.stringify({ graph: '/old/docker' }),
    'both.json': JSON.stringify({ 'data-root': '/srv/docker', graph: '/old/docker' }),
    'none.json': JSON.stringify({ debug: true }),
    'corrupt.json': '{"data-root": ',
  });
  t.equal(dataRootOf(join(dir, 'data-root.json')), '/srv/docker');
  t.equal(dataRootOf(join(dir, 'graph.json')), '/old/docker');
  t.equal(dataRootOf(join(dir, 'both.json')), '/srv/docker', 'data-root wins over graph');
  t.equal(dataRootOf(join(dir, 'none.json')), null);
  t.equal(dataRootOf(join(dir, 'corrupt.json')), null);
  t.equal(dataRootOf(join(dir, 'missing.json')), null);
  t.equal(defaultRoot({ STRATA_DAEMON_JSON: join(dir, 'data-root.json') }), '/srv/docker');
  t.equal(defaultRoot({ STRATA_ROOT: '/mine', STRATA_DAEMON_JSON: join(dir, 'data-root.json') }), '/mine', '$STRATA_ROOT first');
  t.equal(defaultRoot({ STRATA_DAEMON_JSON: join(dir, 'none.json') }), '/var/lib/docker');
  t.equal(defaultRoot({ STRATA_DAEMON_JSON: join(dir, 'corrupt.json') }), '/var/lib/docker');
});

t.test('the CLI reads the data-root daemon.json names when --root and $STRATA_ROOT are absent', async (t) => {
  const s = buildSampleStore(t.testdir());
  const daemonJson = join(s.root, '..', `${basename(s.root)}-daemon.json`);
  writeFileSync(daemonJson, JSON.stringify({ 'data-root': s.root }));
  t.teardown(() => rmSync(daemonJson));
  const r = runCli(['images', '-q', '--no-trunc'], { STRATA_ROOT: '', STRATA_DAEMON_JSON: daemonJson });
  t.equal(r.status, 0);
  // -q prints one line per row, as docker does: an image with two tags is listed twice.
  t.same([...new Set(r.stdout.trim().split('\n'))].sort(), [s.images.base, s.images.app, s.images.old, s.images.p1, s.images.p2, s.images.p3, s.images.x].sort());
  const other = runCli(['images', '--root', join(s.root, 'nope')], { STRATA_ROOT: '', STRATA_DAEMON_JSON: daemonJson });
  t.match(other.stderr, /nope: no such directory/, '--root still wins');
});

t.test('a directory inside a data-root (its image/, overlay2/, image/overlay2/, layerdb/): named, with the root to pass', async (t) => {
  const s = buildSampleStore(t.testdir());
  for (const sub of ['image', 'overlay2', join('image', 'overlay2'), join('image', 'overlay2', 'layerdb'), 'containers']) {
    const r = runCli(['images', '--root', join(s.root, sub)]);
    t.equal(r.status, 1, `${sub}: exit 1`);
    t.equal(r.stderr, `strata: error: ${join(s.root, sub)}: not a data-root: it is inside the data-root ${s.root} (pass --root ${s.root})\n`, `${sub}: one line naming both`);
    t.equal(r.stdout, '', `${sub}: nothing listed`);
  }
  t.equal(runCli(['images', '--root', s.root]).status, 0, 'the data-root itself is read');
  t.equal(runCli(['images', '--root', `${s.root}/`]).status, 0, 'with a trailing slash too');
  // A store of its own below a data-root (a copy made there) is read as itself.
  const inner = t.testdir({ image: { overlay2: {} }, overlay2: {}, copy: { image: { vfs: {} }, vfs: {} } });
  t.equal(detectDriver(join(inner, 'copy')), 'vfs', 'a data-root nested in another is its own');
  t.throws(() => detectDriver(join(inner, 'overlay2')), /inside the data-root/, 'the outer one\'s driver directory is not');
});
