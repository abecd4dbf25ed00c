// File names are bytes: a container layer holding names that are not UTF-8 (Latin-1 0xe9, and 0xff, which
// no UTF-8 holds), a link to one and a hardlinked pair, for overlay2 and vfs. `strata changes` lists each
// as docker diff prints it (Go's encoding/json: U+FFFD for each invalid byte) with the exact bytes in
// --json; the fresh diff carries the exact bytes (read back by GNU tar in the C locale); measuring counts
// every file. Also the tar header of such a name, as Go's archive/tar writes it.
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { encodeHeader, TYPE } from '../../drivers/archive/tar-header.js';
import { readTar } from '../../drivers/archive/tar-reader.js';
import { readXattrTree } from '../../drivers/xattrs.js';
import { measureTree } from '../../snapshots/measure.js';
import { measureTreeInBackground } from '../../snapshots/measure-parallel.js';
import { byteString } from '../../snapshots/walk.js';
import { cliJson, runCli } from '../helpers/run-cli.js';
import { StoreBuilder, type DriverName } from '../helpers/synthetic-store.js';

const latin1 = (s: string) => Buffer.from(s, 'latin1');
const at = (dir: string, name: string) => Buffer.concat([Buffer.from(`${dir}/`), latin1(name)]);
/** A file capability (cap_net_bind_service, v2): Docker archives security.capability. */
const CAPABILITY = 'AQAAAgAgAAAAAAAAAAAAAAAAAAA=';
const TIME = 1_700_000_000;

/**
 * Adds the odd names to `dir` (names here are ByteStrings). setfattr cannot take a name that is not UTF-8
 * in its argv, so a shell glob names the file in the C locale.
 */
function addOddNames(dir: string): void {
  writeFileSync(at(dir, 'caf\xe9.txt'), 'latin-1\n');
  execFileSync('sh', ['-c', `setfattr -n security.capability -v 0s${CAPABILITY} caf*.txt`], { cwd: dir, env: { ...process.env, LC_ALL: 'C' } });
  mkdirSync(at(dir, 'd\xff'));
  writeFileSync(at(dir, 'd\xff/inner.txt'), 'inner\n');
  symlinkSync(latin1('caf\xe9.txt'), at(dir, 'l\xe9'));
  writeFileSync(at(dir, 'h\xe9-1'), 'linked\n');
  linkSync(at(dir, 'h\xe9-1'), at(dir, 'h\xe9-2'));
  writeFileSync(join(dir, 'naïve.txt'), 'utf-8\n');
  for (const name of ['caf\xe9.txt', 'd\xff/inner.txt', 'd\xff', 'h\xe9-1', 'naïve.txt']) utimesSync(name === 'naïve.txt' ? join(dir, name) : at(dir, name), TIME, TIME);
}

/** The bytes of every file added (a hardlinked inode once, a symlink its target's length): Docker's DiffSize. */
const ADDED_BYTES = 'latin-1\n'.length + 'inner\n'.length + 'caf\xe9.txt'.length + 'linked\n'.length + 'utf-8\n'.length;

function buildStore(root: string, driver: DriverName): { container: string; rwDir: string } {
  const b = new StoreBuilder(root, driver);
  const base = b.layer(null, { 'bin/sh': 'sh' });
  const image = b.image({ layers: [base], tags: ['base:1'] });
  const id = b.container({ image, name: 'odd' });
  const mountId = readFileSync(join(b.meta, 'layerdb', 'mounts', id, 'mount-id'), 'utf8');
  const rwDir = b.contentDir(mountId);
  if (driver === 'vfs') {
    // The copy of the init layer keeps its directories' times only to the millisecond: settle them on both sides.
    for (const d of [b.contentDir(`${mountId}-init`), rwDir]) for (const p of ['etc', 'bin', '.']) utimesSync(join(d, p), TIME, TIME);
  }
  addOddNames(rwDir);
  return { container: 'odd', rwDir };
}

