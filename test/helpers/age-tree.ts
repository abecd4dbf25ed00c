// A store nobody wrote to lately: prune leaves anything modified within --min-age alone.
import { lstatSync, lutimesSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

/** A day ago, in seconds since the epoch (what utimes takes). */
export const OLD = Date.now() / 1000 - 3600 * 24;

/** Sets every entry's times below `path` (itself included) to `when`, symlinks themselves not their targets. */
export function ageTree(path: string, when = OLD): void {
  const st = lstatSync(path);
  if (st.isDirectory()) for (const name of readdirSync(path)) ageTree(join(path, name), when);
  if (st.isSymbolicLink()) lutimesSync(path, when, when);
  else utimesSync(path, when, when);
}
