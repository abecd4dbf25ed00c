// The metadata index (inspect/metadata-index.ts): a second read of a quiet store is served from it, and
// every change made behind its back — files added, removed, edited in place with the same size and the
// old mtime, replaced by a directory, corrupted, a container removed, a write command — sends the next
// read back to the store, whose answer must equal a read that never saw an index.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { indexWritesDone, lastIndexOutcome } from '../../inspect/metadata-index.js';
import type { StoreModel } from '../../inspect/model.js';
import { openStore } from '../../inspect/open-store.js';
import type { LayerFields } from '../../inspect/store-layout.js';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore } from '../helpers/sample-store.js';

const cache = t.testdir({});
process.env.XDG_CACHE_HOME = cache;
delete process.env.STRATA_NO_CACHE;
const indexDir = join(cache, 'strata');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Longer than the index's "too recent to trust" window: files changed before it may be indexed. */
const settle = () => sleep(250);

const plain = (m: StoreModel) =>
  JSON.parse(JSON.stringify({ ...m, images: [...m.images], layers: [...m.layers], mounts: [...m.mounts], children: [...m.children] }));

async function read(root: string, layerFields: LayerFields = 'all') {
  const { model } = await openStore({ root, layerFields });
  const outcome = lastIndexOutcome();
  await indexWritesDone();
  return { model: plain(model), outcome };
}

/** A read that neither reads nor writes the index. */
async function direct(root: string, layerFields: LayerFields = 'all') {
  process.env.STRATA_NO_CACHE = '1';
  try {
    const r = await read(root, layerFields);
    if (r.outcome !== 'off') throw new Error('STRATA_NO_CACHE=1 did not turn the index off');
    return r.model;
  } finally {
    delete process.env.STRATA_NO_CACHE;
  }
}

const indexFiles = () => {
  try {
    return readdirSync(indexDir).filter((n) => n.startsWith('index-') && !n.endsWith('.tmp'));
  } catch {
    return [];
  }
};

/** Reads until the index serves the store: returns the served model, checked against a direct read. */
async function primed(t: Tap.Test, root: string, layerFields: LayerFields = 'all') {
  await settle();
  await read(root, layerFields);
  const served = await read(root, layerFields);
  t.equal(served.outcome, 'hit', 'the quiet store is served from the index');
  t.strictSame(served.model, await direct(root, layerFields), 'and the index answers as the store does');
  return served.model;
}

/** A store whose metadata files have whole-second mtimes, so that an edit can put the very same mtime back. */
function store(dir: string) {
  const s = buildSampleStore(dir);
  for (const top of [join(s.root, 'image'), join(s.root, 'containers')]) {
    for (const entry of readdirSync(top, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) utimesSync(join(entry.parentPath ?? entry.path, entry.name), 1_700_000_000, 1_700_000_000);
    }
  }
  return s;
}

/** Rewrites a file in place (same inode) with content of the same length, and puts its old times back. */
function editInPlace(file: string, edit: (text: string) => string): void {
  const before = statSync(file);
  const text = readFileSync(file, 'utf8');
  const edited = edit(text);
  if (edited === text || Buffer.byteLength(edited) !== before.size) throw new Error(`edit of ${file} must change it and keep its size`);
  writeFileSync(file, edited);
  utimesSync(file, before.atime, before.mtime);
  const after = statSync(file);
  if (after.ino !== before.ino || after.size !== before.size || after.mtimeMs !== before.mtimeMs) throw new Error('edit moved more than ctime');
}

/** After a change behind the index: the next read goes to the store and answers as a direct read does. */
async function checkChanged(t: Tap.Test, root: string, before: unknown, what: string, layerFields: LayerFields = 'all', visible = true) {
  const after = await read(root, layerFields);
  t.equal(after.outcome, 'miss', `${what}: not served from the index`);
  const fresh = await direct(root, layerFields);
  t.strictSame(after.model, fresh, `${what}: the answer is the store's`);
  if (visible) t.notSame(fresh, before, `${what}: the change shows in the answer`);
}

t.test('a quiet store is indexed once and then served; a recent one is not indexed', async (t) => {
  const s = store(t.testdir());
  const first = await read(s.root);
  t.equal(first.outcome, 'miss');
  t.equal(indexFiles().length, 0, 'files changed a moment ago are not trusted: no index written');
  const model = await primed(t, s.root);
  t.ok(model.images.length > 0);
  t.equal(indexFiles().length, 1);
  for (const fields of ['sizes', 'usage'] as const) {
    await read(s.root, fields);
    const again = await read(s.root, fields);
    t.equal(again.outcome, 'hit', `${fields}: its own index`);
    t.strictSame(again.model, await direct(s.root, fields), `${fields}: the store's answer`);
  }
  const slash = await read(`${s.root}/`);
  t.equal(slash.model.root, `${s.root}/`, 'a root spelled otherwise is its own index (paths in warnings keep the spelling)');
});

