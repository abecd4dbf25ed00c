import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { assembleFromTarSplit, contentPath, LayerContentError } from '../../drivers/archive/assemble.js';
import { Crc64 } from '../../drivers/archive/crc64.js';
import { contentPadding, encodeHeader, END_OF_ARCHIVE, splitUstarPath, TYPE } from '../../drivers/archive/tar-header.js';
import { parseNumeric, parsePaxTime, readTar } from '../../drivers/archive/tar-reader.js';
import { parseTarSplitLine, readTarSplit } from '../../drivers/archive/tar-split.js';

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

t.test('CRC-64/ISO check value and streaming', async (t) => {
  t.equal(new Crc64().update(Buffer.from('123456789')).hex(), 'b90956c775a41001', 'the standard check value');
  const data = Buffer.from('x'.repeat(1000) + 'tail');
  const oneGo = new Crc64().update(data).hex();
  const pieces = new Crc64();
  for (let i = 0; i < data.length; i += 7) pieces.update(data.subarray(i, i + 7));
  t.equal(pieces.hex(), oneGo, 'chunking does not change the sum');
  t.equal(new Crc64().update(data.subarray(1)).hex(), new Crc64().update(Buffer.from(data.subarray(1))).hex(), 'unaligned views agree');
});

/** A tar and its tar-split, built side by side: segments are header and padding bytes, files are contents. */
function tarWithSplit(files: Record<string, string>): { tar: Buffer; split: Buffer } {
  const parts: Buffer[] = [];
  const lines: string[] = [];
  let pos = 0;
  const segment = (b: Buffer) => {
    if (b.length === 0) return;
    parts.push(b);
    lines.push(JSON.stringify({ type: 2, payload: b.toString('base64'), position: pos++ }));
  };
  for (const [name, content] of Object.entries(files)) {
    const body = Buffer.from(content);
    segment(encodeHeader({ name, type: TYPE.file, mode: 0o100644, uid: 0, gid: 0, size: body.length, mtime: 1_700_000_000 }));
    const crc = new Crc64().update(body).digest().toString('base64');
    lines.push(JSON.stringify({ type: 1, name, size: body.length, payload: body.length ? crc : null, position: pos++ }));
    parts.push(body);
    segment(contentPadding(body.length));
  }
  segment(END_OF_ARCHIVE);
  return { tar: Buffer.concat(parts), split: gzipSync(lines.join('\n') + '\n') };
}

t.test('assembling from tar-split rebuilds the exact tar', async (t) => {
  const dir = t.testdir({ layer: { etc: { hosts: '127.0.0.1 localhost\n' }, 'empty': '' } });
  const files = { 'etc/hosts': '127.0.0.1 localhost\n', empty: '' };
  const { tar, split } = tarWithSplit(files);
  writeFileSync(join(dir, 'ts.gz'), split);
  const rebuilt = await collect(assembleFromTarSplit(join(dir, 'ts.gz'), join(dir, 'layer'), { verifyCrc: true }));
  t.ok(rebuilt.equals(tar), 'byte-identical');
  const listed = execFileSync('tar', ['-tv'], { input: rebuilt }).toString();
  t.match(listed, /etc\/hosts/, 'GNU tar reads it');
});

