// xxhash64 of a file's content, streamed (xxhash-wasm): for deciding changes metadata cannot decide.
import { closeSync, openSync, readSync } from 'node:fs';
import xxhash from 'xxhash-wasm';

let hasher: Awaited<ReturnType<typeof xxhash>> | null = null;

export async function contentHash(path: string): Promise<string> {
  hasher ??= await xxhash();
  const h = hasher.create64();
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest().toString(16).padStart(16, '0');
}
