// Thin devices strata has made readable: each one's filesystem image assembled in a temporary directory
// and loop-mounted read-only there. A few stay mounted after their last use (listing one directory at a
// time asks for the same layer again and again); the rest are unmounted, and everything is undone when
// the driver is closed or the process ends (exit, or SIGINT/SIGTERM/SIGHUP).
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fsError, StrataError } from '../../native/errors.js';
import { bootId, isStaleTemp } from '../../native/temp-names.js';
import { detachOwnMount, executeMount, mountInfo, MountError } from '../mount.js';
import type { MountDescription } from '../types.js';

/** Where device images are assembled: $STRATA_TMPDIR, $TMPDIR, else /var/tmp (on disk: /tmp may be RAM). */
export function imageTempBase(env: NodeJS.ProcessEnv = process.env): string {
  return env.STRATA_TMPDIR || env.TMPDIR || '/var/tmp';
}

/** The prefix of a directory holding a device image `strata mount` left mounted (strata umount removes it). */
export const MOUNT_DIR_PREFIX = 'strata-dm-mount-';

/** A new directory, with mnt/ inside, for a device image that outlives the process (strata mount). */
export function persistentMountDir(hash: string): string {
  const base = imageTempBase();
  removeStaleSessions(base);
  try {
    const dir = mkdtempSync(join(realpathSync(resolve(base)), `${MOUNT_DIR_PREFIX}${hash.slice(0, 12)}-`));
    mkdirSync(join(dir, 'mnt'), { mode: 0o700 });
    return dir;
  } catch (err) {
    throw fsError(base, err, 'no directory for device images here (STRATA_TMPDIR chooses another)');
  }
}

export interface HeldDevice {
  /** <session>/<hash>: holds device.img and mnt/. */
  readonly dir: string;
  readonly mnt: string;
  users: number;
  lastUse: number;
}

/** Devices kept mounted once nothing uses them, for the next use. */
const KEEP_IDLE = 4;

const live = new Set<HeldDevices>();
let hooked = false;

function releaseEverything(): void {
  for (const h of live) h.closeAll();
}

function hookProcessEnd(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', releaseEverything);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (signal: NodeJS.Signals) => {
    releaseEverything();
    signals.forEach((s) => process.off(s, onSignal));
    // Raised again, as strata's other handlers do: it then ends the process as it would have.
    process.kill(process.pid, signal);
  };
  signals.forEach((s) => process.on(s, onSignal));
}

/** A session directory, named for the process that made it. */
const SESSION = /^strata-dm-(\d+)-([0-9a-f]{8})-/;

/** A directory strata made for itself here: a real directory (no symlink), this user's, mode 0700. */
function isOwnDirectory(path: string): boolean {
  try {
    const st = lstatSync(path);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o777) === 0o700;
  } catch {
    return false;
  }
}

/**
 * What a strata killed with SIGKILL left: its session directories (their device images, still mounted),
 * and device images of `strata mount`s whose mount is gone (unmounted by hand, or the machine rebooted).
 * Live processes' sessions are left alone, and anything not made by this user as strata makes it.
 * Never throws: a leftover that will not go is left for a later run.
 */
export function removeStaleSessions(where: string): void {
  let base: string;
  let names: string[];
  try {
    base = realpathSync(resolve(where));
    names = readdirSync(base);
  } catch {
    return;
  }
  const mounted = new Set(mountInfo().map((m) => m.mountPoint));
  for (const name of names) {
    const dir = join(base, name);
    const session = SESSION.exec(name);
    const pid = session?.[1];
    // A session of a process gone (or of another boot: pids are used again) is stale.
    const stale = session ? isStaleTemp({ pid: Number(session[1]), bootId: session[2], what: '' }) : name.startsWith(MOUNT_DIR_PREFIX) && !mounted.has(join(dir, 'mnt')) && olderThan(dir, 60_000);
    if (!stale || !isOwnDirectory(dir)) continue;
    let busy = false;
    for (const mnt of pid ? safeList(dir).map((hash) => join(dir, hash, 'mnt')) : []) {
      if (!mounted.has(mnt)) continue;
      try {
        detachOwnMount(mnt);
      } catch {
        busy = true;
      }
    }
    try {
      if (!busy) rmSync(dir, { recursive: true, force: true });
    } catch {
      // left for a later run
    }
  }
}

function olderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - lstatSync(path).mtimeMs > ms;
  } catch {
    return false;
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export class HeldDevices {
  private session: string | null = null;
  private readonly held = new Map<string, HeldDevice>();
  private clock = 0;

  /**
   * The device `hash` mounted, made on first use by `prepare` (which writes the image into dir and returns
   * how to mount it at mnt); counted as used until release().
   */
  acquire(hash: string, prepare: (dir: string, mnt: string) => MountDescription): HeldDevice {
    const had = this.held.get(hash);
    if (had) {
      had.users++;
      had.lastUse = ++this.clock;
      return had;
    }
    hookProcessEnd();
    live.add(this);
    const base = imageTempBase();
    if (this.session === null) {
      removeStaleSessions(base);
      try {
        this.session = mkdtempSync(join(realpathSync(resolve(base)), `strata-dm-${process.pid}-${bootId()}-`));
      } catch (err) {
        throw fsError(base, err, 'no directory for device images here (STRATA_TMPDIR chooses another)');
      }
    }
    const dir = join(this.session, hash);
    const mnt = join(dir, 'mnt');
    try {
      mkdirSync(mnt, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw fsError(mnt, err);
    }
    try {
      executeMount(prepare(dir, mnt));
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      if (err instanceof MountError && process.getuid?.() !== 0) {
        throw new StrataError(`reading a devicemapper layer mounts its filesystem image read-only (loop), which needs root: ${err.reason}`, { file: err.file, cause: err });
      }
      throw err;
    }
    const device: HeldDevice = { dir, mnt, users: 1, lastUse: ++this.clock };
    this.held.set(hash, device);
    return device;
  }

  /** The temporary directory holding this driver's device images, once one was made. */
  sessionDir(): string | null {
    return this.session;
  }

  release(hash: string): void {
    const device = this.held.get(hash);
    if (!device) return;
    device.users = Math.max(0, device.users - 1);
    const idle = [...this.held.entries()].filter(([, d]) => d.users === 0).sort((a, b) => a[1].lastUse - b[1].lastUse);
    for (const [h] of idle.slice(0, Math.max(0, idle.length - KEEP_IDLE))) this.drop(h);
  }

  private drop(hash: string): boolean {
    const device = this.held.get(hash);
    if (!device) return true;
    this.held.delete(hash);
    try {
      detachOwnMount(device.mnt);
      rmSync(device.dir, { recursive: true, force: true });
      return true;
    } catch {
      // Not detached (umount refused): its directory stays, and the next run removes both.
      return false;
    }
  }

  /** Lets go of every device; never throws (it runs as the process ends). */
  closeAll(): void {
    let all = true;
    for (const hash of [...this.held.keys()]) all = this.drop(hash) && all;
    if (this.session && all) {
      try {
        rmSync(this.session, { recursive: true, force: true });
      } catch {
        // left for the next run's removeStaleSessions
      }
    }
    this.session = null;
    live.delete(this);
  }
}
