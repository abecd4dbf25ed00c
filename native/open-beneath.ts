// Opening a layer's files without leaving the layer. strata reads stores it has no reason to trust: any
// entry of a layer, any directory on the way to it, or the layer directory itself may be a symlink planted
// to make strata read (and export) a file of the machine it runs on. A LayerFiles holds a descriptor of a
// layer directory that was checked to be a real directory below the store (no symlinked component from
// the data-root down), and opens entries beneath it following no symlink in any component: openat2(2)
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS with the native helpers; from JavaScript, the entry opened
// O_NOFOLLOW, checked (dev/ino) to be the file lstat saw and (through /proc) to lie where its name says, or
// else lstat of every component. Only regular files are opened for reading, so a FIFO or a device node
// standing where a file should be is never read (and natively, never opened).
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { errnoOf, fsError, StrataError } from './errors.js';
import { errnoCode, nativeHelpers, SCAN_STRIDE, type BeneathOp, type NativeHelpers } from './index.js';
import { displayPath, joinBytes } from './names.js';

/** What an opened entry is: the numbers of its fstat a reader checks before it reads. */
export interface EntryInfo {
  mode: number;
  size: number;
  dev: number;
  ino: number;
  nlink: number;
  /** Owner and mtime (seconds, nanoseconds), where the opener had them at no extra cost (the native helpers). */
  uid?: number;
  gid?: number;
  mtimeSec?: number;
  mtimeNsec?: number;
}

export interface OpenedEntry {
  /** Open for reading when the entry is a regular file (the caller closes it); null when it is anything else. */
  fd: number | null;
  stat: EntryInfo;
}

/** A layer's files, opened beneath its directory. Also a beneath op for the native plan writer. */
export interface LayerFiles extends BeneathOp {
  /** The layer directory's path, for messages and for walks. */
  readonly dir: string;
  /**
   * Opens entry `name` (its bytes, relative to the layer: "etc/hosts", "./etc/hosts") following no symlink
   * in any component. Throws a LayerEntryError naming the entry when it cannot be opened that way.
   */
  openEntry(name: Buffer): OpenedEntry;
  /** Lets go of the directory (and of whatever a driver materialised for it). */
  close(): void;
}

export class LayerEntryError extends StrataError {
  override name = 'LayerEntryError';
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const SLASH = 0x2f;

/** The components of a relative name ("./a//b/" → a, b); throws for "..". */
export function nameComponents(name: Buffer, shown: () => string): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i < name.length && name[i] !== SLASH) continue;
    const part = name.subarray(start, i);
    start = i + 1;
    if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
    if (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e) throw new LayerEntryError('entry name climbs out of the layer (a ".." component)', { file: shown() });
    if (part.includes(0)) throw new LayerEntryError('entry name holds a NUL byte', { file: shown() });
    parts.push(part);
  }
  return parts;
}

/** Whether `/proc/self/fd/N` reaches an open descriptor's file (Linux with /proc mounted). */
let procFdWorks: boolean | undefined;
function procFd(fd: number): string | null {
  if (procFdWorks === undefined) {
    try {
      procFdWorks = lstatSync(`/proc/self/fd/${fd}`).isSymbolicLink();
    } catch {
      procFdWorks = false;
    }
  }
  return procFdWorks ? `/proc/self/fd/${fd}` : null;
}

function isSafeComponent(c: string): boolean {
  return c !== '' && c !== '.' && c !== '..' && !c.includes('/') && !c.includes('\0');
}

/** The first of `components` below `anchor` that is a symlink or no directory, in words; null when none is. */
function badComponent(anchor: string | Buffer, components: Array<string | Buffer>, lastMayBeFile: boolean): { file: string | Buffer; reason: string } | null {
  let path: string | Buffer = anchor;
  for (let i = 0; i < components.length; i++) {
    path = typeof path === 'string' && typeof components[i] === 'string' ? join(path, components[i] as string) : joinBytes(path, components[i]);
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch (err) {
      return { file: path, reason: fsError(path, err).reason };
    }
    if (st.isSymbolicLink()) return { file: path, reason: 'is a symbolic link (not followed)' };
    if (!st.isDirectory() && !(lastMayBeFile && i === components.length - 1)) return { file: path, reason: 'is not a directory' };
  }
  return null;
}

/**
 * Opens layer directory `anchor/components…` for reading its entries. `anchor` is the data-root the user
 * named (followed, as given); every component below it must be a real directory, not a symlink — so
 * `overlay2/<id>/diff` or `vfs/dir/<id>` planted as a symlink is refused, naming it.
 */
