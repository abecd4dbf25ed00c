// The odd-archive corpus (test/helpers/tar-corpus.ts) read and applied by strata: each archive reads as
// Go's archive/tar reads it (entries as listed, or GNU tar's own listing for archives GNU tar made), or
// is refused in one line naming the entry and leaves no layer behind; every accepted one applied through
// each driver hashes to sha256(archive), and the exact rebuild from the tar-split recorded while applying
// gives back the archive byte for byte. The files applied look as dockerd makes them.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { assembleFromTarSplit } from '../../drivers/archive/assemble.js';
import { decompress, detectCompression, type Compression } from '../../drivers/archive/decompress.js';
import { readTar } from '../../drivers/archive/tar-reader.js';
import { DRIVERS as ALL_DRIVERS } from '../../drivers/index.js';

/** The drivers that apply layers (devicemapper is read-only). */
const DRIVERS = ALL_DRIVERS.filter((d) => d.open('/nonexistent').capabilities.writable);
import type { StorageDriver } from '../../drivers/types.js';
import { StrataError } from '../../native/errors.js';
import { applyLayer } from '../../inspect/load.js';
import { StoreWriter } from '../../inspect/write-store.js';
import { cliJson, runCli } from '../helpers/run-cli.js';
import { COMPRESSED_BASE, CORPUS, END, entryLine, esc, member, sparseFileContent, type CorpusCase } from '../helpers/tar-corpus.js';

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function collect(it: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) {
    if (!Buffer.isBuffer(c)) throw new Error('expected bytes from the assembler');
    parts.push(c);
  }
  return Buffer.concat(parts);
}

/** strata's reading, as entryLine lines. */
async function strataListing(archive: Buffer, withContent: boolean): Promise<string[]> {
  const lines: string[] = [];
  for await (const { entry, content } of readTar([archive])) {
    const body = await collect(content);
    if (!withContent) {
      if (entry.type === 'g') continue; // GNU tar lists no global headers
      const link = entry.type === '1' || entry.type === '2' ? ` -> ${esc(entry.linknameBytes)}` : '';
      lines.push(`${entry.type} ${esc(entry.nameBytes)} ${entry.type === '0' ? entry.size : 0}${link}`);
    } else if (entry.type === '0') lines.push(entryLine('0', entry.nameBytes, { content: body }));
    else if (entry.type === '1' || entry.type === '2') lines.push(entryLine(entry.type, entry.nameBytes, { link: entry.linknameBytes }));
    else lines.push(entryLine(entry.type, entry.nameBytes));
  }
  return lines;
}

/** GNU tar's own listing, in the same shape (its C-quoted names unquoted to bytes). */
function gnuTarListing(archive: string): string[] {
  const out = execFileSync('tar', ['-tv', '--numeric-owner', '--quoting-style=c', '-f', archive]).toString('latin1');
  const unquote = (s: string) =>
    Buffer.from(
      s.replace(/\\([0-7]{3}|.)/g, (_, e: string) => (/^[0-7]{3}$/.test(e) ? String.fromCharCode(parseInt(e, 8)) : ({ n: '\n', t: '\t', '\\': '\\', '"': '"' } as Record<string, string>)[e] ?? e)),
      'latin1',
    );
  const TYPE: Record<string, string> = { '-': '0', d: '5', l: '2', h: '1', c: '3', b: '4', p: '6' };
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const m = /^(.)\S+ \S+\s+(\S+) \S+ \S+ "((?:[^"\\]|\\.)*)"(?: -> "((?:[^"\\]|\\.)*)"| link to "((?:[^"\\]|\\.)*)")?$/.exec(line);
      if (!m) throw new Error(`cannot parse tar -tv line: ${line}`);
      const type = TYPE[m[1]];
      const link = m[4] ?? m[5];
      return `${type} ${esc(unquote(m[3]))} ${type === '0' ? m[2] : 0}${link !== undefined ? ` -> ${esc(unquote(link))}` : ''}`;
    });
}

