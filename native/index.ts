// Loads strata's optional native helpers (strata-native.c, built into dist/ by `npm run build`). Every
// caller has a JavaScript path for when they are missing or turned off with STRATA_NATIVE=0.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Lstat numbers per entry in scanDir's `stats`, in this order. */
export const SCAN_FIELDS = ['mode', 'nlink', 'uid', 'gid', 'size', 'mtimeSec', 'mtimeNsec', 'rdev', 'dev', 'ino', 'blocks'] as const;
export const SCAN_STRIDE = SCAN_FIELDS.length;

export interface ScannedDir {
  /** Entry names sorted by their bytes. */
  names: string[];
  /** SCAN_STRIDE numbers per entry (SCAN_FIELDS). */
  stats: Float64Array;
  /** Per entry index, its xattrs as [name, value, …] (only entries that have some; only when asked). */
  xattrs?: Array<Array<string | Buffer> | undefined>;
}

export interface NativeSubtree {
  usage: { apparentBytes: number; allocatedBytes: number; contentBytes: number; entries: number };
  multiLinked: number[];
  errors: Array<[string, string]>;
}

export interface NativeHelpers {
  /**
   * Buffers and (path, size) pairs, written in order on a libuv thread: small files through a staging
   * buffer, large ones spliced into a pipe or sent into a file; waits whenever a non-blocking pipe is full.
   */
  writePlan(fd: number, ops: Array<Buffer | string | number>): Promise<number>;
  /** Grows a pipe's buffer to `bytes` where allowed; returns its capacity, or 0 when fd is no pipe. */
  growPipe(fd: number, bytes: number): number;
  scanDir(dir: string, withXattrs: boolean): ScannedDir;
  walkSubtree(dir: string, device: number): NativeSubtree;
  walkSubtrees(dirs: string[], device: number, threads: number): Promise<NativeSubtree[]>;
}

let loaded: NativeHelpers | null | undefined;

/** Where the built helpers may be: next to the bundle, one level up from a chunk, or the repo's dist/ (from native/ in the sources). */
function candidates(): string[] {
  return ['./strata-native.node', '../strata-native.node', '../dist/strata-native.node'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
}

/** The native helpers, or null when they are not built or STRATA_NATIVE=0. */
export function nativeHelpers(): NativeHelpers | null {
  if (process.env.STRATA_NATIVE === '0') return null; // read each time, so tests can compare both paths
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== 'linux') return loaded;
  const file = candidates().find((f) => existsSync(f));
  if (!file) return loaded;
  try {
    loaded = createRequire(import.meta.url)(file) as NativeHelpers;
  } catch {
    loaded = null; // built for another Node: the JavaScript paths still work
  }
  return loaded;
}
