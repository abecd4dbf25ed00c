// Names of the temporary entries strata's writers create inside a store (a layer being applied, a file
// being replaced). Each carries the writer's pid and the machine's boot id, so that an entry whose writer
// is gone — killed, or on another boot or another machine, in a copied store — is known to be stale.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

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
