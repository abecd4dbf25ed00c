// Names of the temporary entries strata's writers create inside a store (a layer being applied, a file
// being replaced). Each carries the writer's pid and the machine's boot id, so that an entry whose writer
// is gone — killed, or on another boot or another machine, in a copied store — is known to be stale.
// The next write command removes stale ones (and only these: Docker's own layerdb/tmp/write-set-<n> are
// not strata's). Entries that must survive their writer — a resumable migration's journal and its
// half-built layers (issue 16) — take another prefix, e.g. `.strata-migrate-`, so that nothing here ever
// takes them for an interrupted write.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const TEMP_PREFIX = '.strata-tmp-';

let bootIdCache: string | undefined;

/** The first 8 hex digits of this boot's id (/proc/sys/kernel/random/boot_id), or "00000000" without one. */
export function bootId(): string {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').replace(/-/g, '').trim().slice(0, 8) || '00000000';
    } catch {
      bootIdCache = '00000000';
    }
  }
  return bootIdCache;
}

/** A temporary entry's name for this process: `.strata-tmp-<pid>-<boot>-<random>[-<what>]`. */
export function tempName(what = ''): string {
  return `${TEMP_PREFIX}${process.pid}-${bootId()}-${randomBytes(4).toString('hex')}${what ? `-${what}` : ''}`;
}

export interface TempEntry {
  /** null for names written by strata before pids were recorded (always stale). */
  pid: number | null;
  bootId: string | null;
  /** What the entry was for (e.g. the cache id of the layer being applied), when the name says. */
  what: string;
}

const TEMP_NAME = /^\.strata-tmp-(\d+)-([0-9a-f]{8})-[0-9a-f]{8}(?:-(.*))?$/s;

/** Parses a temporary entry's name (a file name, not a path); null when it is not one of strata's. */
export function parseTempName(name: string): TempEntry | null {
  if (!name.startsWith(TEMP_PREFIX)) return null;
  const m = TEMP_NAME.exec(name);
  if (m) return { pid: Number(m[1]), bootId: m[2], what: m[3] ?? '' };
  return { pid: null, bootId: null, what: name.slice(TEMP_PREFIX.length) };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the writer of a temporary entry is gone (another boot or machine, or no such process now). */
export function isStaleTemp(entry: TempEntry): boolean {
  if (entry.pid === null || entry.bootId !== bootId()) return true;
  return entry.pid !== process.pid && !pidAlive(entry.pid);
}

/**
 * Removes the stale strata temporary entries directly in `dir` (not below); returns their paths.
 * Only a writer holding the store's write lock may call this. A missing directory has none.
 */
export function removeStaleTemps(dir: string): string[] {
  let names: Buffer[];
  try {
    names = readdirSync(dir, { encoding: 'buffer' });
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    // latin1 keeps every byte as one character, so a non-UTF-8 tail cannot hide a prefix or turn into another name.
    const entry = parseTempName(name.toString('latin1'));
    if (!entry || !isStaleTemp(entry)) continue;
    const path = Buffer.concat([Buffer.from(`${dir}/`), name]);
    rmSync(path, { recursive: true, force: true });
    removed.push(join(dir, name.toString('latin1')));
  }
  return removed;
}