interface Applied {
  driver: StorageDriver;
  dir: string;
  diffId: string;
  rebuilt: Buffer;
}

async function applyEach(c: CorpusCase, archive: Buffer, base: string): Promise<Applied[]> {
  const out: Applied[] = [];
  for (const factory of DRIVERS) {
    const root = join(base, `root-${factory.name}`);
    mkdirSync(root, { recursive: true });
    const driver = factory.open(root);
    const writer = new StoreWriter(root, factory.name);
    const layer = await applyLayer(writer, driver, null, Readable.from([archive]), { label: c.name, sourceBytes: archive.length });
    const dir = driver.contentDir(layer.cacheId);
    const rebuilt = await collect(assembleFromTarSplit(join(writer.layerDir(layer.chainId), 'tar-split.json.gz'), dir, { verifyCrc: true }));
    out.push({ driver, dir, diffId: layer.diffId, rebuilt });
  }
  return out;
}

const byteName = (dir: string, name: string) => Buffer.from(`${dir}/${name}`, 'latin1');
/** The names at a layer's top, without aufs's own bookkeeping (.wh..wh.aufs, .wh..wh.orph, .wh..wh.plnk). */
const topNames = (a: Applied) => readdirSync(Buffer.from(a.dir), { encoding: 'buffer' }).map(esc).filter((n) => !n.startsWith('.wh..wh.')).sort();

/** What the files applied must look like, per case, for the cases where drivers or dockerd's rules show. */
const ON_DISK: Record<string, (t: Test, a: Applied) => void> = {
  'latin1-ustar-names': (t, a) => {
    t.same(topNames(a), ['caf\\xe9', 'h\\xe9', 'l\\xe9'], `${a.driver.name}: names kept as bytes`);
    t.equal(readFileSync(byteName(a.dir, 'caf\xe9/na\xefve.txt')).toString(), 'latin-1\n');
    t.equal(esc(readlinkSync(byteName(a.dir, 'l\xe9'), { encoding: 'buffer' })), 'caf\\xe9/na\\xefve.txt', 'link target as bytes');
    t.equal(lstatSync(byteName(a.dir, 'h\xe9')).ino, lstatSync(byteName(a.dir, 'caf\xe9/na\xefve.txt')).ino, 'hard link');
  },
  'latin1-pax-path': (t, a) => {
    t.ok(existsSync(byteName(a.dir, 'r\xe9sum\xe9.txt')), `${a.driver.name}: PAX path bytes name the file`);
    t.equal(esc(readlinkSync(byteName(a.dir, 'dangling'), { encoding: 'buffer' })), 't\\xff');
  },
  'pax-overrides': (t, a) => {
    const st = lstatSync(join(a.dir, 'overridden.txt'), { bigint: true });
    t.same([st.uid, st.gid, st.size], [3000000n, 4000000n, 11n], `${a.driver.name}: PAX uid, gid, size`);
    t.equal(st.mtimeNs / 1000n, 1600000000123456n, 'PAX mtime (to the microsecond Node sets)');
    t.equal(execFileSync('getfattr', ['--only-values', '-n', 'user.corpus', join(a.dir, 'overridden.txt')]).toString(), 'xattr value', 'SCHILY.xattr record');
  },
  'pax-global': (t, a) => {
    t.same(topNames(a), ['after-global.txt'], `${a.driver.name}: the global header names no file`);
    t.equal(lstatSync(join(a.dir, 'after-global.txt')).uid, 0, 'its uid record applies to nothing');
  },
  'gnu-tar-global': (t, a) => {
    // UnpackLayer (naive drivers) makes the global header's parent directory; Unpack skips the header first
    if (a.driver.capabilities.fullCopies) t.equal(lstatSync(join(a.dir, 'tmp')).mode & 0o7777, 0o600, `${a.driver.name}: tmp/ made 0600 as UnpackLayer makes it`);
    else t.notOk(existsSync(join(a.dir, 'tmp')), `${a.driver.name}: no tmp/`);
  },
  'root-entry': (t, a) => {
    const st = lstatSync(a.dir);
    if (a.driver.capabilities.fullCopies) t.same([st.mode & 0o7777, st.uid], [0o700, 1234], `${a.driver.name}: the root takes './' metadata (UnpackLayer)`);
    else t.same([st.mode & 0o7777, st.uid], [0o755, 0], `${a.driver.name}: the root is left alone (Unpack)`);
  },
  'implicit-parents': (t, a) => {
    const mode = lstatSync(join(a.dir, 'a/b')).mode & 0o7777;
    t.equal(mode, a.driver.capabilities.fullCopies ? 0o600 : 0o755, `${a.driver.name}: missing parents made as dockerd makes them`);
  },
  'devices-and-fifo': (t, a) => {
    const st = lstatSync(join(a.dir, 'dev/null'));
    t.ok(st.isCharacterDevice() && st.rdev === 0x103 && (st.mode & 0o777) === 0o666, `${a.driver.name}: char device 1:3`);
    t.ok(lstatSync(join(a.dir, 'dev/loop0')).isBlockDevice());
    t.ok(lstatSync(join(a.dir, 'pipe')).isFIFO());
  },
  whiteouts: (t, a) => {
    if (a.driver.name === 'overlay2') {
      const st = lstatSync(join(a.dir, 'gone'));
      t.ok(st.isCharacterDevice() && st.rdev === 0 && (st.mode & 0o7777) === 0, 'overlay2: a 0:0 whiteout, mode 0 as dockerd mknods it');
      t.equal(execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(a.dir, 'd')]).toString(), 'y', 'overlay2: opaque directory');
    } else if (a.driver.name === 'aufs') t.ok(existsSync(join(a.dir, '.wh.gone')) && existsSync(join(a.dir, 'd/.wh..wh..opq')), 'aufs keeps the whiteout files');
    else t.same(topNames(a), ['d'], 'vfs: whiteouts delete, and leave no file');
  },
  'pax-sparse-1.0': (t, a) => checkSparse(t, a),
  'pax-sparse-0.1': (t, a) => checkSparse(t, a),
  'pax-sparse-0.0': (t, a) => checkSparse(t, a),
  'gnu-tar-pax-tree': (t, a) => {
    t.equal(lstatSync(join(a.dir, 'setuid')).mode & 0o7777, 0o4755, `${a.driver.name}: setuid kept (chmod after chown)`);
    t.equal(lstatSync(join(a.dir, 'owned')).uid, 1000);
    t.equal(execFileSync('getfattr', ['--only-values', '-n', 'user.corpus', join(a.dir, 'owned')]).toString(), 'hello');
  },
};

