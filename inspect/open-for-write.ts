// Opening a data-root for writing, as one session of a write command: never while a daemon uses it; the
// root's write lock held from start to end; the driver is the store's own, or the one asked for on an
// empty root (overlay2 by default, as dockerd picks it), and never a second driver's store beside the
// store there; stale temporary entries of interrupted strata writes removed first; and on failure
// everything the session created — and only that — removed again.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { makeDirectories } from './make-directories.js';
import { dirname, join } from 'node:path';
import { openDriver } from '../drivers/index.js';
import type { StorageDriver } from '../drivers/types.js';
import { errnoOf, fsError, StrataError } from '../native/errors.js';
import { removeStaleTemps } from '../native/temp-names.js';
import { daemonUsing } from './daemon-check.js';
import { detectDriver, driverCandidates } from './detect-driver.js';
import { detectV1Driver } from './v1/layout.js';
import { acquireWriteLock, type WriteLock } from './write-lock.js';
import { StoreWriter } from './write-store.js';

export class WriteRefusedError extends StrataError {
  override name = 'WriteRefusedError';
}

export interface OpenForWriteOptions {
  /** The command writing (named to a second writer that finds the lock taken). */
  command: string;
  /** --driver: the driver asked for. */
  driver?: string;
  /**
   * Build this driver's store beside another driver's store in the same root. Only `migrate --in-place`
   * (issue 16) does that on purpose; every other writer refuses such a root, since dockerd refuses it too.
   */
  besideOtherDriver?: boolean;
  /** The command only changes a store that is there (rmi, prune): a missing root or one holding no store is refused, never created. */
  existingStore?: boolean;
}

/** The driver a write goes to, or the one-line reason it may not. */
function chooseDriver(root: string, opts: OpenForWriteOptions): string {
  const existing = driverCandidates(root);
  if (existing.length === 0) return opts.driver ?? 'overlay2';
  if (opts.driver && !existing.includes(opts.driver)) {
    if (opts.besideOtherDriver) return opts.driver;
    const held = existing.length === 1 ? `a store of the ${existing[0]} driver` : `stores of ${existing.join(', ')}`;
    throw new WriteRefusedError(
      `holds ${held}; strata will not build one of the ${opts.driver} driver beside it (dockerd refuses a root with two). ` +
        `Leave out --driver to write to the ${existing.join('/')} store, or name another --root`,
      { file: root },
    );
  }
  return detectDriver(root, opts.driver);
}

/** Where strata's writers put temporary entries in a store: the stale ones are removed there. */
function tempPlaces(root: string, writer: StoreWriter, driver: StorageDriver): string[] {
  const metadata = join(writer.meta, 'imagedb', 'metadata', 'sha256');
  let perImage: string[] = [];
  try {
    perImage = readdirSync(metadata).map((hex) => join(metadata, hex));
  } catch {
    // no image metadata yet
  }
  return [
    root,
    writer.meta,
    join(writer.meta, 'imagedb', 'content', 'sha256'),
    ...perImage,
    // A driver builds each layer beside its final directory, so that one rename puts it in place.
    dirname(driver.layerHome('0'.repeat(64))),
    join(writer.meta, 'layerdb', 'tmp'),
  ];
}

/** One write command's hold on a data-root. close() on every path out: it undoes what an uncommitted session created. */
export class WriteSession {
  private committed = false;
  private closed = false;

  constructor(
    readonly root: string,
    readonly driver: StorageDriver,
    readonly writer: StoreWriter,
    private readonly lock: WriteLock,
    /** The first directory the session created on the way to the root (the root itself, or a parent). */
    private readonly createdRoot: string | undefined,
    private readonly createdDirs: string[],
  ) {}

  /** Stale temporary entries of interrupted writes that opening the session removed. */
  readonly removedTemps: string[] = [];

  /** The command's writes are complete: closing keeps them. */
  commit(): void {
    this.committed = true;
  }