for (const driver of ['overlay2', 'vfs'] as const) {
  t.test(`${driver}: a container layer with names that are not UTF-8`, async (t) => {
    const root = t.testdir({});
    const { container, rwDir } = buildStore(root, driver);
    const args = ['--root', root];

    await t.test('changes: every name, printed as docker diff prints it, sorted by bytes', async (t) => {
      const r = runCli(['changes', container, ...args]);
      t.equal(r.status, 0, r.stderr);
      t.equal(r.stderr, '');
      t.same(r.stdout.split('\n').filter(Boolean), ['A /caf\ufffd.txt', 'A /d\ufffd', 'A /d\ufffd/inner.txt', 'A /h\ufffd-1', 'A /h\ufffd-2', 'A /l\ufffd', 'A /naïve.txt']);
      const json = cliJson(['changes', container, ...args]);
      const raw = (s: string) => latin1(s).toString('base64');
      t.same(json, [
        { kind: 'A', path: '/caf\ufffd.txt', pathRaw: raw('/caf\xe9.txt') },
        { kind: 'A', path: '/d\ufffd', pathRaw: raw('/d\xff') },
        { kind: 'A', path: '/d\ufffd/inner.txt', pathRaw: raw('/d\xff/inner.txt') },
        { kind: 'A', path: '/h\ufffd-1', pathRaw: raw('/h\xe9-1') },
        { kind: 'A', path: '/h\ufffd-2', pathRaw: raw('/h\xe9-2') },
        { kind: 'A', path: '/l\ufffd', pathRaw: raw('/l\xe9') },
        { kind: 'A', path: '/naïve.txt' },
      ], '--json: the bytes in pathRaw only where they are not UTF-8');
    });

    for (const native of ['1', '0']) {
      await t.test(`diff (STRATA_NATIVE=${native}): the tar carries the exact bytes of names and link targets`, async (t) => {
        const out = join(t.testdir({}), 'odd.tar');
        const r = runCli(['diff', container, '-o', out, ...args], { STRATA_NATIVE: native });
        t.equal(r.status, 0, r.stderr);
        const listing = execFileSync('tar', ['-tvf', out], { env: { ...process.env, LC_ALL: 'C' } }).toString();
        // GNU tar in the C locale shows each byte from 0x80 up as \ooo: what it read is the bytes themselves.
        const lines = listing.split('\n').filter(Boolean).map((l) => l.replace(/^.* \d\d:\d\d /, ''));
        t.same(lines, ['caf\\351.txt', 'd\\377/', 'd\\377/inner.txt', 'h\\351-1', 'h\\351-2 link to h\\351-1', 'l\\351 -> caf\\351.txt', 'naïve.txt'.replace('ï', '\\303\\257')]);
        const entries: Array<{ name: string; type: string; link: string; content: string; cap?: string }> = [];
        for await (const { entry, content } of readTar([readFileSync(out)])) {
          const chunks: Buffer[] = [];
          for await (const c of content) chunks.push(c);
          entries.push({ name: entry.nameBytes.toString('latin1'), type: entry.type, link: entry.linknameBytes.toString('latin1'), content: Buffer.concat(chunks).toString('latin1'), cap: entry.xattrs['security.capability']?.toString('base64') });
        }
        t.same(entries[0], { name: 'caf\xe9.txt', type: TYPE.file, link: '', content: 'latin-1\n', cap: CAPABILITY }, 'a Latin-1 file, its content and its capability');
        t.same(entries.find((e) => e.name === 'd\xff/inner.txt')?.content, 'inner\n', 'a file in a directory whose name is no UTF-8');
        t.same(entries.find((e) => e.name === 'l\xe9')?.link, 'caf\xe9.txt', 'a symlink target as its bytes');
        t.same(entries.find((e) => e.name === 'h\xe9-2')?.link, 'h\xe9-1', 'a hardlink to a Latin-1 name');
        t.ok(readFileSync(out).includes(latin1('17 path=caf\xe9.txt\n')), 'the PAX path record holds the raw bytes, as Go writes it');
      });
    }

    await t.test('measuring counts every file, whatever its name', async (t) => {
      const df = cliJson(['df', ...args]);
      t.equal(df.containers.find((c: { name: string }) => c.name === 'odd').sizeRw, ADDED_BYTES, "the container's SizeRw counts the files behind odd names");
      const du = (p: string) => Number(execFileSync('du', ['-sb', p]).toString().split('\t')[0]);
      t.equal(df.dataRoot.apparentBytes, du(root), 'the data-root on disk: du -sb');
      const usage = measureTree(rwDir);
      t.equal(usage.apparentBytes, du(rwDir), 'the layer directory: du -sb');
      const inodes = new Set(execFileSync('find', [rwDir, '-printf', '%i\\n']).toString().split('\n').filter(Boolean)).size;
      t.equal(usage.entries, inodes, 'every inode counted once');
    });
  });
}

