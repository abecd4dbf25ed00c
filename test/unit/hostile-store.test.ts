// A hostile store: symlinks (and FIFOs, and directories) planted where a layer's files should be, meant to
// make strata read a file of the machine it runs on. For overlay2, vfs and aufs, with the native helpers
// and without them (STRATA_NATIVE=0): no output of diff (exact and --fresh, to a file and to a pipe),
// verify, changes --content or mount --print carries the host file's bytes (or, where strata reads, its
// path); each refusal is one line naming the entry; nothing of the bad entry reaches stdout.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import t, { type Test } from 'tap';
import { nativeHelpers } from '../../native/index.js';
import { buildScriptFlags } from '../helpers/build-flags.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'HOSTSECRET'; // as long as every small file of the layer: only the checks below can stop it
const DRIVERS = ['overlay2', 'vfs', 'aufs'] as const;
type Driver = (typeof DRIVERS)[number];
const MODES = nativeHelpers() ? (['native', 'js'] as const) : (['js'] as const);
type Mode = (typeof MODES)[number];

interface Run {
  stdout: Buffer;
  stderr: string;
  status: number | null;
}

const work = mkdtempSync(join(tmpdir(), 'strata-hostile-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

// The CLI is run some 250 times: bundled from the sources once (as `npm run build` does) it starts in a
// quarter of tsx's time. The native helpers sit beside it, where the bundle looks for them.
const CLI = join(work, 'strata.mjs');
await build({ entryPoints: [join(REPO, 'cli', 'index.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: CLI, logLevel: 'warning', ...buildScriptFlags(REPO), banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
if (existsSync(join(REPO, 'dist', 'strata-native.node'))) cpSync(join(REPO, 'dist', 'strata-native.node'), join(work, 'strata-native.node'));

/** The CLI, stdout kept as bytes (a pipe); two at a time, the machine's cores. */
let running = 0;
const waiting: Array<() => void> = [];
async function strata(mode: Mode, args: string[]): Promise<Run> {
  if (running >= 2) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await new Promise<Run>((resolve, reject) => {
      const env = { ...process.env };
      if (mode === 'js') env.STRATA_NATIVE = '0';
      else delete env.STRATA_NATIVE;
      const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('error', reject);
      child.on('close', (status) => resolve({ stdout: Buffer.concat(out), stderr: err, status }));
    });
  } finally {
    running--;
    waiting.shift()?.();
  }
}

// The host: a file and a directory of the machine strata runs on, holding bytes no layer has.
const host = join(work, 'host');
mkdirSync(join(host, 'dir', 'etc'), { recursive: true });
writeFileSync(join(host, 'secret'), SECRET);
// A copy of layer 1's tree with the secret in every file, sizes kept: a planted layer directory looks right.
writeFileSync(join(host, 'dir', 'v1'), SECRET);
writeFileSync(join(host, 'dir', 'v2'), SECRET);
mkdirSync(join(host, 'dir', 'srv'));
writeFileSync(join(host, 'dir', 'srv', 'v1'), SECRET);
writeFileSync(join(host, 'dir', 'srv', 'v2'), SECRET);
writeFileSync(join(host, 'dir', 'etc', 'hosts'), SECRET + SECRET);
writeFileSync(join(host, 'dir', 'big.bin'), SECRET.repeat(20_000));

/** Layer tars made by GNU tar: layer 1 has srv/v1 and srv/v2 (10 bytes each), layer 2 touches srv/v2 (same bytes, new time). */
function makeTar(name: string, files: Record<string, string>, mtime: number): string {
  const dir = join(work, `${name}-content`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  const tar = join(work, `${name}.tar`);
  execFileSync('tar', ['--sort=name', `--mtime=@${mtime}`, '--owner=0', '--group=0', '--numeric-owner', '-C', dir, '-cf', tar, '.']);
  return tar;
}
const tar1 = makeTar('layer1', { 'srv/v1': 'firstfile.', 'srv/v2': 'layerbytes', 'etc/hosts': '127.0.0.1 localhost\n', 'big.bin': 'b'.repeat(200_000) }, 1_700_000_000);
const tar2 = makeTar('layer2', { 'srv/v2': 'layerbytes', 'new.txt': 'new' }, 1_700_000_500);
const tar1Bytes = readFileSync(tar1);

/** Where each file's content starts in a tar (GNU tar names: "./srv/v2"). */
function contentOffsets(tar: Buffer): Map<string, number> {
  const out = new Map<string, number>();
  for (let off = 0; off + 512 <= tar.length; ) {
    const name = tar.toString('latin1', off, off + 100).replace(/\0.*$/s, '');
    if (name === '') break;
    const size = parseInt(tar.toString('latin1', off + 124, off + 136).replace(/\0.*$/s, '').trim() || '0', 8);
    out.set(name.replace(/^\.\//, ''), off + 512);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}
const offsets = contentOffsets(tar1Bytes);

interface Store {
  root: string;
  driver: Driver;
  chain1: string;
  chain2: string;
  cache1: string;
  cache2: string;
}

const templates = new Map<Driver, Store>();
async function template(driver: Driver): Promise<Store> {
  const known = templates.get(driver);
  if (known) return known;
  const root = join(work, `template-${driver}`);
  const one = await strata('js', ['apply', tar1, '--root', root, '--driver', driver, '--json']);
  if (one.status !== 0) throw new Error(`apply ${tar1}: ${one.stderr}`);
  const l1 = JSON.parse(one.stdout.toString());
  const two = await strata('js', ['apply', tar2, '--root', root, '--parent', l1.chainId, '--json']);
  if (two.status !== 0) throw new Error(`apply ${tar2}: ${two.stderr}`);
  const l2 = JSON.parse(two.stdout.toString());
  const store = { root, driver, chain1: l1.chainId, chain2: l2.chainId, cache1: l1.cacheId, cache2: l2.cacheId };
  templates.set(driver, store);
  return store;
}

let copies = 0;
/** A fresh copy of the driver's store for one hostile case. */
async function storeCopy(driver: Driver): Promise<Store> {
  const tpl = await template(driver);
  const root = join(work, `case-${++copies}-${driver}`);
  cpSync(tpl.root, root, { recursive: true, verbatimSymlinks: true });
  return { ...tpl, root };
}

function contentDir(s: Store, cacheId: string): string {
  return s.driver === 'overlay2' ? join(s.root, 'overlay2', cacheId, 'diff') : s.driver === 'vfs' ? join(s.root, 'vfs', 'dir', cacheId) : join(s.root, 'aufs', 'diff', cacheId);
}

/** Replaces `path` by `what` (a symlink to `target`, a FIFO, or a directory). */
function plant(path: string, what: { symlink: string } | 'fifo' | 'dir'): void {
  rmSync(path, { recursive: true, force: true });
  if (what === 'fifo') execFileSync('mkfifo', [path]);
  else if (what === 'dir') mkdirSync(path);
  else symlinkSync(what.symlink, path);
}

/** Nothing in the output is the host's: not its bytes, and not its path. */
function noHostData(t: Test, r: Run, what: string, opts: { pathToo?: boolean } = {}): void {
  t.notOk(r.stdout.includes(SECRET) || r.stderr.includes(SECRET), `${what}: no host bytes in its output`);
  if (opts.pathToo !== false) t.notOk(r.stdout.includes(host) || r.stderr.includes(host), `${what}: no host path in its output`);
}

/** One line, `strata: error: <file>: <reason>`, naming what `names` matches. */
function refusedNaming(t: Test, r: Run, names: RegExp, what: string): void {
  t.not(r.status, 0, `${what}: fails`);
  const lines = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('strata: warning:'));
  t.equal(lines.length, 1, `${what}: one line (${r.stderr.trim()})`);
  t.match(lines[0] ?? '', /^strata: error: /, `${what}: as a strata error`);
  t.match(lines[0] ?? '', names, `${what}: names the entry`);
  t.notMatch(r.stderr, /^\s+at /m, `${what}: no stack frames`);
}

/** Files left in a directory that hold the secret (an -o temp file, say). */
function secretFilesIn(dir: string): string[] {
  return readdirSync(dir).filter((n) => {
    try {
      return readFileSync(join(dir, n)).includes(SECRET);
    } catch {
      return false;
    }
  });
}

interface Case {
  name: string;
  /** What the error must name. */
  names: RegExp;
  /** The entry whose content must not reach stdout (for the pipe's prefix check); null: the whole layer. */
  entry: string | null;
  plant(s: Store): void;
}

const CASES: Case[] = [
  { name: 'a file replaced by a symlink to a host file', names: /srv\/v2: is a symbolic link/, entry: 'srv/v2', plant: (s) => plant(join(contentDir(s, s.cache1), 'srv', 'v2'), { symlink: join(host, 'secret') }) },
  { name: 'a parent directory replaced by a symlink to a host directory', names: /srv\/v1: reached through a symbolic link \(srv; not followed\)/, entry: 'srv/v1', plant: (s) => plant(join(contentDir(s, s.cache1), 'srv'), { symlink: join(host, 'dir') }) },
  { name: 'the layer directory itself replaced by a symlink', names: /is a symbolic link \(not followed\): a layer directory must be a real directory inside the store/, entry: null, plant: (s) => plant(contentDir(s, s.cache1), { symlink: join(host, 'dir') }) },
  { name: 'a file replaced by a FIFO', names: /srv\/v2: is a FIFO, not a regular file/, entry: 'srv/v2', plant: (s) => plant(join(contentDir(s, s.cache1), 'srv', 'v2'), 'fifo') },
  { name: 'a file replaced by a directory', names: /srv\/v2: is a directory, not a regular file/, entry: 'srv/v2', plant: (s) => plant(join(contentDir(s, s.cache1), 'srv', 'v2'), 'dir') },
];

for (const mode of MODES) {
  for (const driver of DRIVERS) {
    t.test(`${driver} (${mode === 'native' ? 'native helpers' : 'STRATA_NATIVE=0'})`, async (t) => {
      const pristine = await storeCopy(driver);
      await t.test('a sound store first: the exact diff is the applied tar, verify passes, mounts stay inside', async (t) => {
        const r = await strata(mode, ['--root', pristine.root, 'diff', pristine.chain1]);
        t.equal(r.status, 0, r.stderr);
        t.ok(r.stdout.equals(tar1Bytes), 'byte for byte the tar that was applied');
        const v = await strata(mode, ['--root', pristine.root, 'verify', '--json']);
        t.equal(v.status, 0, v.stderr);
        const m = await strata(mode, ['--root', pristine.root, 'mount', pristine.chain2, '/mnt', '--print']);
        t.equal(m.status, 0, m.stderr);
        t.match(m.stdout.toString(), pristine.driver === 'aufs' ? join(pristine.root, 'aufs', 'diff') : pristine.driver === 'vfs' ? join(pristine.root, 'vfs', 'dir') : 'lowerdir=l/');
        t.notOk(m.stdout.includes(host), 'and names nothing outside it');
      });

      await Promise.all(
        CASES.map((c) =>
          t.test(c.name, async (t) => {
            const s = await storeCopy(driver);
            c.plant(s);
            const outDir = join(s.root, '..', `out-${copies}-${mode}`);
            mkdirSync(outDir);
            // Without the native helpers only the commands that read content run again: -o and mount --print
            // take the same JavaScript path either way.
            const all = mode === MODES[0];
            const skipped = Promise.resolve(null);
            const [exactPipe, exactFile, freshPipe, freshFile, verify, changes, mount] = await Promise.all([
              strata(mode, ['--root', s.root, 'diff', s.chain1]),
              all ? strata(mode, ['--root', s.root, 'diff', s.chain1, '-o', join(outDir, 'exact.tar')]) : skipped,
              strata(mode, ['--root', s.root, 'diff', s.chain1, '--fresh']),
              all ? strata(mode, ['--root', s.root, 'diff', s.chain1, '--fresh', '-o', join(outDir, 'fresh.tar')]) : skipped,
              strata(mode, ['--root', s.root, 'verify', '--json']),
              strata(mode, ['--root', s.root, 'changes', s.chain2, '--content']),
              all ? strata(mode, ['--root', s.root, 'mount', driver === 'vfs' ? s.chain1 : s.chain2, '/mnt', '--print']) : skipped,
            ]);

            // The exact rebuild: refused naming the entry, before any of its bytes went out.
            refusedNaming(t, exactPipe, c.names, 'diff (exact) to a pipe');
            noHostData(t, exactPipe, 'diff (exact) to a pipe');
            t.ok(tar1Bytes.subarray(0, exactPipe.stdout.length).equals(exactPipe.stdout), 'what reached the pipe is the start of the real layer tar');
            t.ok(exactPipe.stdout.length <= (c.entry === null ? 0 : offsets.get(c.entry)!), 'and ends before the bad entry\'s content');
            if (exactFile) {
              refusedNaming(t, exactFile, c.names, 'diff (exact) -o');
              noHostData(t, exactFile, 'diff (exact) -o');
              t.notOk(existsSync(join(outDir, 'exact.tar')), 'no tar was left at -o');
              t.same(secretFilesIn(outDir), [], 'nor any file holding host bytes');
            }

            // A fresh export reads the layer as it is: a planted symlink, FIFO or directory is exported as what
            // it is (layer content, as Docker would); nothing is read through it, and a planted layer directory is refused.
            for (const [r, what] of [[freshPipe, 'diff --fresh to a pipe'], [freshFile, 'diff --fresh -o']] as const) {
              if (!r) continue;
              noHostData(t, r, what, { pathToo: c.entry === null });
              if (c.entry === null) refusedNaming(t, r, c.names, what);
              else t.equal(r.status, 0, `${what}: exports the entry as what it is (${r.stderr.trim()})`);
            }
            t.same(secretFilesIn(outDir), [], 'no -o file holds host bytes');

            // verify: the layer fails, naming the entry.
            t.equal(verify.status, 1, 'verify exits 1');
            noHostData(t, verify, 'verify');
            const layer1 = (JSON.parse(verify.stdout.toString()) as Array<{ chainId: string; ok: boolean | null; problem: string | null }>).find((l) => l.chainId === s.chain1);
            t.equal(layer1?.ok, false, 'verify: the planted layer fails');
            t.match(layer1?.problem ?? '', c.names, 'verify: naming the entry');

            // changes --content compares layer 2 with layer 1: a planted entry is a change of type, never read.
            noHostData(t, changes, 'changes --content');
            if (c.entry === null) refusedNaming(t, changes, /is a symbolic link \(not followed\): a layer directory must be a real directory inside the store/, 'changes --content');
            else t.equal(changes.status, 0, `changes --content: answers (${changes.stderr.trim()})`);

            // mount --print: a planted layer directory is never named in a mount description.
            if (mount) {
              noHostData(t, mount, 'mount --print');
              if (c.entry === null) refusedNaming(t, mount, /is a symbolic link \(not followed\): a layer directory must be a real directory inside the store/, 'mount --print');
              else t.equal(mount.status, 0, `mount --print: the layer directories are sound (${mount.stderr.trim()})`);
            }
          }),
        ),
      );

      await t.test('mount --print never names a lower directory outside the store', { skip: mode !== MODES[0] && 'the same JavaScript path as with the native helpers' }, async (t) => {
        const plants: Array<{ what: string; names: RegExp; plant(s: Store): void }> = [];
        if (driver === 'overlay2') {
          const link = (s: Store) => join(s.root, 'overlay2', 'l', readFileSync(join(s.root, 'overlay2', s.cache1, 'link'), 'utf8').trim());
          plants.push(
            { what: 'an l/ link to a host directory', names: /\/overlay2\/l\/\w+: does not point to a layer's diff directory/, plant: (s) => plant(link(s), { symlink: join(host, 'dir') }) },
            { what: 'an l/ link climbing out relatively', names: /\/overlay2\/l\/\w+: does not point to a layer's diff directory/, plant: (s) => plant(link(s), { symlink: `../../../host/dir` }) },
            { what: "an l/ link to another place of the store", names: /\/overlay2\/l\/\w+: does not point to a layer's diff directory/, plant: (s) => plant(link(s), { symlink: `../${s.cache1}/work` }) },
            { what: 'a lower file naming a path instead of a link', names: /\/lower: names "\.\.\/\.\.\/host\/dir", not a short link/, plant: (s) => writeFileSync(join(s.root, 'overlay2', s.cache2, 'lower'), '../../host/dir') },
            {
              what: "an l/ link to a layer whose diff is a symlink",
              names: /\/overlay2\/l\/\w+: points to \.\.\/\w+\/diff, and is a symbolic link \(not followed\)/,
              plant: (s) => plant(join(s.root, 'overlay2', s.cache1, 'diff'), { symlink: join(host, 'dir') }),
            },
          );
        }
        if (driver === 'aufs') {
          plants.push(
            { what: 'a layers file naming a path', names: /\/aufs\/layers\/\w+: lists "\.\.\/\.\.\/\.\.\/host\/dir", not a layer id/, plant: (s) => writeFileSync(join(s.root, 'aufs', 'layers', s.cache2), '../../../host/dir\n') },
            { what: 'a branch directory replaced by a symlink', names: /\/aufs\/diff\/\w+: is a symbolic link \(not followed\)/, plant: (s) => plant(contentDir(s, s.cache1), { symlink: join(host, 'dir') }) },
          );
        }
        if (driver === 'vfs') {
          plants.push({ what: 'vfs/dir itself replaced by a symlink', names: /\/vfs\/dir: is a symbolic link \(not followed\)/, plant: (s) => {
            const dir = join(s.root, 'vfs', 'dir');
            renameSync(dir, join(s.root, 'vfs-dir-moved'));
            symlinkSync(join(s.root, 'vfs-dir-moved'), dir);
          } });
        }
        for (const p of plants) {
          const s = await storeCopy(driver);
          p.plant(s);
          const m = await strata(mode, ['--root', s.root, 'mount', driver === 'vfs' ? s.chain1 : s.chain2, '/mnt', '--print']);
          refusedNaming(t, m, p.names, `${p.what}: mount --print`);
          noHostData(t, m, `${p.what}: mount --print`);
          t.equal(m.stdout.length, 0, `${p.what}: no description printed`);
        }
      });
    });
  }
}

// What a race could do between a fresh export's walk and its reads (the walk saw a regular file; by the
// time it is read, a symlink or a FIFO stands there), held against the readers themselves.
for (const mode of MODES) {
  t.test(`the readers refuse an entry swapped after the walk (${mode === 'native' ? 'native helpers' : 'STRATA_NATIVE=0'})`, async (t) => {
    if (mode === 'js') process.env.STRATA_NATIVE = '0';
    t.teardown(() => void delete process.env.STRATA_NATIVE);
    const { ChunkBuilder, bytesOf } = await import('../../drivers/archive/chunks.js');
    const { openLayerDir } = await import('../../native/open-beneath.js');
    const { writeToFd } = await import('../../inspect/layer-export.js');
    const { openDriver } = await import('../../drivers/index.js');
    const { contentHash } = await import('../../snapshots/content-hash.js');
    const s = await storeCopy('overlay2');
    const diff = contentDir(s, s.cache1);
    plant(join(diff, 'srv', 'v2'), { symlink: join(host, 'secret') });
    plant(join(diff, 'etc'), { symlink: join(host, 'dir', 'etc') });
    execFileSync('mkfifo', [join(diff, 'fifo')]);
    const layer = openLayerDir(s.root, ['overlay2', s.cache1, 'diff']);
    t.teardown(() => layer.close());

    const read = (name: string, size: number) => [...new ChunkBuilder().readFile(layer, Buffer.from(name), size)];
    t.throws(() => read('srv/v2', 10), { name: 'LayerEntryError', message: `${join(diff, 'srv', 'v2')}: is a symbolic link, not a regular file (not read)` });
    t.throws(() => read('etc/hosts', 20), { name: 'LayerEntryError', message: `${join(diff, 'etc', 'hosts')}: reached through a symbolic link (etc; not followed)` });
    t.throws(() => read('fifo', 10), { message: `${join(diff, 'fifo')}: is a FIFO, not a regular file (not read)` }, 'a FIFO is refused, not waited on');
    t.throws(() => read('srv/v1', 11), { name: 'ShrunkFileError' }, 'a file shorter than its header is refused before it is read');
    const sound = new ChunkBuilder();
    const got = [...sound.readFile(layer, Buffer.from('./srv//v1'), 10), ...sound.finish()];
    t.equal(Buffer.concat(got as Buffer[]).toString(), 'firstfile.', 'a regular file of the layer is read');

    // Plans: the JavaScript reader of a plan and the native writer refuse the same entries.
    for (const name of ['srv/v2', 'etc/hosts', 'fifo']) {
      const builder = new ChunkBuilder(true);
      const pieces = [...builder.add(Buffer.from('header')), ...builder.passFile(layer, Buffer.from(name), 10), ...builder.finish()];
      t.throws(() => pieces.forEach((p) => [...bytesOf(p)]), new RegExp(`${name}: `), `${name}: a plan read in JavaScript refuses it`);
      if (mode !== 'native') continue;
      const out = join(work, `plan-${name.replace('/', '-')}`);
      const fd = (await import('node:fs')).openSync(out, 'w');
      await t.rejects(writeToFd(fd, (async function* () { yield* pieces; })()), new RegExp(`${name}: `), `${name}: the native writer refuses it`);
      (await import('node:fs')).closeSync(fd);
      t.equal(readFileSync(out, 'utf8'), 'header', `${name}: and wrote nothing of it`);
    }

    // changes --content: the driver opens what its views hand out beneath the layer they lie in.
    const driver = openDriver('overlay2', s.root)!;
    const good = await contentHash(Buffer.from(join(diff, 'srv', 'v1')), (p) => driver.openViewEntry(p));
    t.match(good, /^[0-9a-f]{16}$/, 'a file of a layer is hashed');
    await t.rejects(contentHash(Buffer.from(join(diff, 'etc', 'hosts')), (p) => driver.openViewEntry(p)), /reached through a symbolic link \(etc; not followed\)/);
    await t.rejects(contentHash(Buffer.from(join(diff, 'srv', 'v2')), (p) => driver.openViewEntry(p)), /is a symbolic link, not a regular file/);
    await t.rejects(contentHash(Buffer.from(join(host, 'secret')), (p) => driver.openViewEntry(p)), /not inside a layer directory/);
    await t.rejects(contentHash(Buffer.from(join(s.root, 'overlay2', s.cache1, 'link')), (p) => driver.openViewEntry(p)), /not inside a layer directory/, 'nor anything of the store that is no layer content');
    await t.rejects(contentHash(Buffer.from(join(diff, 'srv', 'v2'))), /is a symbolic link, not a regular file/, 'the default opener follows no symlink either');
  });
}
