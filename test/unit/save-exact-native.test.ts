// The native exact rebuild (drivers/archive/assemble.ts exactBatches / writeExactNatively, native
// parseTarSplitLines and exactPlan) against the JavaScript reference: the same batches from the same
// tar-splits, every odd line left to JavaScript, the same tar and sha256, and the same words for a file
// that does not match its record.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { assembleFromTarSplit, exactBatches, exactHelpers, writeExactNatively } from '../../drivers/archive/assemble.js';
import { Crc64 } from '../../drivers/archive/crc64.js';
import { contentPadding, encodeHeader, END_OF_ARCHIVE, TYPE } from '../../drivers/archive/tar-header.js';
import { openLayerDir } from '../../native/open-beneath.js';

const native = exactHelpers();

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

/** A tar of `files` and its tar-split lines (JSON objects, to be written in whatever form a test wants). */
function tarWithSplit(files: Array<[Buffer, Buffer]>): { tar: Buffer; lines: Record<string, unknown>[] } {
  const parts: Buffer[] = [];
  const lines: Record<string, unknown>[] = [];
  let pos = 0;
  const segment = (b: Buffer) => {
    parts.push(b);
    lines.push({ type: 2, payload: b.toString('base64'), position: pos++ });
  };
  for (const [name, body] of files) {
    segment(encodeHeader({ name: name.toString('latin1'), type: TYPE.file, mode: 0o100644, uid: 0, gid: 0, size: body.length, mtime: 1_700_000_000 }));
    const crc = new Crc64().update(body).digest().toString('base64');
    const utf8 = Buffer.from(name.toString('utf8')).equals(name);
    lines.push({ type: 1, ...(utf8 ? { name: name.toString('utf8') } : { name_raw: name.toString('base64') }), size: body.length, payload: body.length ? crc : null, position: pos++ });
    parts.push(body);
    segment(contentPadding(body.length));
  }
  segment(END_OF_ARCHIVE);
  return { tar: Buffer.concat(parts), lines };
}

/** Everything the batches say, flattened (their cuts differ between the parsers). */
async function flatBatches(path: string, js: boolean) {
  const before = process.env.STRATA_NATIVE;
  if (js) process.env.STRATA_NATIVE = '0';
  try {
    const segments: Buffer[] = [];
    const names: Buffer[] = [];
    const files: number[] = [];
    let bytes = 0;
    let pending = 0;
    for await (const b of exactBatches(path)) {
      segments.push(b.segments);
      names.push(b.names);
      bytes += b.bytes;
      for (let i = 0; i < b.rows; i++) {
        pending += b.table[3 * i];
        if (b.table[3 * i + 2] > 0) {
          files.push(pending, b.table[3 * i + 1], b.table[3 * i + 2]);
          pending = 0;
        }
      }
    }
    return { segments: Buffer.concat(segments).toString('hex'), names: Buffer.concat(names).toString('latin1'), files, bytes, trailing: pending };
  } finally {
    if (before === undefined) delete process.env.STRATA_NATIVE;
    else process.env.STRATA_NATIVE = before;
  }
}

const files: Array<[Buffer, Buffer]> = [
  [Buffer.from('etc/hosts'), Buffer.from('127.0.0.1 localhost\n')],
  [Buffer.from('empty'), Buffer.alloc(0)],
  [Buffer.from('ünï/cödé & <x>'), Buffer.from('utf-8 name, with characters Go escapes')],
  [Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0xe9]), Buffer.from('a name that is not UTF-8 (name_raw)')],
  [Buffer.from('big'), Buffer.alloc(300 * 1024, 'z')],
];