t.test('measuring on threads: a subtree whose name is not UTF-8 is measured too', async (t) => {
  const dir = t.testdir({});
  // Enough directories that the tree is cut into subtrees for threads (native, or worker threads).
  for (let i = 0; i < 80; i++) {
    mkdirSync(join(dir, `d${i}`));
    writeFileSync(join(dir, `d${i}`, 'f'), 'x'.repeat(i));
  }
  mkdirSync(at(dir, 'sub\xff'));
  mkdirSync(at(dir, 'sub\xff/deeper\xe9'));
  writeFileSync(at(dir, 'sub\xff/deeper\xe9/big'), 'y'.repeat(100_000));
  const du = Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0]);
  for (const native of ['1', '0']) {
    process.env.STRATA_NATIVE = native;
    try {
      const errors: string[] = [];
      const usage = await measureTreeInBackground(dir, { threads: 2, onError: (p) => errors.push(p) }).result;
      t.same(errors, [], `STRATA_NATIVE=${native}: nothing unreadable`);
      t.equal(usage.apparentBytes, du, `STRATA_NATIVE=${native}: du -sb`);
      t.equal(usage.entries, 1 + 80 * 2 + 3, `STRATA_NATIVE=${native}: every entry`);
    } finally {
      delete process.env.STRATA_NATIVE;
    }
  }
});

t.test("getfattr's names are read back as bytes", async (t) => {
  const dir = t.testdir({});
  writeFileSync(at(dir, 'caf\xe9'), '');
  writeFileSync(join(dir, 'back\\slash'), '');
  writeFileSync(join(dir, 'new\nline'), '');
  execFileSync('sh', ['-c', 'for f in *; do setfattr -n user.strata -v "$f" "$f"; done'], { cwd: dir, env: { ...process.env, LC_ALL: 'C' } });
  const tree = await readXattrTree(dir);
  for (const name of ['caf\xe9', 'back\\slash', 'new\nline']) {
    t.same(tree.get(byteString(at(dir, name)))?.get('user.strata'), latin1(name), `${JSON.stringify(name)}: found by its bytes`);
  }
});

t.test("a tar header for a name that is not UTF-8, as Go's archive/tar writes it", async (t) => {
  const header = encodeHeader({ name: latin1('caf\xe9.txt'), type: TYPE.file, mode: 0o100644, uid: 0, gid: 0, size: 8, mtime: TIME });
  t.equal(header.length, 3 * 512, "an 'x' header, one block of records, the main header");
  const field = (block: number, offset: number, width: number) => {
    const f = header.subarray(block * 512 + offset, block * 512 + offset + width);
    const nul = f.indexOf(0);
    return (nul < 0 ? f : f.subarray(0, nul)).toString('latin1');
  };
  t.equal(field(0, 0, 100), 'PaxHeaders.0/caf.txt', "the 'x' header's name: path.Join(dir, PaxHeaders.0, base), bytes from 0x80 up dropped");
  t.equal(header[156], 0x78);
  t.same([field(0, 100, 8), field(0, 124, 12), field(0, 136, 12)], ['0000000', '00000000021', '00000000000'], 'mode and mtime 0, size of the records');
  t.ok(header.subarray(265, 345).equals(Buffer.alloc(80)), 'uname, gname, devmajor, devminor left NUL');
  t.equal(header.subarray(512, 512 + 17).toString('latin1'), '17 path=caf\xe9.txt\n', 'the raw bytes in the path record');
  t.equal(field(2, 0, 100), 'caf.txt', "the main header's name: the bytes from 0x80 up dropped");
  t.equal(field(2, 257, 6), 'ustar', 'ustar magic');
  const dir = encodeHeader({ name: latin1('d\xff/'), type: TYPE.dir, mode: 0o40755, uid: 0, gid: 0, size: 0, mtime: TIME });
  t.equal(dir.subarray(0, 100).toString('latin1').replace(/\0+$/, ''), 'd/PaxHeaders.0', "a directory's 'x' header: PaxHeaders.0 inside it");
  const link = encodeHeader({ name: latin1('l\xe9'), type: TYPE.symlink, mode: 0o120777, uid: 0, gid: 0, size: 0, mtime: TIME, linkname: latin1('caf\xe9.txt') });
  t.equal(link.subarray(512, 512 + 21 + 11).toString('latin1'), '21 linkpath=caf\xe9.txt\n11 path=l\xe9\n', 'linkpath and path records, sorted, raw (a length that grows a digit counts itself)');
  t.equal(link.subarray(1024 + 157, 1024 + 164).toString('latin1'), 'caf.txt', "the main header's linkname field, made ASCII");
  const long = `${'d'.repeat(90)}/${'e'.repeat(40)}`;
  t.equal(encodeHeader({ name: long, type: TYPE.file, mode: 0o100644, uid: 0, gid: 0, size: 0, mtime: TIME }).length, 512, 'a long ASCII path that splits into prefix and name stays USTAR (no PAX)');
});