function checkSparse(t: Test, a: Applied): void {
  const file = join(a.dir, 'big.sparse');
  t.ok(readFileSync(file).equals(sparseFileContent()), `${a.driver.name}: expanded under its real name, zeros in the holes`);
  t.ok(lstatSync(file).blocks * 512 < 1 << 20, 'written with holes');
  t.same(topNames(a), ['big.sparse'], 'no GNUSparseFile directory');
}

for (const c of CORPUS) {
  t.test(`${c.name}: ${c.what}`, async (t) => {
    const dir = t.testdir({});
    const archive = c.build(dir);
    const file = join(dir, 'archive.tar');
    writeFileSync(file, archive);
    if ('refuse' in c.strata) {
      const root = join(dir, 'root');
      mkdirSync(root);
      for (const factory of DRIVERS) {
        const driver = factory.open(root);
        const writer = new StoreWriter(root, factory.name);
        const before = driver.listLayerIds();
        const err = await applyLayer(writer, driver, null, Readable.from([archive]), { label: c.name, sourceBytes: archive.length }).then(
          () => null,
          (e: unknown) => e,
        );
        t.ok(err instanceof StrataError, `${factory.name}: refused with a StrataError (${err})`);
        t.match((err as Error).message, c.strata.refuse, `${factory.name}: one line naming the entry`);
        t.notMatch((err as Error).message, /\n/, 'one line');
        t.same(driver.listLayerIds(), before, `${factory.name}: no layer directory left behind`);
      }
      return;
    }
    const listed = await strataListing(archive, c.strata.entries !== 'gnu-tar');
    t.same(listed, c.strata.entries === 'gnu-tar' ? gnuTarListing(file) : c.strata.entries, 'entries as Go reads them');
    for (const a of await applyEach(c, archive, dir)) {
      t.equal(a.diffId, sha(archive), `${a.driver.name}: DiffID = sha256 of the archive`);
      t.equal(sha(a.rebuilt), sha(archive), `${a.driver.name}: the exact rebuild from the recorded tar-split is the archive`);
      ON_DISK[c.name]?.(t, a);
    }
  });
}