t.test('assembly names the file that does not match', async (t) => {
  const dir = t.testdir({ layer: { a: 'hello' } });
  writeFileSync(join(dir, 'ts.gz'), tarWithSplit({ a: 'hello' }).split);
  writeFileSync(join(dir, 'layer', 'a'), 'jello');
  await t.rejects(collect(assembleFromTarSplit(join(dir, 'ts.gz'), join(dir, 'layer'), { verifyCrc: true })), {
    name: 'LayerContentError',
    message: new RegExp(`^${join(dir, 'layer', 'a')}: content differs from what the layer recorded \\(CRC-64`),
  });
  writeFileSync(join(dir, 'layer', 'a'), 'hello!');
  await t.rejects(collect(assembleFromTarSplit(join(dir, 'ts.gz'), join(dir, 'layer'))), /a: is 6 bytes, the tar-split recorded 5/);
  execFileSync('rm', [join(dir, 'layer', 'a')]);
  await t.rejects(collect(assembleFromTarSplit(join(dir, 'ts.gz'), join(dir, 'layer'))), /a: missing \(the layer's tar-split lists it with 5 bytes\)/);
});

t.test('corrupt tar-split input is an error naming what is wrong', async (t) => {
  const dir = t.testdir({ layer: {} });
  const run = (name: string, content: Buffer) => {
    writeFileSync(join(dir, name), content);
    return collect(assembleFromTarSplit(join(dir, name), join(dir, 'layer')));
  };
  await t.rejects(run('notgz', Buffer.from('plain text')), { name: 'LayerContentError', message: /corrupt tar-split: .*(gzip|header)/ });
  await t.rejects(run('notjson', gzipSync('{"type":2,')), /corrupt tar-split: line 1: not JSON/);
  await t.rejects(run('badpos', gzipSync('{"type":2,"payload":"","position":5}\n')), /line 1: position 5, expected 0/);
  await t.rejects(run('badtype', gzipSync('{"type":9,"position":0}\n')), /unknown entry type 9/);
  await t.rejects(run('nocrc', gzipSync('{"type":1,"name":"a","size":3,"position":0}\n')), /a has no CRC-64 payload/);
  await t.rejects(run('empty', gzipSync('')), /no entries/);
  await t.rejects(run('climb', gzipSync(`{"type":1,"name":"../../etc/passwd","size":1,"payload":"${Buffer.alloc(8).toString('base64')}","position":0}\n`)), /climbs out of the layer/);
  await t.rejects(run('truncated', gzipSync('{"type":2,"payload":"","position":0}\n').subarray(0, 20)), /corrupt tar-split/);
});

t.test('tar-split lines: name_raw keeps non-UTF-8 names as bytes', async (t) => {
  const raw = Buffer.from([0x66, 0xff, 0x6f]);
  const e = parseTarSplitLine(JSON.stringify({ type: 1, name_raw: raw.toString('base64'), size: 0, position: 0 }), 1);
  t.ok(e.type === 1 && e.nameBytes.equals(raw));
  t.ok(contentPath('/layer', raw).equals(Buffer.concat([Buffer.from('/layer/'), raw])));
  t.ok(contentPath('/layer', Buffer.from('./a//b/./c')).equals(Buffer.from('/layer/a/b/c')));
  let n = 0;
  const dir = t.testdir({});
  writeFileSync(join(dir, 'ts.gz'), gzipSync('{"type":2,"payload":"YQ==","position":0}\n\n{"type":1,"name":"x","position":1}\n'));
  for await (const entry of readTarSplit(join(dir, 'ts.gz'))) n += entry.position + 1;
  t.equal(n, 3, 'blank lines skipped; file entries without size are empty');
});

t.test('tar headers: GNU tar reads what strata writes, and strata reads it back', async (t) => {
  const longDir = 'd'.repeat(90) + '/' + 'e'.repeat(40);
  const entries = [
    { name: 'dir/', type: TYPE.dir, mode: 0o40755, size: 0 },
    { name: 'dir/file', type: TYPE.file, mode: 0o104755, size: 5, body: 'hello' },
    { name: `${longDir}/long.txt`, type: TYPE.file, mode: 0o100644, size: 2, body: 'hi' },
    { name: `n${'x'.repeat(120)}.txt`, type: TYPE.file, mode: 0o100644, size: 0 },
    { name: 'café/naïve.txt', type: TYPE.file, mode: 0o100600, size: 1, body: 'c' },
    { name: 'link', type: TYPE.symlink, mode: 0o120777, size: 0, linkname: 'dir/file' },
    { name: 'hard', type: TYPE.hardlink, mode: 0o100644, size: 0, linkname: 'dir/file' },
    { name: 'dev', type: TYPE.char, mode: 0o20644, size: 0, devmajor: 1, devminor: 3 },
  ];
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(encodeHeader({ name: e.name, type: e.type, mode: e.mode, uid: e.name === 'dir/file' ? 12345 : 0, gid: 3_000_000, size: e.size, mtime: 1_700_000_000, linkname: e.linkname, devmajor: e.devmajor, devminor: e.devminor, xattrs: e.name === 'dir/file' ? { 'security.capability': Buffer.from([1, 0, 0, 2]) } : undefined }));
    if (e.body) parts.push(Buffer.from(e.body), contentPadding(e.size));
  }
  parts.push(END_OF_ARCHIVE);
  const tar = Buffer.concat(parts);
  const listing = execFileSync('tar', ['-tv', '--numeric-owner'], { input: tar }).toString();
  t.match(listing, /-rwsr-xr-x 12345\/3000000\s+5 .* dir\/file/, 'setuid file, big gid via PAX');
  t.match(listing, new RegExp(`${longDir}/long.txt`), 'long path');
  t.match(listing, /n x{120}\.txt|nx{120}\.txt/, 'long name');
  t.match(listing, /café\/naïve\.txt/, 'non-ASCII name via PAX');
  t.match(listing, /link -> dir\/file/);
  t.match(listing, /hard link to dir\/file/);
  t.match(listing, /crw-r--r-- .* 1,3 .* dev/);
  const back: Array<{ name: string; size: number; uid: number; gid: number; body: string; xattrs: string[] }> = [];
  for await (const { entry, content } of readTar([tar])) {
    back.push({ name: entry.name, size: entry.size, uid: entry.uid, gid: entry.gid, body: (await collect(content)).toString(), xattrs: Object.keys(entry.xattrs) });
  }
  t.same(back.map((b) => b.name), entries.map((e) => e.name));
  t.same(back[1], { name: 'dir/file', size: 5, uid: 12345, gid: 3_000_000, body: 'hello', xattrs: ['security.capability'] });
  t.same(splitUstarPath(`${longDir}/long.txt`), [longDir, 'long.txt']);
  t.equal(splitUstarPath('short'), null);
});

t.test('tar reader: GNU long names and truncated archives', async (t) => {
  const dir = t.testdir({ src: {} });
  const long = 'q'.repeat(150);
  mkdirSync(join(dir, 'src', long));
  writeFileSync(join(dir, 'src', long, 'f'), 'data');
  const gnu = execFileSync('tar', ['--format=gnu', '-C', join(dir, 'src'), '-cf', '-', long]);
  const names: string[] = [];
  for await (const { entry, content } of readTar([gnu])) {
    names.push(entry.name);
    if (entry.type === '0') t.equal((await collect(content)).toString(), 'data');
  }
  t.same(names, [`${long}/`, `${long}/f`]);
  await t.rejects(async () => {
    for await (const item of readTar([gnu.subarray(0, 1024 + 100)])) await collect(item.content);
  }, { name: 'TarFormatError', message: /truncated/ });
  await t.rejects(async () => {
    for await (const _ of readTar([Buffer.alloc(512, 7)])) void _;
  }, /bad header checksum/);
  t.equal(createHash('sha256').update(gnu).digest('hex').length, 64);
  void readFileSync;
});

t.test("tar reader: Go's numbers, PAX times and end-of-archive rules", async (t) => {
  t.equal(parseNumeric(Buffer.from('0000644\0')), 0o644n, 'octal, NUL-terminated');
  t.equal(parseNumeric(Buffer.from(' 644 \0\0')), 0o644n, 'spaces and NULs trimmed');
  t.equal(parseNumeric(Buffer.from('12\0junk')), 0o12n, 'cut at the first NUL');
  t.equal(parseNumeric(Buffer.from('0128\0')), null, 'not octal');
  // The short-field fast path against the long one (text to BigInt), on every shape around its edge.
  const reference = (field: Buffer): bigint | null => {
    let b = field;
    let s = 0;
    let e = b.length;
    while (s < e && (b[s] === 0x20 || b[s] === 0)) s++;
    while (e > s && (b[e - 1] === 0x20 || b[e - 1] === 0)) e--;
    b = b.subarray(s, e);
    const nul = b.indexOf(0);
    if (nul >= 0) b = b.subarray(0, nul);
    if (b.length === 0) return 0n;
    if (![...b].every((c) => c >= 0x30 && c <= 0x37)) return null;
    const x = BigInt('0o' + b.toString('latin1'));
    return x >= 1n << 64n ? null : BigInt.asIntN(64, x);
  };
  for (const text of ['', ' ', '\0\0', '7', '77777777777777777', '777777777777777777', '1777777777777777777777', '2000000000000000000000', '7 7', '1\x002', ' 0\0 ', '00000000000000000017', '9', '-1', '+1', '0x1']) {
    t.equal(parseNumeric(Buffer.from(text, 'latin1')), reference(Buffer.from(text, 'latin1')), `${JSON.stringify(text)} as Go reads it`);
  }
  t.equal(parseNumeric(Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0x98, 0x96, 0x80])), 10_000_000n, 'base-256');
  t.equal(parseNumeric(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe])), -2n, 'base-256, negative');
  t.same(parsePaxTime('1600000000.123456789123'), { sec: 1600000000, nsec: 123456789 }, 'nanoseconds, the rest dropped');
  t.same(parsePaxTime('-1.25'), { sec: -2, nsec: 750000000 }, 'a negative time with a fraction (time.Unix(-1, -250000000))');
  t.equal(parsePaxTime('1.2e3'), null);
  t.equal(parsePaxTime(''), null);

  const file = Buffer.concat([encodeHeader({ name: 'a', type: TYPE.file, mode: 0o644, uid: 0, gid: 0, size: 1, mtime: 0 }), Buffer.from('a'), contentPadding(1)]);
  const names = async (tar: Buffer) => {
    const out: string[] = [];
    for await (const { entry } of readTar([tar])) out.push(entry.name);
    return out;
  };
  t.same(await names(file), ['a'], 'no end blocks: a clean end');
  t.same(await names(Buffer.concat([file, Buffer.alloc(512)])), ['a'], 'one zero block, then nothing: a clean end');
  t.same(await names(Buffer.concat([file, Buffer.alloc(512 * 7), Buffer.from('trailing')])), ['a'], 'anything after two zero blocks');
  await t.rejects(names(Buffer.concat([file, Buffer.alloc(512), file])), /a zero block at byte 1024 is followed by more headers/);
  await t.rejects(names(Buffer.concat([file, Buffer.alloc(700)])), /an end-of-archive block at byte 1536 is cut short/);

  // The observer sees every byte once: segments and contents put back together are the archive.
  const seen: Buffer[] = [];
  const tar = Buffer.concat([file, END_OF_ARCHIVE, Buffer.from('after')]);
  for await (const { content } of readTar([tar.subarray(0, 700), tar.subarray(700)], (b) => seen.push(Buffer.from(b)))) void content;
  t.ok(Buffer.concat(seen).equals(tar), 'the observer saw the whole archive, in order');
});
