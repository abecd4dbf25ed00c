// The write lock of a data-root: one strata writer at a time. The lock is a file in the root,
// <root>/.strata-write.lock, holding the writer's pid, boot id and process start time. It is created
// exclusively — staged under a temporary name, then link(2)ed into place, which like O_EXCL fails when the
// name exists and makes the lock appear with its content complete. A lock whose writer is gone (no such
// process, a reused pid, another boot, or another machine in a copied store) is stale and taken over; a
// live one refuses. Read-only commands, and a migration's source, never take it: they write nothing.
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf, fsError, StrataError } from '../native/errors.js';
import { bootId, tempName } from '../native/temp-names.js';

export const WRITE_LOCK_NAME = '.strata-write.lock';

export class WriteLockedError extends StrataError {
  override name = 'WriteLockedError';
}

/** What a lock file records about its writer. */
export interface LockHolder {
  pid: number;
  bootId: string;
  /** The writer's start time in clock ticks since boot (/proc/<pid>/stat), which tells a reused pid apart. */
  startTime: string | null;
  /** The command holding the lock (load, apply, demo…), to name it to a second writer. */
  command: string;
  /** Tells this lock apart from any other, so a writer only ever removes its own. */
  nonce: string;
}

export interface WriteLock {
  readonly file: string;
  readonly holder: LockHolder;
  /** Removes the lock if it is still this writer's. Idempotent. */
  release(): void;
}

/** A process's start time in clock ticks since boot, or null when there is no such process. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function parseHolder(text: string): LockHolder | null {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid !== 'number' || typeof h.bootId !== 'string' || typeof h.nonce !== 'string') return null;
    return { pid: h.pid, bootId: h.bootId, startTime: typeof h.startTime === 'string' ? h.startTime : null, command: String(h.command ?? 'strata'), nonce: h.nonce };
  } catch {
    return null;
  }
}

/** The lock's holder; 'none' without a lock file, 'unreadable' when its content is not a lock's. */
function readHolderAt(file: string): LockHolder | 'none' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return 'none';
    throw fsError(file, err);
  }
  return parseHolder(text) ?? 'unreadable';
}

/** Who holds the write lock of `root`, or null when nobody does (for reports; writers use acquireWriteLock). */
export function readWriteLock(root: string): LockHolder | null {
  const h = readHolderAt(join(root, WRITE_LOCK_NAME));
  return typeof h === 'string' ? null : h;
}

/** Whether the writer that holds a lock is gone. */
export function isLockStale(holder: LockHolder): boolean {
  if (holder.bootId !== bootId()) return true;
  const start = processStartTime(holder.pid);
  if (start === null) return true;
  return holder.startTime !== null && start !== holder.startTime;
}

/**
 * Moves a stale lock out of the way. It is renamed aside first and removed only if it is still the stale
 * one: should another writer have taken the lock over in between, its lock is put back.
 */
function clearStaleLock(root: string, file: string, stale: LockHolder | 'unreadable'): void {
  const aside = join(root, tempName('stale-lock'));
  try {
    renameSync(file, aside);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    throw fsError(file, err);
  }
  const moved = readHolderAt(aside);
  const same = stale === 'unreadable' ? moved === 'unreadable' : typeof moved !== 'string' && moved.nonce === stale.nonce;
  if (!same) {
    try {
      linkSync(aside, file);
    } catch {
      // a third writer holds the lock now; the one moved aside lost a race it could not have won
    }
  }
  rmSync(aside, { force: true });
}

function refusal(file: string, holder: LockHolder): WriteLockedError {
  return new WriteLockedError(`another strata ${holder.command} (pid ${holder.pid}) is writing to this store; wait for it to finish`, { file });
}

/** Takes the write lock of `root` (an existing directory) for `command`; refuses while a live writer holds it. */
export function acquireWriteLock(root: string, command: string): WriteLock {
  const file = join(root, WRITE_LOCK_NAME);
  const holder: LockHolder = { pid: process.pid, bootId: bootId(), startTime: processStartTime(process.pid), command, nonce: randomBytes(8).toString('hex') };
  const staged = join(root, tempName('write-lock'));
  try {
    writeFileSync(staged, `${JSON.stringify(holder)}\n`, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    throw fsError(staged, err, 'cannot create the write lock');
  }
  try {
    for (let attempt = 0; attempt < 8; attempt++) {
      try {
        linkSync(staged, file);
        return lockFor(file, holder);
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw fsError(file, err, 'cannot create the write lock');
      }
      const current = readHolderAt(file);
      if (current === 'none') continue;
      if (current !== 'unreadable' && !isLockStale(current)) throw refusal(file, current);
      clearStaleLock(root, file, current);
    }
    throw new WriteLockedError('the write lock keeps changing hands; try again', { file });
  } finally {
    rmSync(staged, { force: true });
  }
}

function lockFor(file: string, holder: LockHolder): WriteLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    try {
      const current = readHolderAt(file);
      if (typeof current !== 'string' && current.nonce === holder.nonce) rmSync(file, { force: true });
    } catch {
      // a lock that cannot be read back or removed is stale once this process is gone
    }
  };
  // process.exit() skips `finally` blocks; the lock goes with the process anyway.
  process.on('exit', release);
  return { file, holder, release };
}
