// Decompression of layer input, as dockerd's DecompressStream does it (moby pkg/archive/archive.go): the
// format is told by its magic bytes, and anything else passes through as a plain tar. gzip through
// node:zlib; xz, bzip2 and zstd through the system's tools (moby itself spawns `xz -d`), zstd through
// node:zlib where Node has it. The output can be bounded, so a compression bomb stops early.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { StrataError } from '../../native/errors.js';

export type Compression = 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** Bytes of input needed to tell the format. */
export const MAGIC_BYTES = 6;

const MAGIC: Array<[Compression, number[]]> = [
  ['gzip', [0x1f, 0x8b, 0x08]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/** The compression the first bytes of a stream announce, or null for anything else (a plain tar). */
export function detectCompression(head: Uint8Array): Compression | null {
  for (const [format, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return format;
  }
  return null;
}

/** The compression of a regular file, from its first bytes. */
export function compressionOfFile(path: string, offset = 0): Compression | null {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(MAGIC_BYTES);
    const n = readSync(fd, head, 0, MAGIC_BYTES, offset);
    return detectCompression(head.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** The Debian package that has each tool. */
const TOOLS: Record<Exclude<Compression, 'gzip'>, { command: string; pkg: string }> = {
  bzip2: { command: 'bzip2', pkg: 'bzip2' },
  xz: { command: 'xz', pkg: 'xz-utils' },
  zstd: { command: 'zstd', pkg: 'zstd' },
};

export interface DecompressOptions {
  /** Names the input in errors. */
  label: string;
  /** Stop with an error once the decompressed stream exceeds this many bytes (--max-layer-bytes). */
  maxBytes?: number;
}

/** A byte stream decompressed if its magic says so (else passed through), bounded by `maxBytes`. */
export async function* decompress(source: AsyncIterable<Buffer | Uint8Array>, opts: DecompressOptions): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  let ended = false;
  while (headLength < MAGIC_BYTES) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const chunk = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    head.push(chunk);
    headLength += chunk.length;
  }
  const format = detectCompression(Buffer.concat(head));
  async function* input(): AsyncGenerator<Buffer> {
    yield* head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
  }
  let out: AsyncIterable<Buffer>;
  if (format === null) out = input();
  else if (format === 'gzip') out = throughZlib(input(), zlib.createGunzip(), opts.label, format);
  else if (format === 'zstd' && 'createZstdDecompress' in zlib) out = throughZlib(input(), (zlib as unknown as { createZstdDecompress(): zlib.Gunzip }).createZstdDecompress(), opts.label, format);
  else out = throughTool(input(), format, opts.label);
  let total = 0;
  for await (const chunk of out) {
    total += chunk.length;
    if (opts.maxBytes !== undefined && total > opts.maxBytes) {
      throw new StrataError(`is larger than --max-layer-bytes ${opts.maxBytes}${format ? ` once ${format}-decompressed` : ''}; applying stopped`, { file: opts.label });
    }
    yield chunk;
  }
}

async function* throughZlib(input: AsyncIterable<Buffer>, inflate: zlib.Gunzip, label: string, format: Compression): AsyncGenerator<Buffer> {
  const from = Readable.from(input);
  from.on('error', (err) => inflate.destroy(err));
  from.pipe(inflate);
  try {
    for await (const chunk of inflate) yield chunk as Buffer;
  } catch (err) {
    if (err instanceof StrataError) throw err;
    throw new StrataError(`corrupt ${format} data (${(err as Error).message})`, { file: label, cause: err });
  } finally {
    from.destroy();
    inflate.destroy();
  }
}

/** Pipes the input through `<tool> -d -c -q`, as moby runs `xz -d -c -q`. */
async function* throughTool(input: AsyncIterable<Buffer>, format: Exclude<Compression, 'gzip'>, label: string): AsyncGenerator<Buffer> {
  const tool = TOOLS[format];
  const child = spawn(tool.command, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  const exited = new Promise<{ code: number | null; error?: NodeJS.ErrnoException }>((resolve) => {
    child.on('error', (error: NodeJS.ErrnoException) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });
  let feedError: unknown = null;
  const feeding = (async () => {
    try {
      for await (const chunk of input) {
        if (!child.stdin.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              child.stdin.off('drain', done).off('close', done);
              resolve();
            };
            child.stdin.once('drain', done).once('close', done);
          });
        }
        if (child.stdin.destroyed) return;
      }
      child.stdin.end();
    } catch (err) {
      feedError = err;
      child.kill();
    }
  })();
  child.stdin.on('error', () => {}); // EPIPE when the tool stops reading: its exit status says why
  let complete = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    complete = true;
  } finally {
    if (!complete) child.kill();
    await feeding;
    const { code, error } = await exited;
    if (feedError) throw feedError;
    if (error?.code === 'ENOENT') {
      throw new StrataError(`is ${format}-compressed, and decompressing it needs \`${tool.command}\` (apt-get install ${tool.pkg})`, { file: label });
    }
    if (complete && (error || code !== 0)) {
      const why = Buffer.concat(stderr).toString('utf8').trim().split('\n')[0] || error?.message || `exit status ${code}`;
      throw new StrataError(`corrupt ${format} data (${tool.command}: ${why})`, { file: label });
    }
  }
}