t.test('a PAX 1.0 sparse file reads as Go presents it: holes apart, zeros where they are', async (t) => {
  const c = CORPUS.find((x) => x.name === 'pax-sparse-by-hand')!;
  for await (const { entry, extents } of readTar([c.build('')])) {
    t.same([entry.name, entry.size, entry.storedSize, entry.sparseData], ['sparse-by-hand', 10000, 8, [[100, 5], [9000, 3]]]);
    const pieces: string[] = [];
    for await (const e of extents()) pieces.push('data' in e ? `${e.offset}:${e.data}` : `${e.offset}+${e.hole}`);
    t.same(pieces, ['0+100', '100:hello', '105+8895', '9000:end', '9003+997']);
  }
});

t.test('PAX records apply as Go applies them', async (t) => {
  const c = CORPUS.find((x) => x.name === 'pax-overrides')!;
  const entries = [];
  for await (const { entry } of readTar([c.build('')])) entries.push(entry);
  t.match(entries[0], {
    uid: 3000000,
    gid: 4000000,
    size: 11,
    mtime: 1600000000,
    mtimeNsec: 123456789,
    atime: { sec: 1600000100, nsec: 500000000 },
    uname: 'someone-with-a-very-long-user-name-indeed',
    gname: 'staff',
    pax: { 'STRATA.note': 'kept as a record' },
  });
  t.equal(entries[0].xattrs['user.corpus'].toString(), 'xattr value');
  const replaced: Array<[string, number]> = [];
  for await (const { entry } of readTar([CORPUS.find((x) => x.name === 'pax-replaced')!.build('')])) replaced.push([entry.name, entry.mtime]);
  t.same(replaced, [['header-name.txt', 1500000000]], "the second 'x' replaces the first");
});

// ---- compressed input ----

const COMPRESSORS: Record<Compression, (plain: Buffer) => Buffer> = {
  gzip: (plain) => gzipSync(plain),
  bzip2: (plain) => execFileSync('bzip2', ['-c'], { input: plain, maxBuffer: 1 << 28 }),
  xz: (plain) => execFileSync('xz', ['-c'], { input: plain, maxBuffer: 1 << 28 }),
  zstd: (plain) => execFileSync('zstd', ['-c', '-q'], { input: plain, maxBuffer: 1 << 28 }),
};

t.test('compressed layers: detected by magic, applied, DiffID of the uncompressed stream, exact rebuild', async (t) => {
  const dir = t.testdir({});
  const plain = CORPUS.find((c) => c.name === COMPRESSED_BASE)!.build(dir);
  for (const [format, compress] of Object.entries(COMPRESSORS) as Array<[Compression, (b: Buffer) => Buffer]>) {
    const packed = compress(plain);
    t.equal(detectCompression(packed), format, `${format}: told by its magic`);
    const root = join(dir, `root-${format}`);
    mkdirSync(root);
    const driver = DRIVERS.find((d) => d.name === 'overlay2')!.open(root);
    const writer = new StoreWriter(root, 'overlay2');
    const layer = await applyLayer(writer, driver, null, decompress(Readable.from([packed]), { label: format }), { label: format });
    t.equal(layer.diffId, sha(plain), `${format}: DiffID = sha256 of the uncompressed tar`);
    const rebuilt = await collect(assembleFromTarSplit(join(writer.layerDir(layer.chainId), 'tar-split.json.gz'), driver.contentDir(layer.cacheId)));
    t.ok(rebuilt.equals(plain), `${format}: the exact rebuild is the uncompressed tar`);
  }
  t.equal(detectCompression(plain), null, 'a plain tar passes through');
  const passed = await collect(decompress(Readable.from([plain.subarray(0, 3), plain.subarray(3)]), { label: 'plain' }));
  t.ok(passed.equals(plain), 'plain bytes unchanged, even when the magic spans chunks');
});