export function openLayerDir(anchor: string, components: string[]): LayerFiles {
  const dir = join(anchor, ...components);
  for (const c of components) if (!isSafeComponent(c)) throw new LayerEntryError(`not a layer directory: ${JSON.stringify(c)} is not a plain name`, { file: [anchor, ...components].join('/') });
  const native = nativeHelpers();
  if (native) {
    try {
      return new NativeLayerFiles(native, native.openDirBeneath(anchor, Buffer.from(components.join('/'), 'utf8')), dir);
    } catch (err) {
      throw layerDirError(anchor, components, dir, err);
    }
  }
  const bad = badComponent(anchor, components, false);
  if (bad) throw layerDirRefusal(bad);
  // The anchor alone (no components) is followed, as the native path follows it.
  const follow = components.length === 0;
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | (follow ? 0 : constants.O_NOFOLLOW));
  } catch (err) {
    throw layerDirError(anchor, components, dir, err);
  }
  const seen = follow ? statSync(dir) : lstatSync(dir);
  const st = fstatSync(fd);
  if (st.dev !== seen.dev || st.ino !== seen.ino) {
    closeSync(fd);
    throw new LayerEntryError('changed while being opened (not read)', { file: dir });
  }
  return new JsLayerFiles(fd, dir);
}

function layerDirRefusal(bad: { file: string | Buffer; reason: string }): LayerEntryError {
  return new LayerEntryError(`${bad.reason}: a layer directory must be a real directory inside the store`, { file: bad.file });
}

function withCode(err: unknown): unknown {
  const e = err as { errno?: number; code?: string };
  if (e && typeof e === 'object' && e.code === undefined && typeof e.errno === 'number') e.code = errnoCode(e.errno);
  return err;
}

function layerDirError(anchor: string, components: string[], dir: string, err: unknown): StrataError {
  const code = errnoOf(withCode(err));
  if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'EXDEV') {
    const bad = badComponent(anchor, components, false);
    if (bad) return layerDirRefusal(bad);
  }
  return fsError(dir, err);
}

function infoOf(st: Stats): EntryInfo {
  return { mode: st.mode, size: st.size, dev: st.dev, ino: st.ino, nlink: st.nlink };
}

abstract class BaseLayerFiles implements LayerFiles {
  private closed = false;
  constructor(
    private readonly fd: number,
    readonly dir: string,
  ) {}

  /** The directory's descriptor; -1 once closed, so a plan left over can never open beneath a reused one. */
  get dirFd(): number {
    return this.closed ? -1 : this.fd;
  }

  abstract openEntry(name: Buffer): OpenedEntry;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  protected checkOpen(): void {
    if (this.closed) throw new Error(`${this.dir}: layer directory used after it was closed`);
  }

  protected shown(parts: Buffer[]): Buffer {
    return parts.length === 0 ? Buffer.from(this.dir) : joinBytes(this.dir, ...parts);
  }

  /** Why opening `parts` failed, in words, naming the symlink or non-directory on the way when there is one. */
  protected entryError(parts: Buffer[], err: unknown): StrataError {
    const file = this.shown(parts);
    const code = errnoOf(withCode(err));
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      const bad = badComponent(this.dir, parts, true);
      if (bad && bad.file.length < file.length) {
        const on = displayPath(typeof bad.file === 'string' ? bad.file : bad.file.subarray(Buffer.byteLength(this.dir) + 1));
        return new LayerEntryError(`${bad.reason === 'is not a directory' ? 'reached through a non-directory' : 'reached through a symbolic link'} (${on}; not followed)`, { file, cause: err });
      }
      if (code === 'ELOOP') return new LayerEntryError('is a symbolic link (not followed)', { file, cause: err });
    }
    if (code === 'EXDEV') return new LayerEntryError('entry name climbs out of the layer', { file, cause: err });
    return fsError(file, err);
  }
}

/** Entries opened by the native helpers: openat2 beneath the directory's O_PATH descriptor. */
class NativeLayerFiles extends BaseLayerFiles {
  private readonly stat = new Float64Array(SCAN_STRIDE);
  constructor(
    private readonly native: NativeHelpers,
    dirFd: number,
    dir: string,
  ) {
    super(dirFd, dir);
  }

  openEntry(name: Buffer): OpenedEntry {
    this.checkOpen();
    let fd: number;
    try {
      fd = this.native.openBeneath(this.dirFd, name, this.stat);
    } catch (err) {
      throw this.entryError(nameComponents(name, () => displayPath(joinBytes(this.dir, name))), err);
    }
    const s = this.stat;
    return { fd: fd < 0 ? null : fd, stat: { mode: s[0], nlink: s[1], uid: s[2], gid: s[3], size: s[4], mtimeSec: s[5], mtimeNsec: s[6], dev: s[8], ino: s[9] } };
  }
}

/**
 * Entries opened from JavaScript. Where /proc is mounted, the entry is lstat'ed and opened by its path,
 * O_NOFOLLOW, checked to be the inode lstat saw, and then the kernel's own name for the opened file
 * (/proc/self/fd/N) must be the layer directory's followed by the entry's name: any symlink on the way would
 * have led elsewhere. Nothing is read before that. Anything but a regular file, and every failure, goes
 * the careful way: lstat of every component below the directory's own descriptor.
 */
