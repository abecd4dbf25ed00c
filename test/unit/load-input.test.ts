// strata load's inputs, as docker load takes them: -i FILE, the positional archive, stdin (a pipe or a
// redirected file), each plain or gzip/bzip2/xz/zstd-compressed; a terminal as stdin refused in docker's
// words; a truncated gzip refused in one line leaving nothing behind; -q; docker's "Loaded image" lines.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { encodeHeader, END_OF_ARCHIVE, TYPE } from '../../drivers/archive/tar-header.js';
import { loadMessages } from '../../inspect/load.js';
import { cliJson, runCli } from '../helpers/run-cli.js';

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

const base = t.testdir();
const archive = join(base, 'demo.tar');
writeFileSync(archive, Buffer.from(readFileSync(join(REPO, 'inspect', 'demo', 'demo-images.tar.b64'), 'utf8').replace(/\s+/g, ''), 'base64'));
const plain = readFileSync(archive);

/** The archive in each compression docker load accepts, made with the system's tools (as a user would). */
const COMPRESSED: Record<string, Buffer> = {
  plain,
  gzip: gzipSync(plain),
  bzip2: execFileSync('bzip2', ['-c'], { input: plain }),
  xz: execFileSync('xz', ['-c'], { input: plain }),
  zstd: execFileSync('zstd', ['-q', '-c'], { input: plain }),
};

