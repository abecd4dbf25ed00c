// Writes go only where they belong: load, apply and demo refuse a root holding another driver's store,
// demo --dir a directory that is not new or empty, apply a whole image archive; a failed load removes
// exactly what it created; one writer at a time through the root's write lock; and the stale temporary
// entries of a killed writer are removed by the next one, and only those.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { contentPadding, encodeHeader, END_OF_ARCHIVE, TYPE, type TarHeader } from '../../drivers/archive/tar-header.js';
import { imageArchiveKind, refusingImageArchives } from '../../inspect/image-archive-sniff.js';
import { openForWrite } from '../../inspect/open-for-write.js';
import { acquireWriteLock, WRITE_LOCK_NAME } from '../../inspect/write-lock.js';
import { bootId, isStaleTemp, parseTempName, tempName } from '../../native/temp-names.js';
import { runCli } from '../helpers/run-cli.js';

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

type Entry = Partial<TarHeader> & { name: string; body?: string | Buffer };

function tarOf(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    parts.push(encodeHeader({ type: TYPE.file, mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, size: body.length, ...e }));
    if (body.length) parts.push(body, contentPadding(body.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

interface ImageSpec {
  layers: Buffer[];
  tags: string[];
  /** DiffIDs to write into the config instead of the layers' own (to make a load fail). */
  diffIds?: string[];
}

/** A docker save archive (the layout of dockerd 20.10, entries in its order: layer dirs, configs, manifest.json). */
function saveArchive(file: string, images: ImageSpec[]): string {
  const layerEntries: Entry[] = [];
  const configEntries: Entry[] = [];
  const manifest = images.map((image) => {
    const diffIds = image.diffIds ?? image.layers.map((l) => `sha256:${sha(l)}`);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds }, history: image.layers.map(() => ({ created_by: 'test' })) }));
    const configName = `${sha(config)}.json`;
    configEntries.push({ name: configName, body: config });
    const layerNames = image.layers.map((layer, i) => {
      const id = sha(`${configName}/${i}`);
      layerEntries.push({ name: `${id}/`, type: TYPE.dir, mode: 0o755 }, { name: `${id}/VERSION`, body: '1.0' }, { name: `${id}/json`, body: '{}' }, { name: `${id}/layer.tar`, body: layer });
      return `${id}/layer.tar`;
    });
    return { Config: configName, RepoTags: image.tags, Layers: layerNames };
  });
  writeFileSync(file, tarOf([...layerEntries, ...configEntries, { name: 'manifest.json', body: JSON.stringify(manifest) }]));
  return file;
}