/** A docker save archive of one image whose layers are stored compressed, one format each. */
function saveArchiveWith(layers: Array<[Compression, Buffer]>): Buffer {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map(([, plain]) => sha(plain)) } }));
  const names = layers.map(([format], i) => `layer${i}.tar.${format}`);
  const manifest = Buffer.from(JSON.stringify([{ Config: 'config.json', RepoTags: ['corpus:compressed'], Layers: names }]));
  return Buffer.concat([
    member({ name: 'config.json' }, config),
    ...layers.map(([format, plain], i) => member({ name: names[i] }, COMPRESSORS[format](plain))),
    member({ name: 'manifest.json' }, manifest),
    END,
  ]);
}

t.test('strata load decompresses every layer member (gzip, bzip2, xz, zstd)', async (t) => {
  const dir = t.testdir({});
  const layers = (['gzip', 'bzip2', 'xz', 'zstd'] as Compression[]).map((format, i): [Compression, Buffer] => [format, Buffer.concat([member({ name: `from-${format}.txt` }, `layer ${i}\n`), END])]);
  writeFileSync(join(dir, 'save.tar'), saveArchiveWith(layers));
  const root = join(dir, 'root');
  const r = runCli(['load', join(dir, 'save.tar'), '--root', root, '--driver', 'vfs']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /Loaded image: corpus:compressed/);
  const verify = cliJson(['verify', '--root', root]);
  t.equal(verify.length, 4, 'four layers');
  t.ok(verify.every((v: { ok: boolean }) => v.ok), 'each rebuilds to its DiffID');
  const refused = runCli(['load', join(dir, 'save.tar'), '--root', join(dir, 'root2'), '--driver', 'vfs', '--max-layer-bytes', '1000']);
  t.equal(refused.status, 1);
  t.match(refused.stderr, /^strata: error: .*save\.tar: layer0\.tar\.gzip: is larger than --max-layer-bytes 1000 once gzip-decompressed; applying stopped\n$/);
});

t.test('a compression bomb stops at --max-layer-bytes, and the free-space margin holds without it', async (t) => {
  const dir = t.testdir({});
  const zeros = Buffer.alloc(50 * 2 ** 20);
  const bomb = gzipSync(Buffer.concat([member({ name: 'zeros' }, zeros), END]));
  t.ok(bomb.length < 200_000, `50 MB of zeros in ${bomb.length} bytes`);
  writeFileSync(join(dir, 'bomb.tar.gz'), bomb);
  const root = join(dir, 'root');
  const r = runCli(['apply', join(dir, 'bomb.tar.gz'), '--root', root, '--driver', 'vfs', '--max-layer-bytes', '1000000']);
  t.equal(r.status, 1);
  t.match(r.stderr, /^strata: error: .*bomb\.tar\.gz: is larger than --max-layer-bytes 1000000 once gzip-decompressed; applying stopped\n$/);
  const layerDirs = join(root, 'vfs', 'dir');
  t.same(existsSync(layerDirs) ? readdirSync(layerDirs) : [], [], 'no layer left behind');

  // A filesystem of 1.1 GiB keeps its 1 GiB margin: a small layer fits, a 200 MB one does not.
  const small = mkdtempSync(join(tmpdir(), 'strata-small-fs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1100m', 'tmpfs', small]);
  t.teardown(() => {
    execFileSync('umount', [small]);
    rmSync(small, { recursive: true });
  });
  const fit = gzipSync(Buffer.concat([member({ name: 'fits' }, Buffer.alloc(2 ** 20)), END]));
  writeFileSync(join(dir, 'fits.tar.gz'), fit);
  t.equal(runCli(['apply', join(dir, 'fits.tar.gz'), '--root', join(small, 'root'), '--driver', 'vfs']).status, 0, 'a 1 MiB layer fits');
  writeFileSync(join(dir, 'big.tar.gz'), gzipSync(Buffer.concat([member({ name: 'too-big' }, Buffer.alloc(200 * 2 ** 20)), END])));
  const big = runCli(['apply', join(dir, 'big.tar.gz'), '--root', join(small, 'root'), '--driver', 'vfs']);
  t.equal(big.status, 1);
  t.match(big.stderr, /^strata: error: (.*big\.tar\.gz: )?too-big: applying stopped: writing it would leave less than 1\.00 GiB free where the layer is written \(1\.0\d GiB available\)\n$/);
  t.ok(statfsSync(small).bavail * statfsSync(small).bsize > 2 ** 30, 'the margin is still free');
});

