// mkdir -p, one directory at a time: Node's recursive mkdir never returns for a path the kernel will not
// make below /proc (it retries the ENOENT forever), so every writer that creates a missing root uses this.
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { errnoOf, fsError, StrataError } from '../native/errors.js';

export interface MakeDirectoriesOptions {
  /** Mode of `dir` itself, and of the missing parents made on the way. */
  mode: number;
  parentMode: number;
  /** The error for a path on the way that is no directory. */
  notDirectory: (path: string) => StrataError;
  /** Words before the reason of a failed mkdir ("cannot create the data-root"). */
  what?: string;
}

/** Makes `dir` and its missing parents; returns the first directory it made (undefined when `dir` was there). */
export function makeDirectories(dir: string, opts: MakeDirectoriesOptions): string | undefined {
  const missing: string[] = [];
  for (let p = dir; ; p = dirname(p)) {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT' || dirname(p) === p) throw fsError(p, err, opts.what);
      missing.unshift(p);
      continue;
    }
    if (!st.isDirectory()) throw opts.notDirectory(p);
    break;
  }
  for (const p of missing) {
    try {
      mkdirSync(p, { mode: p === dir ? opts.mode : opts.parentMode });
    } catch (err) {
      throw fsError(p, err, opts.what);
    }
  }
  return missing[0];
}
