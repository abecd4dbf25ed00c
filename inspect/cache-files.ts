// Writing strata's caches (the metadata index, layer indexes) under $XDG_CACHE_HOME/strata: each file is
// written to a temporary name and renamed into place, private to the user, and a directory keeps only
// its most recent files. A cache that cannot be written is only slower: nothing here throws.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A temporary file this old was left by a process that died while writing it. */
const STALE_TEMP_MS = 60_000;

/** Writes `bytes` to `file` in `dir` (temp + rename), then keeps the `keep` newest files named `prefix`… there. */
export function writeCacheFile(dir: string, file: string, bytes: Uint8Array, prefix: string, keep: number): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      writeFileSync(temp, bytes, { mode: 0o600 });
      renameSync(temp, file);
    } catch {
      rmSync(temp, { force: true });
    }
    evict(dir, prefix, keep);
  } catch {
    // a cache that cannot be written is only slower
  }
}

/** Keeps the cache small: the `keep` most recently written files named `prefix`…, no stale temporary files. */
function evict(dir: string, prefix: string, keep: number): void {
  const now = Date.now();
  const kept: Array<[string, number]> = [];
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const path = join(dir, name);
    try {
      const mtime = statSync(path).mtimeMs;
      if (name.endsWith('.tmp')) {
        if (now - mtime > STALE_TEMP_MS) rmSync(path, { force: true });
      } else kept.push([path, mtime]);
    } catch {
      // removed by another process meanwhile
    }
  }
  kept.sort((a, b) => b[1] - a[1]);
  for (const [path] of kept.slice(keep)) rmSync(path, { force: true });
}