/** strata with `input` piped into its stdin. */
function piped(args: string[], input: Buffer) {
  const r = spawnSync(process.execPath, ['--import=tsx', CLI, ...args], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

type Listed = Array<{ id: string; repoTags: string[] }>;
const listing = (root: string) =>
  (cliJson(['images', '-a', '--root', root]) as Listed).map((i) => `${i.id} ${[...i.repoTags].sort().join(',')}`).sort();

/**
 * Every path under a directory with its size, and a file's mtime (a store unchanged by a failed load lists
 * the same; layerdb/tmp's own mtime moves, as the spool is made and unlinked there).
 */
function fingerprint(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      out.push(`${p.slice(dir.length)} ${st?.size} ${st?.isDirectory() ? '' : st?.mtimeMs}`);
      if (st?.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

const reference = join(base, 'reference');
const first = runCli(['load', archive, '--root', reference, '--driver', 'vfs']);
const expected = first.status === 0 ? listing(reference) : [];

t.test('the positional archive still loads, and docker 20.10 prints every ID when the last image has no tag', async (t) => {
  t.equal(first.status, 0, first.stderr);
  t.ok(expected.length >= 6, 'the demo images and the untagged old demo/app:1');
  const lines = first.stdout.trim().split('\n');
  t.same(lines.slice(0, 5), ['Loaded image: demo/base:1', 'Loaded image: demo/other-base:1', 'Loaded image: demo/app:1', 'Loaded image: demo/app:2', 'Loaded image: demo/tools:1']);
  t.equal(lines.filter((l) => l.startsWith('Loaded image ID: sha256:')).length, 6, 'the last manifest entry is untagged: every image by ID, as dockerd 20.10 prints it');
});

for (const [format, bytes] of Object.entries(COMPRESSED)) {
  t.test(`${format}: through stdin and through -i, the same images as the plain archive`, async (t) => {
    const file = join(base, `demo.${format}`);
    writeFileSync(file, bytes);
    const viaStdin = join(base, `stdin-${format}`);
    const s = piped(['load', '--root', viaStdin, '--driver', 'vfs'], bytes);
    t.equal(s.status, 0, s.stderr);
    t.equal(s.stderr, '', 'nothing on stderr when not a terminal');
    t.match(s.stdout, /^Loaded image: demo\/base:1\n/);
    t.same(listing(viaStdin), expected, 'stdin: same ids and tags');
    t.same(readdirSync(join(viaStdin, 'image', 'vfs', 'layerdb', 'tmp')), [], 'the spool left nothing in layerdb/tmp');
    const viaFile = join(base, `file-${format}`);
    const f = runCli(['load', '-i', file, '--root', viaFile, '--driver', 'vfs']);
    t.equal(f.status, 0, f.stderr);
    t.same(listing(viaFile), expected, '-i: same ids and tags');
    t.equal(f.stdout, s.stdout, 'the same lines');
  });
}

t.test('stdin redirected from a file is read by offsets, in place', async (t) => {
  const root = join(base, 'redirected');
  const r = spawnSync('bash', ['-c', `${process.execPath} --import=tsx ${CLI} load --input=- --root ${root} --driver vfs < ${archive}`], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.same(listing(root), expected);
});

t.test('a layer loaded before is not applied again; a tag that moves says so as docker does', async (t) => {
  const r = runCli(['load', '-q', '-i', archive, '--root', reference]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, first.stdout, 'the same images: nothing renamed');
  t.same(listing(reference), expected);
});

t.test('a truncated gzip archive: one line naming stdin or the file, and nothing left in the store', async (t) => {
  const cut = COMPRESSED.gzip.subarray(0, Math.floor(COMPRESSED.gzip.length / 2));
  const fresh = join(base, 'truncated-fresh');
  const r = piped(['load', '--root', fresh], cut);
  t.equal(r.status, 1);
  t.equal(r.stderr, 'strata: error: stdin: corrupt gzip data (unexpected end of file)\n');
  t.equal(r.stdout, '');
  t.notOk(existsSync(fresh), 'the root it would have created is gone');
  const before = fingerprint(reference);
  const file = join(base, 'cut.tar.gz');
  writeFileSync(file, cut);
  const f = runCli(['load', '-i', file, '--root', reference]);
  t.equal(f.status, 1);
  t.equal(f.stderr, `strata: error: ${file}: corrupt gzip data (unexpected end of file)\n`);
  const again = piped(['load', '--root', reference], cut);
  t.equal(again.status, 1);
  t.same(fingerprint(reference), before, 'an existing store: every path as before (no spool, no layer, no tag)');
});

t.test("a stream is copied next to the store only while applying's margin stays free", async (t) => {
  // A file system of 1.1 GiB keeps 1 GiB free: 200 MB of zeros (200 kB gzipped) do not fit beside it.
  const small = mkdtempSync(join(tmpdir(), 'strata-small-fs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1100m', 'tmpfs', small]);
  t.teardown(() => {
    execFileSync('umount', [small]);
    rmSync(small, { recursive: true });
  });
  const size = 200 * 2 ** 20;
  const header = encodeHeader({ name: 'zeros', type: TYPE.file, mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, size });
  const bomb = gzipSync(Buffer.concat([header, Buffer.alloc(size), END_OF_ARCHIVE]));
  const root = join(small, 'root');
  const r = piped(['load', '--root', root], bomb);
  t.equal(r.status, 1);
  t.match(r.stderr, /^strata: error: stdin: reading stopped after \d+\.\d MiB: copying more would leave less than 1024\.0 MiB free on the store's file system \(1\d{3}\.\d MiB available\)\. A piped or compressed archive is copied there first: give an uncompressed archive file, or free space\n$/);
  t.notOk(existsSync(root), 'nothing left');
  t.ok(statfsSync(small).bavail * statfsSync(small).bsize > 2 ** 30, 'the margin is still free');
});

t.test('a plain archive cut inside a layer names the layer', async (t) => {
  const r = piped(['load', '--root', join(base, 'cut-plain')], plain.subarray(0, 30_000));
  t.equal(r.status, 1);
  t.match(r.stderr, /^strata: error: stdin: [0-9a-f]{64}\/layer\.tar: archive truncated inside the file \(\d+ bytes missing\)\n$/);
});

t.test('a terminal as stdin is refused in docker\'s words; two different archives are refused', async (t) => {
  const r = spawnSync('script', ['-qec', `${process.execPath} --import=tsx ${CLI} load --root ${join(base, 'tty')}`, '/dev/null'], { encoding: 'utf8' });
  t.match(r.stdout, /^strata: error: requested load from stdin, but stdin is empty \(it is a terminal: give -i FILE, or pipe an archive in\)\r?\n$/);
  t.notOk(existsSync(join(base, 'tty')), 'the store was not touched');
  const two = runCli(['load', archive, '-i', `${archive}.other`, '--root', join(base, 'two')]);
  t.equal(two.status, 1);
  t.match(two.stderr, /^strata: error: two archives given .*: load reads one\n$/);
  const same = runCli(['load', archive, '-i', archive, '--root', join(base, 'same')]);
  t.equal(same.status, 0, 'the same archive given both ways is one archive');
});

t.test('progress on a terminal; -q suppresses it and keeps the Loaded lines', async (t) => {
  const gz = join(base, 'progress.tar.gz');
  writeFileSync(gz, COMPRESSED.gzip);
  const loud = spawnSync('script', ['-qec', `${process.execPath} --import=tsx ${CLI} load -i ${gz} --root ${join(base, 'loud')}`, '/dev/null'], { encoding: 'utf8' });
  t.match(loud.stdout, /Reading .*progress\.tar\.gz/, 'reading the archive is shown');
  t.match(loud.stdout, /Loading layer [0-9a-f]{12}/, 'each layer is shown');
  t.match(loud.stdout, /Loaded image: demo\/app:2/);
  const quiet = spawnSync('script', ['-qec', `${process.execPath} --import=tsx ${CLI} load -q -i ${gz} --root ${join(base, 'quiet')}`, '/dev/null'], { encoding: 'utf8' });
  t.notMatch(quiet.stdout, /Loading layer|Reading/, '-q: no progress');
  t.match(quiet.stdout, /Loaded image: demo\/app:2/, '-q: the Loaded lines stay, as docker load -q prints them');
});

t.test('--help shows -i, -q and two examples', async (t) => {
  const r = runCli(['load', '--help']);
  t.match(r.stdout, /-i, --input/);
  t.match(r.stdout, /-q, --quiet/);
  t.ok((r.stdout.match(/strata load|\$0 load|load /g) ?? []).length >= 2);
  t.match(r.stdout, /Examples:[\s\S]*load[\s\S]*load/);
});

t.test("loadMessages: docker's lines for moved tags, untagged images and OCI layouts", async (t) => {
  const a = 'sha256:' + 'a'.repeat(64);
  const b = 'sha256:' + 'b'.repeat(64);
  const image = (id: string, tags: string[], untagged: Array<{ ref: string; previous: string }> = []) => ({ id, tags, untagged, layersApplied: 0, layersPresent: 0 });
  t.same(loadMessages({ layout: 'docker-save', images: [image(a, ['docker.io/library/x:1', 'y:2'], [{ ref: 'x:1', previous: b }])] }), [
    `The image x:1 already exists, renaming the old one with ID ${b} to empty string`,
    'Loaded image: x:1',
    'Loaded image: y:2',
  ]);
  t.same(loadMessages({ layout: 'docker-save', images: [image(a, []), image(b, ['z:1'])] }), ['Loaded image: z:1'], 'the last image tagged: no ID lines (dockerd 20.10)');
  t.same(loadMessages({ layout: 'docker-save', images: [image(a, ['z:1']), image(b, [])] }), ['Loaded image: z:1', `Loaded image ID: ${a}`, `Loaded image ID: ${b}`]);
  t.same(loadMessages({ layout: 'oci', images: [image(a, []), image(b, ['localhost/hb/app:1'])] }), [`Loaded image ID: ${a}`, 'Loaded image: localhost/hb/app:1'], 'OCI: one line per image');
});