class JsLayerFiles extends BaseLayerFiles {
  /** The kernel's name of the layer directory (null without /proc), with a trailing "/". */
  private readonly real: Buffer | null;
  /** A path that reaches the descriptor's own directory (its /proc link), as bytes. */
  private readonly base: Buffer;
  constructor(dirFd: number, dir: string) {
    super(dirFd, dir);
    const link = procFd(dirFd);
    this.base = Buffer.from(link ?? dir);
    this.real = link ? Buffer.concat([readlinkSync(link, { encoding: 'buffer' }), Buffer.from('/')]) : null;
  }

  openEntry(name: Buffer): OpenedEntry {
    this.checkOpen();
    const parts = nameComponents(name, () => displayPath(joinBytes(this.dir, name)));
    if (parts.length === 0) return { fd: null, stat: infoOf(fstatSync(this.dirFd)) };
    if (this.real) {
      const rel = joinBytes(...parts);
      const path = joinBytes(this.dir, rel);
      let st: Stats | undefined;
      try {
        st = lstatSync(path);
      } catch {
        // the careful way says why
      }
      if (st && (st.mode & S_IFMT) === S_IFREG) {
        let fd: number | null = null;
        try {
          fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
        } catch {
          // the careful way says why
        }
        if (fd !== null) {
          const opened = fstatSync(fd);
          if (opened.dev === st.dev && opened.ino === st.ino && Buffer.concat([this.real, rel]).equals(readlinkSync(procFd(fd)!, { encoding: 'buffer' }))) {
            return { fd, stat: infoOf(opened) };
          }
          closeSync(fd);
        }
      }
    }
    return this.openCarefully(parts);
  }

  /** lstat of every component from the directory's descriptor down, the last opened O_NOFOLLOW and checked against lstat. */
  private openCarefully(parts: Buffer[]): OpenedEntry {
    let path = this.base;
    let st!: Stats;
    try {
      for (let i = 0; i < parts.length; i++) {
        path = joinBytes(path, parts[i]);
        st = lstatSync(path);
        if (i === parts.length - 1) break; // a symlink here is reported as what it is, like any other non-file
        const type = st.mode & S_IFMT;
        if (type === S_IFLNK) throw Object.assign(new Error('symbolic link on the way'), { code: 'ELOOP' });
        if (type !== S_IFDIR) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      }
    } catch (err) {
      throw this.entryError(parts, err);
    }
    if ((st.mode & S_IFMT) !== S_IFREG) return { fd: null, stat: infoOf(st) };
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (err) {
      throw this.entryError(parts, err);
    }
    const opened = fstatSync(fd);
    if (opened.dev !== st.dev || opened.ino !== st.ino) {
      closeSync(fd);
      throw new LayerEntryError('changed while being opened (not read)', { file: this.shown(parts) });
    }
    return { fd, stat: infoOf(opened) };
  }
}

/**
 * The components of `path` below directory `prefix` (bytes), or null when `path` is not below it. Views
 * hand out on-disk paths; this is how a driver finds the layer such a path lies in.
 */
export function componentsBelow(path: string | Buffer, prefix: string): Buffer[] | null {
  const bytes = typeof path === 'string' ? Buffer.from(path, 'utf8') : path;
  const head = Buffer.from(prefix.endsWith('/') ? prefix : `${prefix}/`, 'utf8');
  if (bytes.length <= head.length || !bytes.subarray(0, head.length).equals(head)) return null;
  return nameComponents(bytes.subarray(head.length), () => displayPath(bytes));
}

/** Opens one entry of a layer and lets go of the layer again. */
export function openOneEntry(layer: LayerFiles, name: Buffer): OpenedEntry {
  try {
    return layer.openEntry(name);
  } finally {
    layer.close();
  }
}

/** A name's components joined again with "/" (bytes). */
export function joinComponents(parts: Buffer[]): Buffer {
  return parts.length === 0 ? Buffer.alloc(0) : joinBytes(...parts);
}

/**
 * A small file of a store's own bookkeeping (overlay2's link and lower files, aufs's layers files), read
 * without following a symlink planted in its place; null when it does not exist.
 */
export function readStoreFileNoFollow(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return null;
    throw fsError(path, err);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new StrataError('not a regular file', { file: path });
    return readFileSync(fd, 'utf8');
  } catch (err) {
    throw fsError(path, err);
  } finally {
    closeSync(fd);
  }
}

/** Creates an empty marker file (overlay2's committed) unless it exists, never through a symlink. */
export function touchStoreFileNoFollow(path: string, mode: number): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode));
  } catch (err) {
    throw fsError(path, err);
  }
}