t.test('native and JavaScript parsers give the same batches, and odd lines go to JavaScript', { skip: !native && 'native helpers not built' }, async (t) => {
  const dir = t.testdir({});
  const { lines } = tarWithSplit(files);
  // Go's encoder escapes < > & as \u003c …; JSON.stringify does not: both spellings are read the same.
  const goJson = (o: unknown) => JSON.stringify(o).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  const variants: Record<string, string> = {
    plain: lines.map((l) => JSON.stringify(l)).join('\n') + '\n',
    goEscapes: lines.map(goJson).join('\n') + '\n',
    crlfAndBlankLines: lines.map((l) => JSON.stringify(l)).join('\r\n\n') + '\r\n',
    noFinalNewline: lines.map((l) => JSON.stringify(l)).join('\n'),
    keysReordered: lines.map((l) => JSON.stringify(Object.fromEntries(Object.entries(l).reverse()))).join('\n'),
    unknownKeys: lines.map((l) => JSON.stringify({ extra: 'x', ...l, more: null })).join('\n'),
    // Shapes left to JavaScript midway: whitespace, a number spelt with an exponent, an escaped payload.
    whitespace: lines.map((l, i) => (i === 3 ? JSON.stringify(l, null, 1).replace(/\n/g, ' ') : JSON.stringify(l))).join('\n'),
    exponent: lines.map((l, i) => (i === 4 ? JSON.stringify(l).replace(/"position":4/, '"position":4e0') : JSON.stringify(l))).join('\n'),
    escapedPayload: lines.map((l, i) => (i === 6 ? JSON.stringify(l).replace(/"payload":"(.)/, (_m, c: string) => `"payload":"\\u00${c.charCodeAt(0).toString(16)}`) : JSON.stringify(l))).join('\n'),
  };
  const reference = await (async () => {
    writeFileSync(join(dir, 'plain.gz'), gzipSync(variants.plain));
    return flatBatches(join(dir, 'plain.gz'), true);
  })();
  t.equal(reference.files.length / 3, 4, 'four files to read (the empty one is not)');
  for (const [name, text] of Object.entries(variants)) {
    const path = join(dir, `${name}.gz`);
    writeFileSync(path, gzipSync(text));
    t.same(await flatBatches(path, false), await flatBatches(path, true), `${name}: native = JavaScript`);
  }
  t.same(await flatBatches(join(dir, 'goEscapes.gz'), false), reference, 'escaped names decode to the same bytes');
});

t.test('a corrupt tar-split gets the JavaScript reader\'s words either way', { skip: !native && 'native helpers not built' }, async (t) => {
  const dir = t.testdir({});
  const cases: Record<string, Buffer> = {
    notgz: Buffer.from('plain text'),
    notjson: gzipSync('{"type":2,"payload":"","position":0}\n{"type":2,'),
    badpos: gzipSync('{"type":2,"payload":"","position":0}\n{"type":2,"payload":"","position":5}\n'),
    empty: gzipSync(''),
    nocrc: gzipSync('{"type":1,"name":"a","size":5,"payload":null,"position":0}\n'),
    truncated: gzipSync('{"type":2,"payload":"","position":0}\n').subarray(0, 20),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    const path = join(dir, `${name}.gz`);
    writeFileSync(path, bytes);
    const failure = async (js: boolean) => {
      try {
        await flatBatches(path, js);
        return 'no error';
      } catch (err) {
        return `${(err as Error).name}: ${(err as Error).message}`;
      }
    };
    const js = await failure(true);
    t.match(js, /^LayerContentError: .*corrupt tar-split/, `${name}: JavaScript names it`);
    t.equal(await failure(false), js, `${name}: the same error natively`);
  }
});

t.test('the native rebuild writes and hashes the exact tar, and names a file that does not match as JavaScript does', { skip: !native && 'native helpers not built' }, async (t) => {
  const dir = t.testdir({});
  const layer = join(dir, 'layer');
  mkdirSync(join(layer, 'etc'), { recursive: true });
  mkdirSync(join(layer, 'ünï'));
  for (const [name, body] of files) writeFileSync(Buffer.concat([Buffer.from(`${layer}/`), name]), body);
  const { tar, lines } = tarWithSplit(files);
  const split = join(dir, 'ts.gz');
  writeFileSync(split, gzipSync(lines.map((l) => JSON.stringify(l)).join('\n') + '\n'));
  const out = join(dir, 'out.tar');
  const rebuild = async (fd: number) => {
    const opened = openLayerDir(layer, []);
    try {
      return await writeExactNatively(native!, fd, opened, exactBatches(split));
    } finally {
      opened.close();
    }
  };
  const fd = openSync(out, 'w');
  let result;
  try {
    result = await rebuild(fd);
  } finally {
    closeSync(fd);
  }
  t.ok(readFileSync(out).equals(tar), 'byte-identical tar');
  t.same(result, { bytes: tar.length, digest: `sha256:${createHash('sha256').update(tar).digest('hex')}` }, 'its size and sha256');
  t.same(await rebuild(-1), result, 'hashed without writing: the same');
  t.match(execFileSync('tar', ['-t'], { input: readFileSync(out) }).toString(), /etc\/hosts/);

  const words = async () => {
    const nativeWords = await rebuild(-1).then(() => 'no error', (err: Error) => `${err.name}: ${err.message}`);
    const jsWords = await collect(assembleFromTarSplit(split, layer)).then(() => 'no error', (err: Error) => `${err.name}: ${err.message}`);
    return { nativeWords, jsWords };
  };
  const hosts = join(layer, 'etc', 'hosts');
  truncateSync(hosts, 3);
  let w = await words();
  t.match(w.nativeWords, /^LayerContentError: .*etc\/hosts: is 3 bytes, the tar-split recorded 20$/, 'a file of another size');
  t.equal(w.nativeWords, w.jsWords, 'in the same words');
  rmSync(hosts);
  w = await words();
  t.match(w.nativeWords, /etc\/hosts: missing \(the layer's tar-split lists it with 20 bytes\)$/, 'a missing file');
  t.equal(w.nativeWords, w.jsWords, 'in the same words');
  execFileSync('mkfifo', [hosts]);
  w = await words();
  t.match(w.nativeWords, /etc\/hosts: is a FIFO, not a regular file/, 'a FIFO is named, never read');
  t.equal(w.nativeWords, w.jsWords, 'in the same words');
  // Files are opened beneath the layer only: a symlink, as the file or as a directory on its way, is refused.
  rmSync(hosts);
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'hosts'), Buffer.alloc(20, 'x'));
  symlinkSync(join(outside, 'hosts'), hosts);
  w = await words();
  t.match(w.nativeWords, /^LayerContentError: .*etc\/hosts: /, 'a symlinked file is refused, named');
  t.equal(w.nativeWords, w.jsWords, 'in the same words');
  rmSync(join(layer, 'etc'), { recursive: true });
  symlinkSync(outside, join(layer, 'etc'));
  w = await words();
  t.match(w.nativeWords, /^LayerContentError: .*etc\/hosts: /, 'a file below a symlinked directory is refused, named');
  t.equal(w.nativeWords, w.jsWords, 'in the same words');
});