t.test('a long tail of zeros after the end of the archive costs compressed bytes, not memory', async (t) => {
  const dir = t.testdir({});
  const tail = Buffer.alloc(300 * 2 ** 20);
  const archive = Buffer.concat([member({ name: 'small' }, Buffer.from('small\n')), END, tail]);
  const sha = createHash('sha256').update(archive).digest('hex');
  writeFileSync(join(dir, 'tail.tar.gz'), gzipSync(archive));
  const root = join(dir, 'root');
  // 300 MB as base64 JSON text would need about 800 MB of heap: a 256 MB heap holds only the compressed records.
  const r = runCli(['apply', join(dir, 'tail.tar.gz'), '--root', root, '--driver', 'vfs', '--json'], { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=256` });
  t.equal(r.status, 0, r.stderr);
  const layer = JSON.parse(r.stdout) as { chainId: string; diffId: string };
  t.equal(layer.diffId, `sha256:${sha}`, 'the DiffID covers the tail, as dockerd counts it');
  const tarSplit = join(root, 'image', 'vfs', 'layerdb', 'sha256', layer.chainId.slice(7), 'tar-split.json.gz');
  t.ok(statSync(tarSplit).size < 4 * 2 ** 20, `the tar-split stays small (${statSync(tarSplit).size} bytes)`);
  const out = join(dir, 'exact.tar');
  const d = runCli(['--root', root, 'diff', layer.chainId, '-o', out]);
  t.equal(d.status, 0, d.stderr);
  t.equal(createHash('sha256').update(readFileSync(out)).digest('hex'), sha, 'the exact diff gives the archive back, tail and all');
});

t.test('a missing decompressor is one line naming the package', async (t) => {
  const dir = t.testdir({});
  writeFileSync(join(dir, 'layer.tar.xz'), COMPRESSORS.xz(Buffer.concat([member({ name: 'a' }, 'a'), END])));
  const r = runCli(['apply', join(dir, 'layer.tar.xz'), '--root', join(dir, 'root'), '--driver', 'vfs'], { PATH: '/nonexistent' });
  t.equal(r.status, 1);
  t.match(r.stderr, /^strata: error: .*layer\.tar\.xz: is xz-compressed, and decompressing it needs `xz` \(apt-get install xz-utils\)\n$/);
});

t.test('corrupt compressed input is one line naming the input', async (t) => {
  const plain = Buffer.concat([member({ name: 'a' }, 'a'.repeat(10000)), END]);
  for (const format of ['gzip', 'xz'] as Compression[]) {
    const packed = COMPRESSORS[format](plain);
    const cut = packed.subarray(0, packed.length - 20);
    await t.rejects(collect(decompress(Readable.from([cut]), { label: `layer.${format}` })), { message: new RegExp(`^layer\\.${format}: corrupt ${format} data \\(`) }, `${format} cut short`);
  }
  await t.rejects(collect(decompress(Readable.from([plain]), { label: 'plain.tar', maxBytes: 5000 })), /^plain\.tar: is larger than --max-layer-bytes 5000; applying stopped$/, 'a plain layer is bounded too');
});