t.test('images added and removed', async (t) => {
  const s = store(t.testdir());
  let before = await primed(t, s.root);
  const id = s.builder.image({ layers: [s.layers.K1], tags: ['added:1'], comment: 'added' });
  await checkChanged(t, s.root, before, 'an image added');
  before = await primed(t, s.root);
  rmSync(join(s.builder.meta, 'imagedb', 'content', 'sha256', id.slice(7)));
  await checkChanged(t, s.root, before, 'an image removed');
});

t.test('repositories.json retagged in place, same size, old mtime', async (t) => {
  const s = store(t.testdir());
  const before = await primed(t, s.root, 'sizes');
  editInPlace(join(s.builder.meta, 'repositories.json'), (text) => text.replace('"app:1"', '"app:9"'));
  await checkChanged(t, s.root, before, 'a retag', 'sizes');
});

for (const native of ['1', '0']) {
  t.test(`a layerdb size file edited in place with the same length (STRATA_NATIVE=${native}: stat-checked ${native === '1' ? 'on the helpers\' threads' : 'here'})`, async (t) => {
    process.env.STRATA_NATIVE = native;
    t.teardown(() => void delete process.env.STRATA_NATIVE);
    const s = store(t.testdir());
    const before = await primed(t, s.root, 'sizes');
    const file = join(s.builder.meta, 'layerdb', 'sha256', s.layers.L1.chainId.slice(7), 'size');
    editInPlace(file, (text) => text.replace(/^1/, '7'));
    await checkChanged(t, s.root, before, 'a size edited', 'sizes');
  });
}

t.test('an image config edited in place (no longer its digest), and one replaced by a directory', async (t) => {
  const s = store(t.testdir());
  let before = await primed(t, s.root);
  const config = (id: string) => join(s.builder.meta, 'imagedb', 'content', 'sha256', id.slice(7));
  editInPlace(config(s.images.p3), (text) => text.replace('"amd64"', '"arm64"'));
  await checkChanged(t, s.root, before, 'a config corrupted');
  t.ok((await direct(s.root)).unreadable.images.some((u: { id: string }) => u.id === s.images.p3), 'it is unreadable now');
  before = await primed(t, s.root);
  rmSync(config(s.images.x));
  mkdirSync(config(s.images.x));
  await checkChanged(t, s.root, before, 'a config replaced by a directory');
  // The index keeps what could not be read, warnings and all, in order.
  const served = await primed(t, s.root);
  t.ok(served.warnings.length > 1, 'the served model carries the warnings');
});

t.test('a container config corrupted in place, a container removed, a mount record added', async (t) => {
  const s = store(t.testdir());
  let before = await primed(t, s.root);
  const cfg = join(s.root, 'containers', s.containers.c1, 'config.v2.json');
  editInPlace(cfg, (text) => text.slice(0, -1) + ' ');
  await checkChanged(t, s.root, before, 'a container config corrupted');
  before = await primed(t, s.root);
  rmSync(join(s.root, 'containers', s.containers.c2), { recursive: true });
  await checkChanged(t, s.root, before, 'a container removed');
  // A file that was absent when the index was made (a base layer's parent) appears.
  before = await primed(t, s.root);
  writeFileSync(join(s.builder.meta, 'layerdb', 'sha256', s.layers.M1.chainId.slice(7), 'parent'), 'not a digest');
  await checkChanged(t, s.root, before, 'an absent file created');
});

t.test('a file\'s mode changed: a file read alone or a layerdb file (checked in bulk) is read again', async (t) => {
  const { chmodSync } = await import('node:fs');
  const s = store(t.testdir());
  const chmodKeepingTimes = (file: string, mode: number) => {
    const { mtime, atime } = statSync(file);
    chmodSync(file, mode);
    utimesSync(file, atime, mtime);
  };
  let before = await primed(t, s.root);
  chmodKeepingTimes(join(s.builder.meta, 'repositories.json'), 0);
  await checkChanged(t, s.root, before, 'repositories.json mode changed', 'all', process.getuid?.() !== 0);
  before = await primed(t, s.root);
  chmodKeepingTimes(join(s.builder.meta, 'layerdb', 'sha256', s.layers.L2.chainId.slice(7), 'cache-id'), 0);
  const after = await read(s.root);
  t.strictSame(after.model, await direct(s.root), 'a layerdb file\'s mode changed: the answer is the store\'s');
  t.equal(after.outcome, 'miss', 'its ctime moved: the index is not served, root or not');
});

t.test('a truncated or corrupt index is ignored and written anew', async (t) => {
  const s = store(t.testdir());
  await primed(t, s.root, 'usage');
  const before = new Set(indexFiles());
  await read(s.root, 'usage');
  const mine = indexFiles().filter((n) => before.has(n));
  for (const name of mine) truncateSync(join(indexDir, name), 100);
  const r = await read(s.root, 'usage');
  t.equal(r.outcome, 'miss');
  t.strictSame(r.model, await direct(s.root, 'usage'));
  t.equal((await read(s.root, 'usage')).outcome, 'hit', 'rewritten');
  for (const name of mine) writeFileSync(join(indexDir, name), 'garbage');
  t.equal((await read(s.root, 'usage')).outcome, 'miss');
});

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));