  /** Releases the lock; without commit() first, removes what this session created (layers, files, directories, the root). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.committed) {
      this.lock.release();
      return;
    }
    try {
      if (!this.createdRoot) this.undo();
    } finally {
      this.lock.release();
      if (this.createdRoot) rmSync(this.createdRoot, { recursive: true, force: true });
    }
  }

  private undo(): void {
    const { layers, paths } = this.writer.created;
    for (const layer of [...layers].reverse()) {
      this.driver.remove(layer.cacheId);
      rmSync(this.writer.layerDir(layer.chainId), { recursive: true, force: true });
    }
    for (const path of [...paths].reverse()) rmSync(path, { recursive: true, force: true });
    for (const dir of [...this.createdDirs].reverse()) rmSync(dir, { recursive: true, force: true });
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return false;
    throw fsError(path, err);
  }
}

export function openForWrite(root: string, opts: OpenForWriteOptions): WriteSession {
  // Read commands' own refusals (no such directory, no store, several drivers), before anything is created.
  if (opts.existingStore) detectDriver(root, opts.driver);
  // strata reads the v1 graph/ layout but writes only the modern one; never one beside the other.
  if (!opts.besideOtherDriver && existsSync(root) && detectV1Driver(root, opts.driver) !== null) {
    throw new WriteRefusedError('holds a legacy v1 graph/ store (Docker < 1.10), which strata reads but does not write; name another --root', { file: join(root, 'graph') });
  }
  const busy = daemonUsing(root);
  if (busy) throw new WriteRefusedError(`${busy}; stop it first (strata writes to a store only when no daemon uses it)`);
  if (existsSync(root) && !isDirectory(root)) throw new WriteRefusedError('not a directory (a data-root is one)', { file: root });
  // The first directory mkdir created (the root, or a missing parent of it); undefined when the root existed.
  let createdRoot: string | undefined;
  createdRoot = makeDirectories(root, { mode: 0o710, parentMode: 0o710, what: 'cannot create the data-root', notDirectory: (p) => new WriteRefusedError('not a directory (a data-root is one)', { file: p }) });
  let lock: WriteLock;
  try {
    lock = acquireWriteLock(root, opts.command);
  } catch (err) {
    if (createdRoot) rmSync(createdRoot, { recursive: true, force: true });
    throw err;
  }
  let session: WriteSession;
  try {
    // Decided under the lock, so that no other strata writer can change the answer meanwhile.
    const name = chooseDriver(root, opts);
    const driver = openDriver(name, root);
    if (!driver) throw new WriteRefusedError(`strata cannot write ${name} layers`, { file: root });
    if (!driver.capabilities.writable) throw new WriteRefusedError(`the ${name} driver is read-only in strata`, { file: root });
    // The writer records the image/<driver>/ directories it creates; the driver's home is created by its first apply.
    const createdDirs = existsSync(driver.home) ? [] : [driver.home];
    session = new WriteSession(root, driver, new StoreWriter(root, driver.name), lock, createdRoot, createdDirs);
  } catch (err) {
    lock.release();
    if (createdRoot) rmSync(createdRoot, { recursive: true, force: true });
    throw err;
  }
  try {
    session.removedTemps.push(...tempPlaces(root, session.writer, session.driver).flatMap(removeStaleTemps));
  } catch (err) {
    session.close();
    throw err;
  }
  return session;
}

/** Runs a write command's body in a session: committed when the body returns, undone when it throws, the lock released either way. */
export async function withWriteSession<T>(root: string, opts: OpenForWriteOptions, body: (session: WriteSession) => Promise<T>): Promise<T> {
  const session = openForWrite(root, opts);
  // Interrupted (Ctrl-C, a service manager's TERM, a closed terminal), the command fails like any other:
  // what it created is undone, the lock released, and the signal then ends the process as it would have.
  const interrupted = (signal: NodeJS.Signals) => {
    session.close();
    removeHandlers();
    process.kill(process.pid, signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const removeHandlers = () => signals.forEach((sig) => process.off(sig, interrupted));
  signals.forEach((sig) => process.once(sig, interrupted));
  try {
    const result = await body(session);
    session.commit();
    return result;
  } finally {
    removeHandlers();
    session.close();
  }
}
