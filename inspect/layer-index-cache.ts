// A layer's file index as its tar-split gives it (layer-files.ts: what the TUI's files pane lists), kept
// outside the store under $XDG_CACHE_HOME/strata/layers/, one file per tar-split. Inflating and walking the
// tar-split of a layer of tens of thousands of files takes a large part of a second; the index comes back
// in a few milliseconds. A tar-split is written once, when its layer is made, and the index is served
// only while the file there is the one that was read: the same device, inode, size, mtime and ctime, that
// ctime well before the read began (the metadata index's rule: a change during or after the read cannot
// look the same), and the same strata code. Nothing is written into the store; a cache that cannot be
// read or written is skipped without a word.
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, realpathSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { writeCacheFile } from './cache-files.js';
import { LayerIndex, type LayerIndexColumns } from './layer-files.js';
import { cacheDir, cacheOff, codeIdentity, trustedCtime } from './metadata-index.js';

/** Bumped whenever what a cached index holds changes shape. */
const FORMAT = 1;
/** Layer indexes kept at most (the least recently written go first). */
const KEEP = 256;

interface CachedIndex {
  format: number;
  code: string;
  /** The tar-split's lstat when it was read: dev, ino, size, mtimeMs, ctimeMs. */
  stat: number[];
  columns: LayerIndexColumns;
}

const statNumbers = (st: Stats): number[] => [st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs];
const sameNumbers = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((n, i) => n === b[i]);

function cacheFile(path: string): { dir: string; file: string } | null {
  try {
    const dir = join(cacheDir(), 'layers');
    const key = createHash('sha256').update(`${realpathSync(path)}\0${codeIdentity()}`).digest('hex').slice(0, 32);
    return { dir, file: join(dir, `layer-${key}.bin`) };
  } catch {
    return null;
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** The cached index of tar-split `path`, when there is one for the file there now. */
function cached(file: string, st: Stats): LayerIndex | null {
  try {
    const data = deserialize(readFileSync(file)) as CachedIndex;
    if (data?.format !== FORMAT || data.code !== codeIdentity() || !Array.isArray(data.stat)) return null;
    if (!sameNumbers(data.stat, statNumbers(st))) return null;
    return LayerIndex.fromColumns(data.columns);
  } catch {
    return null; // absent, unreadable, truncated or corrupt: read the tar-split (and write it anew)
  }
}

/** What the last read did (the tests' view): served the cache, read the tar-split, or left the cache alone. */
let outcome: 'hit' | 'miss' | 'off' | null = null;
let pendingWrite: Promise<void> = Promise.resolve();

export function lastLayerIndexOutcome(): 'hit' | 'miss' | 'off' | null {
  return outcome;
}

/** Resolves once the writes started so far are done (the tests wait for it). */
export function layerIndexWritesDone(): Promise<void> {
  return pendingWrite;
}

/**
 * The index of tar-split `path`: from the cache when it holds one for the file there now, else `read()`,
 * kept afterwards (written once the caller has it, off its way) when the file stayed the same throughout
 * and its ctime is old enough to be trusted.
 */
export async function indexFromTarSplitCached(path: string, read: () => Promise<LayerIndex>): Promise<LayerIndex> {
  const before = cacheOff() ? null : lstatOrNull(path);
  const where = before?.isFile() ? cacheFile(path) : null;
  if (!before || !where) {
    outcome = 'off';
    return read();
  }
  const hit = cached(where.file, before);
  if (hit) {
    outcome = 'hit';
    return hit;
  }
  outcome = 'miss';
  const began = Date.now();
  const index = await read();
  const after = lstatOrNull(path);
  if (after !== null && sameNumbers(statNumbers(after), statNumbers(before)) && trustedCtime(before.ctimeMs, began)) {
    const data: CachedIndex = { format: FORMAT, code: codeIdentity(), stat: statNumbers(before), columns: index.toColumns() };
    pendingWrite = pendingWrite.then(() => new Promise<void>((resolve) => setImmediate(() => (writeCacheFile(where.dir, where.file, serialize(data), 'layer-', KEEP), resolve()))));
  }
  return index;
}