function runAsync(args: string[], env: Record<string, string>): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import=tsx', CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ stdout, stderr, code }));
  });
}

t.test('the command line: --no-cache and STRATA_NO_CACHE=1 neither read nor write it; an unwritable cache is silent', async (t) => {
  const own = t.testdir({ file: 'not a directory' });
  const s = store(join(own, 'store'));
  await settle();
  const env = { XDG_CACHE_HOME: join(own, 'c') };
  const expected = runCli(['--root', s.root, 'images', '--tree', '--no-cache'], env);
  t.equal(expected.status, 0, expected.stderr);
  runCli(['--root', s.root, 'images', '--tree'], { ...env, STRATA_NO_CACHE: '1' });
  t.throws(() => readdirSync(join(own, 'c')), 'nothing written to the cache');
  const cached = runCli(['--root', s.root, 'images', '--tree'], env);
  t.strictSame(cached, expected);
  t.equal(readdirSync(join(own, 'c', 'strata')).length, 1, 'a read writes the index');
  t.strictSame(runCli(['--root', s.root, 'images', '--tree'], env), expected, 'served from it, the same');
  const unwritable = runCli(['--root', s.root, 'images', '--tree'], { XDG_CACHE_HOME: join(own, 'file') });
  t.strictSame(unwritable, expected, 'a cache that cannot be written: same output, nothing on stderr');
  // Several readers at once, one cache: each answers the same, and the index they leave is sound.
  const parallel = await Promise.all([1, 2, 3].map(() => runAsync(['--root', s.root, 'df', '--json'], env)));
  const dfExpected = runCli(['--root', s.root, 'df', '--json', '--no-cache'], env);
  for (const p of parallel) t.strictSame({ stdout: p.stdout, stderr: p.stderr }, { stdout: dfExpected.stdout, stderr: dfExpected.stderr });
  t.strictSame(runCli(['--root', s.root, 'df', '--json'], env).stdout, dfExpected.stdout);
});

t.test('a write command drops the store\'s index; the next read is the store\'s', async (t) => {
  const s = store(t.testdir());
  const before = await primed(t, s.root);
  t.ok(indexFiles().length > 0);
  const files = new Set(indexFiles());
  const r = runCli(['--root', s.root, 'rmi', 'ruby:3'], { XDG_CACHE_HOME: cache });
  t.equal(r.status, 0, r.stderr);
  const remaining = readdirSync(indexDir).filter((n) => files.has(n));
  t.equal(remaining.length, files.size - 1, 'this store\'s index removed, the others kept');
  await checkChanged(t, s.root, before, 'after rmi');
});

for (const native of ['1', '0']) t.test(`a large index is checked on two threads; a change in the second half is caught (STRATA_NATIVE=${native}: ${native === '1' ? 'the bulk reads on the helpers\' threads' : 'the second half on a worker'})`, async (t) => {
  process.env.STRATA_NATIVE = native;
  t.teardown(() => void delete process.env.STRATA_NATIVE);
  const { readThroughIndex } = await import('../../inspect/metadata-index.js');
  const { readStoreLogged } = await import('../../inspect/docker/read-store.js');
  const { deserialize } = await import('node:v8');
  const s = store(t.testdir());
  const key = { root: s.root, driver: 'overlay2', layerFields: 'all' as const, parallelStats: 1 };
  const viaIndex = async () => {
    const model = await readThroughIndex(key, (log) => readStoreLogged({ root: s.root, driver: 'overlay2', layerFields: 'all' }, log));
    const outcome = lastIndexOutcome();
    await indexWritesDone();
    return { model: plain(model), outcome };
  };
  await settle();
  await viaIndex();
  const before = await viaIndex();
  t.equal(before.outcome, 'hit');
  t.strictSame(before.model, await direct(s.root));
  // The last file of the last bulk read (imagedb's parents) is in the second half, the worker's.
  const [name] = indexFiles().filter((n) => statSync(join(indexDir, n)).mtimeMs >= Date.now() - 60_000).sort((a, b) => statSync(join(indexDir, b)).mtimeMs - statSync(join(indexDir, a)).mtimeMs);
  const data = deserialize(readFileSync(join(indexDir, name))) as { log: { groups: Array<[string, string[], string[]]> } };
  const [base, names, fileNames] = data.log.groups.at(-1)!;
  const last = join(base, names.at(-1)!, fileNames.at(-1)!);
  t.match(last, /imagedb\/metadata/);
  editInPlace(last, (text) => (text.startsWith('sha256:') ? `sha256:${text[7] === 'a' ? 'b' : 'a'}${text.slice(8)}` : text.replace(/^./, (c) => (c === '1' ? '2' : '1'))));
  const after = await viaIndex();
  t.equal(after.outcome, 'miss', 'caught');
  t.strictSame(after.model, await direct(s.root));
  t.notSame(after.model, before.model);
});