const BASE = tarOf([{ name: 'etc/', type: TYPE.dir, mode: 0o755 }, { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\n' }]);
const MIDDLE = tarOf([{ name: 'app/', type: TYPE.dir, mode: 0o755 }, { name: 'app/version.txt', body: 'middle\n' }]);
const TOP = tarOf([{ name: 'app/top.txt', body: 'top\n' }]);

/** Every path under `dir` with what it is (type, mode, owner, size, content digest or link target): a store's whole state but times. */
function treeState(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const path = join(dir, rel);
    const st = lstatSync(path);
    const what = st.isSymbolicLink() ? `-> ${readlinkSync(path)}` : st.isFile() ? sha(readFileSync(path)) : st.isDirectory() ? 'dir' : `dev ${st.rdev}`;
    out.push(`${rel} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what}`);
    if (st.isDirectory()) for (const name of readdirSync(path).sort()) walk(rel ? `${rel}/${name}` : name);
  };
  walk('');
  return out;
}

/** A pid no process has now. */
function deadPid(): number {
  const r = spawnSync('true');
  return r.pid!;
}

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('strata: error:'));

t.test('load, apply and demo refuse a root that holds another driver\'s store, naming both drivers', async (t) => {
  const dir = t.testdir({});
  const root = join(dir, 'root');
  const archive = saveArchive(join(dir, 'a.tar'), [{ layers: [BASE], tags: ['base:1'] }]);
  t.equal(runCli(['load', archive, '--root', root]).status, 0);
  const before = treeState(root);
  const layerTar = join(dir, 'layer.tar');
  writeFileSync(layerTar, TOP);
  for (const [what, args] of [
    ['load --driver vfs', ['load', archive, '--root', root, '--driver', 'vfs']],
    ['apply --driver vfs', ['apply', layerTar, '--root', root, '--driver', 'vfs']],
    ['load --driver aufs', ['load', archive, '--root', root, '--driver', 'aufs']],
  ] as const) {
    const r = runCli([...args]);
    t.equal(r.status, 1, what);
    t.same(errorLines(r.stderr), [`strata: error: ${root}: holds a store of the overlay2 driver; strata will not build one of the ${args[args.length - 1]} driver beside it (dockerd refuses a root with two). Leave out --driver to write to the overlay2 store, or name another --root`], `${what}: one line naming both drivers`);
    t.same(treeState(root), before, `${what}: nothing written`);
  }
  const demo = runCli(['demo', '--dir', root]);
  t.equal(demo.status, 1);
  t.same(errorLines(demo.stderr), [`strata: error: ${root}: not empty (demo --dir builds a new store: name a new or empty directory)`]);
  t.same(treeState(root), before, 'demo: nothing written');
  // Without --driver, the store's own driver is written.
  t.equal(runCli(['apply', layerTar, '--root', root]).status, 0);
  t.notOk(existsSync(join(root, 'image', 'vfs')) || existsSync(join(root, 'vfs')));
});

t.test('only a session opened besideOtherDriver (migrate --in-place) builds a second driver\'s store', async (t) => {
  const dir = t.testdir({});
  const root = join(dir, 'root');
  t.equal(runCli(['load', saveArchive(join(dir, 'a.tar'), [{ layers: [BASE], tags: ['base:1'] }]), '--root', root]).status, 0);
  const before = treeState(root);
  t.throws(() => openForWrite(root, { command: 'test', driver: 'vfs' }), /holds a store of the overlay2 driver/);
  t.same(treeState(root), before);
  const session = openForWrite(root, { command: 'migrate', driver: 'vfs', besideOtherDriver: true });
  t.equal(session.driver.name, 'vfs');
  t.ok(existsSync(join(root, 'image', 'vfs', 'layerdb')));
  session.close();
  t.same(treeState(root), before, 'an uncommitted session removes the image/vfs it created');
});

t.test('demo --dir refuses a file and a non-empty directory, and builds into a new or empty one', async (t) => {
  const dir = t.testdir({ file: 'x', full: { keep: 'me' }, empty: {} });
  const onFile = runCli(['demo', '--dir', join(dir, 'file')]);
  t.equal(onFile.status, 1);
  t.same(errorLines(onFile.stderr), [`strata: error: ${join(dir, 'file')}: not a directory (demo --dir builds a new store: name a new or empty directory)`]);
  t.notMatch(onFile.stderr, /    at /);
  t.equal(readFileSync(join(dir, 'file'), 'utf8'), 'x');
  const onFull = runCli(['demo', '--dir', join(dir, 'full')]);
  t.equal(onFull.status, 1);
  t.match(onFull.stderr, /full: not empty/);
  t.same(readdirSync(join(dir, 'full')), ['keep']);
  const r = runCli(['demo', '--dir', join(dir, 'empty')]);
  t.equal(r.status, 0, r.stderr);
  t.same(readdirSync(join(dir, 'empty')).sort(), ['image', 'vfs'], 'only the store: no archive, no lock, no temp entry left in it');
});

t.test('apply recognises a docker save archive or an OCI layout and says to use strata load', async (t) => {
  const dir = t.testdir({});
  const root = join(dir, 'root');
  t.equal(runCli(['load', saveArchive(join(dir, 'a.tar'), [{ layers: [BASE], tags: ['base:1'] }]), '--root', root]).status, 0);
  const before = treeState(root);
  const blob = (s: string) => sha(s);
  const archives: Record<string, { tar: Buffer; kind: RegExp }> = {
    'docker save (dockerd 20.10 order: layer directories first)': { tar: readFileSync(saveArchive(join(dir, 'save.tar'), [{ layers: [MIDDLE, TOP], tags: ['app:1'] }])), kind: /a docker save archive \([0-9a-f]{64}\/VERSION\)/ },
    'docker save with manifest.json first': {
      tar: tarOf([{ name: 'manifest.json', body: JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l/layer.tar'] }]) }, { name: 'c.json', body: '{}' }, { name: 'l/layer.tar', body: TOP }]),
      kind: /a docker save archive \(manifest\.json\)/,
    },
    'OCI layout, index.json first': {
      tar: tarOf([{ name: './', type: TYPE.dir, mode: 0o755 }, { name: './index.json', body: JSON.stringify({ schemaVersion: 2, manifests: [] }) }, { name: './oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' }]),
      kind: /an OCI image layout \(index\.json\)/,
    },
    'OCI layout, oci-layout first': { tar: tarOf([{ name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' }, { name: 'blobs/', type: TYPE.dir, mode: 0o755 }]), kind: /an OCI image layout \(oci-layout\)/ },
    'OCI layout, blobs first (docker save 25)': {
      tar: tarOf([{ name: 'blobs/', type: TYPE.dir, mode: 0o755 }, { name: 'blobs/sha256/', type: TYPE.dir, mode: 0o755 }, { name: `blobs/sha256/${blob('x')}`, body: TOP }, { name: 'index.json', body: '{"manifests":[]}' }]),
      kind: /an OCI image layout \(blobs\/sha256\/[0-9a-f]{64}\)/,
    },
  };
  for (const [what, { tar, kind }] of Object.entries(archives)) {
    const file = join(dir, 'archive.tar');
    writeFileSync(file, tar);
    const r = runCli(['apply', file, '--root', root]);
    t.equal(r.status, 1, what);
    const lines = errorLines(r.stderr);
    t.equal(lines.length, 1, `${what}: one line`);
    t.match(lines[0], new RegExp(`^strata: error: ${file}: `), `${what}: names the file`);
    t.match(lines[0], kind, `${what}: says what it is`);
    t.match(lines[0], /not a layer tar: load it with `strata load`$/, `${what}: says to use load`);
    t.same(treeState(root), before, `${what}: no layer applied, none leaked`);
  }
  // Layers that merely hold such names are layers.
  const layers = {
    'a layer with app/manifest.json': tarOf([{ name: 'app/', type: TYPE.dir, mode: 0o755 }, { name: 'app/manifest.json', body: '[{"Config":"c","Layers":[]}]' }]),
    'a layer with a top-level manifest.json of its own': tarOf([{ name: 'manifest.json', body: '{"name":"my-web-app","version":"1.0.0"}' }, { name: 'index.json', body: '{"pages":[]}' }]),
  };
  for (const [what, tar] of Object.entries(layers)) {
    const file = join(dir, 'layer.tar');
    writeFileSync(file, tar);
    const r = runCli(['apply', file, '--root', root]);
    t.equal(r.status, 0, `${what}: applied ${r.stderr}`);
    t.equal(r.stdout.trim(), `sha256:${sha(tar)}`, `${what}: a base layer whose ChainID is its DiffID`);
  }
});

t.test('the archive check passes a layer through unchanged, reading it once', async (t) => {
  const big = tarOf([{ name: 'data.bin', body: Buffer.alloc(300_000, 7) }, { name: 'etc/', type: TYPE.dir, mode: 0o755 }]);
  let reads = 0;
  const once = {
    [Symbol.asyncIterator]() {
      if (reads++) throw new Error('read twice');
      return Readable.from([big.subarray(0, 1000), big.subarray(1000, 70_000), big.subarray(70_000)])[Symbol.asyncIterator]();
    },
  };
  const out: Buffer[] = [];
  for await (const chunk of refusingImageArchives(once as AsyncIterable<Buffer>, 'layer.tar')) out.push(chunk);
  t.ok(Buffer.concat(out).equals(big), 'the same bytes');
  t.equal(reads, 1);
  t.equal(await imageArchiveKind(Buffer.alloc(0)), null, 'an empty input is not an archive');
  t.equal(await imageArchiveKind(Buffer.from('not a tar at all'.repeat(64))), null, 'garbage is left for apply to refuse');
});

for (const driver of ['overlay2', 'vfs']) {
  t.test(`${driver}: a load that fails midway removes exactly what it created`, async (t) => {
    const dir = t.testdir({});
    const wrongTop = `sha256:${sha('not the top layer')}`;
    const failing = saveArchive(join(dir, 'failing.tar'), [
      { layers: [BASE, MIDDLE], tags: ['ok:1'] },
      { layers: [BASE, MIDDLE, TOP], tags: ['broken:1'], diffIds: [`sha256:${sha(BASE)}`, `sha256:${sha(MIDDLE)}`, wrongTop] },
    ]);
    const hashes = new RegExp(`layer\\.tar hashes to sha256:${sha(TOP)}, but the image config says ${wrongTop}`);

    // into a new root (and a missing parent of it): nothing is left, not even the root
    const newRoot = join(dir, 'new', 'deeper', 'root');
    const r = runCli(['load', failing, '--root', newRoot, '--driver', driver]);
    t.equal(r.status, 1);
    t.equal(errorLines(r.stderr).length, 1);
    t.match(r.stderr, hashes);
    t.notOk(existsSync(join(dir, 'new')), 'the directories load created are gone');

    // into an existing empty directory: it is empty again
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    t.equal(runCli(['load', failing, '--root', empty, '--driver', driver]).status, 1);
    t.same(readdirSync(empty), [], 'no image/, no driver directory, no lock');

    // into an existing store holding the base layer: the store is as it was, file for file
    const store = join(dir, 'store');
    t.equal(runCli(['load', saveArchive(join(dir, 'base.tar'), [{ layers: [BASE], tags: ['base:1'] }]), '--root', store, '--driver', driver]).status, 0);
    const before = treeState(store);
    const f = runCli(['load', failing, '--root', store]);
    t.equal(f.status, 1);
    t.match(f.stderr, hashes);
    // overlay2 marks a layer read-only ("committed") once one is built on it, and keeps the mark when that
    // one goes, as dockerd's Create and Remove do: the base is an image layer either way.
    const committedMark = (line: string) => !/^overlay2\/[0-9a-f]{64}\/committed /.test(line);
    t.same(treeState(store).filter(committedMark), before.filter(committedMark), 'the layers applied in the run are gone, the base layer and its tag stay');
    t.same(JSON.parse(runCli(['images', '--root', store, '--json']).stdout).map((i: { repoTags: string[] }) => i.repoTags), [['base:1']], 'ok:1 was not tagged: a failed load tags nothing');

    // the same archive without the broken image loads
    const fixed = saveArchive(join(dir, 'fixed.tar'), [{ layers: [BASE, MIDDLE], tags: ['ok:1'] }]);
    t.equal(runCli(['load', fixed, '--root', store]).status, 0);
    t.equal(JSON.parse(runCli(['verify', '--root', store, '--json']).stdout).filter((v: { ok: boolean }) => v.ok).length, 2);
  });
}

t.test('the write lock: one writer at a time, a stale lock taken over, released on every path', async (t) => {
  const root = t.testdir({});
  const file = join(root, WRITE_LOCK_NAME);
  const lock = acquireWriteLock(root, 'load');
  t.same(JSON.parse(readFileSync(file, 'utf8')).pid, process.pid);
  t.throws(() => acquireWriteLock(root, 'apply'), { message: `${file}: another strata load (pid ${process.pid}) is writing to this store; wait for it to finish` });
  lock.release();
  t.notOk(existsSync(file));
  t.same(readdirSync(root), [], 'no staging entry left');

  const stale = {
    'a writer that is gone': { pid: deadPid(), bootId: bootId(), startTime: '1', command: 'load', nonce: 'a' },
    'another boot (or machine)': { pid: process.pid, bootId: 'ffffffff' === bootId() ? 'eeeeeeee' : 'ffffffff', startTime: '1', command: 'load', nonce: 'b' },
    'a reused pid': { pid: process.pid, bootId: bootId(), startTime: '1', command: 'load', nonce: 'c' },
  };
  for (const [what, holder] of Object.entries(stale)) {
    writeFileSync(file, JSON.stringify(holder));
    const taken = acquireWriteLock(root, 'apply');
    t.equal(JSON.parse(readFileSync(file, 'utf8')).command, 'apply', `${what}: taken over`);
    taken.release();
  }
  writeFileSync(file, 'garbage');
  acquireWriteLock(root, 'apply').release();
  t.same(readdirSync(root), [], 'an unreadable lock is taken over too');
});

t.test('write commands take the lock; a live one refuses them in one line naming the pid; read commands ignore it', async (t) => {
  const dir = t.testdir({});
  const root = join(dir, 'root');
  const archive = saveArchive(join(dir, 'a.tar'), [{ layers: [BASE], tags: ['base:1'] }]);
  t.equal(runCli(['load', archive, '--root', root]).status, 0);
  t.notOk(existsSync(join(root, WRITE_LOCK_NAME)), 'released after a load');
  const layerTar = join(dir, 'layer.tar');
  writeFileSync(layerTar, TOP);
  const held = acquireWriteLock(root, 'load');
  t.teardown(() => held.release());
  const before = treeState(root);
  for (const args of [['load', archive], ['apply', layerTar]]) {
    const r = runCli([...args, '--root', root]);
    t.equal(r.status, 1, args[0]);
    t.same(errorLines(r.stderr), [`strata: error: ${join(root, WRITE_LOCK_NAME)}: another strata load (pid ${process.pid}) is writing to this store; wait for it to finish`]);
    t.same(treeState(root), before, `${args[0]}: nothing written`);
  }
  const images = runCli(['images', '--root', root, '--json']);
  t.equal(images.status, 0, 'a read command runs while a writer holds the lock');
  held.release();
  // released on failure as well
  t.equal(runCli(['apply', join(dir, 'missing.tar'), '--root', root]).status, 1);
  t.equal(runCli(['load', archive, '--root', root, '--driver', 'vfs']).status, 1);
  t.notOk(existsSync(join(root, WRITE_LOCK_NAME)), 'released after failures');
  t.equal(runCli(['apply', layerTar, '--root', root]).status, 0);
});

t.test('temp names carry pid and boot id; stale ones are the ones whose writer is gone', async (t) => {
  const name = tempName('abc');
  t.match(name, new RegExp(`^\\.strata-tmp-${process.pid}-${bootId()}-[0-9a-f]{8}-abc$`));
  t.same(parseTempName(name), { pid: process.pid, bootId: bootId(), what: 'abc' });
  t.equal(isStaleTemp(parseTempName(name)!), false, 'this process\'s own');
  t.equal(isStaleTemp({ pid: deadPid(), bootId: bootId(), what: '' }), true, 'a writer that is gone');
  t.equal(isStaleTemp({ pid: process.ppid, bootId: bootId() === 'ffffffff' ? 'eeeeeeee' : 'ffffffff', what: '' }), true, 'another boot');
  t.equal(isStaleTemp(parseTempName(`.strata-tmp-${'a'.repeat(64)}`)!), true, 'a name from before pids were recorded');
  t.equal(parseTempName('.strata-migrate-journal'), null, 'a migration\'s journal is not a temp entry');
  t.equal(parseTempName('write-set-123'), null, 'nor is Docker\'s write-set');
});

t.test('the next write command removes stale strata temp entries, and only those', async (t) => {
  const dir = t.testdir({});
  const root = join(dir, 'root');
  const archive = saveArchive(join(dir, 'a.tar'), [{ layers: [BASE], tags: ['base:1'] }]);
  t.equal(runCli(['load', archive, '--root', root]).status, 0);
  const meta = join(root, 'image', 'overlay2');
  const dead = deadPid();
  const otherBoot = bootId() === 'ffffffff' ? 'eeeeeeee' : 'ffffffff';
  const imageHex = readdirSync(join(meta, 'imagedb', 'content', 'sha256'))[0];
  mkdirSync(join(meta, 'imagedb', 'metadata', 'sha256', imageHex), { recursive: true });
  const stale = [
    join(root, 'overlay2', `.strata-tmp-${dead}-${bootId()}-0000aaaa-${'c'.repeat(64)}`),
    join(root, 'overlay2', `.strata-tmp-${'d'.repeat(64)}`),
    join(meta, `.strata-tmp-${dead}-${bootId()}-0000bbbb-repositories.json`),
    join(meta, 'imagedb', 'content', 'sha256', `.strata-tmp-${process.pid}-${otherBoot}-0000cccc-${imageHex}`),
    join(meta, 'imagedb', 'metadata', 'sha256', imageHex, `.strata-tmp-${dead}-${bootId()}-0000dddd-lastUpdated`),
    join(root, `.strata-tmp-${dead}-${bootId()}-0000eeee-write-lock`),
  ];
  const kept = [
    // a live writer's (this test process's) entry, Docker's write-set, a resumable migration's journal
    join(root, 'overlay2', `.strata-tmp-${process.pid}-${bootId()}-0000ffff-${'e'.repeat(64)}`),
    join(meta, 'layerdb', 'tmp', 'write-set-123456'),
    join(root, 'overlay2', '.strata-migrate-journal'),
  ];
  for (const path of [...stale, ...kept]) {
    if (path.includes('.json') || path.includes('lastUpdated') || path.endsWith(imageHex) || path.endsWith('write-lock')) writeFileSync(path, 'partial');
    else {
      mkdirSync(join(path, 'diff', 'usr'), { recursive: true });
      writeFileSync(join(path, 'diff', 'usr', 'half-written'), 'x');
    }
  }
  const r = runCli(['load', archive, '--root', root]);
  t.equal(r.status, 0, r.stderr);
  t.same(stale.filter((p) => existsSync(p)), [], 'every stale entry removed');
  t.same(kept.filter((p) => !existsSync(p)), [], 'nothing else removed');
});

/**
 * Starts a load of a base layer and a 20,000-file layer into a new root; resolves once the big layer is
 * being applied (its temp directory has files), the base layer recorded already.
 */
async function loadCaughtApplying(t: Test) {
  const dir = t.testdir({});
  const root = join(dir, 'root');
  const files: Entry[] = [{ name: 'many/', type: TYPE.dir, mode: 0o755 }];
  for (let i = 0; i < 20_000; i++) files.push({ name: `many/f${i}`, body: `file ${i}\n` });
  const archive = saveArchive(join(dir, 'big.tar'), [{ layers: [BASE, tarOf(files)], tags: ['big:1'] }]);
  const child = spawn(process.execPath, ['--import=tsx', CLI, 'load', archive, '--root', root], { stdio: 'ignore' });
  const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  /** The temp directories of layers being applied that have files in them. */
  const partial = () => {
    try {
      return readdirSync(join(root, 'overlay2')).filter((n) => n.startsWith('.strata-tmp-') && readdirSync(join(root, 'overlay2', n, 'diff', 'many')).length > 0);
    } catch {
      return [];
    }
  };
  for (let waited = 0; partial().length === 0 && waited < 60_000; waited += 5) await new Promise((r) => setTimeout(r, 5));
  t.ok(partial().length > 0, 'the big layer is being applied');
  return { root, archive, child, exited, partial };
}

t.test('a load killed with SIGKILL while it applies, then run again, finishes and leaves no temp entry', async (t) => {
  const { root, archive, child, exited, partial } = await loadCaughtApplying(t);
  child.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL');
  const leftovers = partial();
  t.equal(leftovers.length, 1, 'the killed run left its partial layer');
  t.match(leftovers[0], new RegExp(`^\\.strata-tmp-${child.pid}-${bootId()}-`), 'named for the killed writer');
  t.ok(existsSync(join(root, WRITE_LOCK_NAME)), 'and its lock');

  const again = runCli(['load', archive, '--root', root]);
  t.equal(again.status, 0, again.stderr);
  t.match(again.stdout, /Loaded image: big:1/);
  t.same(readdirSync(join(root, 'overlay2')).filter((n) => n.startsWith('.strata-tmp-')), [], 'the stale partial layer is gone');
  t.notOk(existsSync(join(root, WRITE_LOCK_NAME)));
  const verify = JSON.parse(runCli(['verify', '--root', root, '--json']).stdout);
  t.same(verify.map((v: { ok: boolean }) => v.ok), [true, true], 'both layers rebuild to their DiffIDs');
});

t.test('a load interrupted with SIGINT while it applies undoes what it created, as a failed load does', async (t) => {
  const { root, child, exited } = await loadCaughtApplying(t);
  child.kill('SIGINT');
  t.equal(await exited, 'SIGINT', 'the signal still ends the process');
  t.notOk(existsSync(root), 'the root it created is gone: nothing it recorded stays behind');
});
