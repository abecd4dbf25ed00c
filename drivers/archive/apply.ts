// Applies a layer tar to a directory the way dockerd's ApplyDiff does (moby pkg/archive Unpack for overlay2
// and aufs, UnpackLayer for naive drivers), treating the tar as hostile: no name may climb out of the layer,
// no write goes through a symlink, links may not point outside, sizes are checked against the source and
// against the free space left. Names and link targets are bytes in every file system call. Whiteouts become
// what the driver stores: overlay (0:0 devices, opaque xattr), aufs (the .wh. files themselves), or naive
// (deletions applied to a full copy).
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  fstatSync,
  ftruncateSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statfsSync,
  symlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { fsError, reasonOf, StrataError } from '../../native/errors.js';
import { displayPath, joinBytes } from '../../native/names.js';
import { nativeHelpers } from '../../native/index.js';
import type { EntryInfo } from '../../native/open-beneath.js';
import { LinkBatcher, type QueuedLink, type QueuedSource } from './link-batch.js';
import { readTar, TarFormatError, type LinkedContent, type PieceRun, type TarEntry, type TarItem } from './tar-reader.js';
import type { TarSplitWriter } from './tar-split-writer.js';
import { AUFS_META_PREFIX, OPAQUE_MARKER, WHITEOUT_PREFIX } from './whiteout.js';

export type WhiteoutFormat = 'overlay' | 'aufs' | 'naive';

export class UnsafeTarError extends StrataError {
  override name = 'UnsafeTarError';
}

/** linkFiles met a link the kernel refuses across filesystems (a bind mount, say): the layer is to be copied instead. */
export class LinkUnavailableError extends StrataError {
  override name = 'LinkUnavailableError';
}

export interface ApplyOptions {
  whiteouts: WhiteoutFormat;
  /** Bytes the source holds, when known: an entry storing more is refused before anything is written. */
  sourceBytes?: number;
  /** Create character and block devices (other than whiteouts). */
  allowDevices?: boolean;
  /** Records the tar-split of the archive as it is read. */
  tarSplit?: TarSplitWriter;
  /** Bytes to leave free on the target filesystem (default: keepFreeDefault). */
  keepFree?: number;
  /**
   * What the tar implies but does not carry (a missing parent directory, an overlay whiteout device) gets
   * the mtime of the entry that implied it rather than the time of applying: the same tar applied twice
   * makes the same files (a resumed migration). dockerd stamps them with the time of applying.
   */
  impliedTimes?: boolean;
  /**
   * A regular file whose content comes as a LinkedContent is hard-linked into the layer instead of
   * written, when the file on disk already has every bit of metadata its entry gives (mode, owner, size,
   * mtime, no extended attributes) — nothing of it is then changed — and the kernel links it (one
   * filesystem). Any other file is written as usual.
   */
  linkFiles?: boolean;
  /**
   * A regular file whose content comes as a LinkedContent is copied from its file by the native helpers
   * (its bytes only: owner, mode and times are its entry's, as for any file written). For a caller that
   * proves the layer's bytes another way (migrate hashes the exact rebuild beside it).
   */
  copyFiles?: boolean;
}

export interface ApplyResult {
  /** Sum of the entries' sizes (Docker's naive ApplyDiff size). */
  size: number;
  entries: number;
  /** Regular files hard-linked in (linkFiles) rather than written. */
  linked: number;
  /** Regular files copied from their source files by the native helpers (copyFiles). */
  copied: number;
}

const GiB = 2 ** 30;

/** What applying leaves free at least: max(1 GiB, 5% of the filesystem), so a layer never fills a disk. */
export function keepFreeDefault(dir: string): number {
  const fs = statfsSync(dir);
  return Math.max(GiB, Math.ceil(fs.blocks * fs.bsize * 0.05));
}

function lstatOrNull(path: Buffer): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

const SLASH = 0x2f;
const DOT = 0x2e;
const isDot = (p: Buffer) => p.length === 1 && p[0] === DOT;
const isDotDot = (p: Buffer) => p.length === 2 && p[0] === DOT && p[1] === DOT;

function splitName(name: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i === name.length || name[i] === SLASH) {
      if (i > start) parts.push(name.subarray(start, i));
      start = i + 1;
    }
  }
  return parts;
}

/** A name path.Clean leaves as it is but for one trailing slash: non-empty parts, none "." or "..". */
function isPlainName(name: Buffer): boolean {
  if (name.length === 0 || name[0] === SLASH) return false;
  let start = 0;
  const end = name[name.length - 1] === SLASH ? name.length - 1 : name.length;
  for (let i = 0; i <= end; i++) {
    if (i === end || name[i] === SLASH) {
      const n = i - start;
      if (n === 0 || (n === 1 && name[start] === DOT) || (n === 2 && name[start] === DOT && name[start + 1] === DOT)) return false;
      start = i + 1;
    }
  }
  return true;
}

/** Go's path.Clean of a name, as a string key (tar-split refuses two entries with the same one). */
export function cleanKey(name: Buffer): string {
  // Nearly every name is clean already (no "./" prefix aside, no "//", "." or ".." part, no trailing "/"
  // but a directory's): it is its own key, without splitting.
  if (isPlainName(name)) return name.toString('latin1', 0, name[name.length - 1] === SLASH ? name.length - 1 : name.length);
  const out: Buffer[] = [];
  const rooted = name.length > 0 && name[0] === SLASH;
  for (const part of splitName(name)) {
    if (isDot(part)) continue;
    if (isDotDot(part)) {
      if (out.length > 0 && !isDotDot(out[out.length - 1])) out.pop();
      else if (!rooted) out.push(part);
      continue;
    }
    out.push(part);
  }
  const joined = Buffer.concat(out.flatMap((p, i) => (i === 0 ? [p] : [Buffer.of(SLASH), p]))).toString('latin1');
  return rooted ? `/${joined}` : joined || '.';
}

/** "./a//b/" → [a, b]; refuses absolute names and names that climb out. [] is the layer root. */
export function layerPathParts(raw: Buffer, opts: { rooted?: boolean } = {}): Buffer[] {
  if (raw.length > 0 && raw[0] === SLASH && !opts.rooted) throw new UnsafeTarError('absolute path in a layer tar', { file: raw });
  const out: Buffer[] = [];
  for (const part of splitName(raw)) {
    if (isDot(part)) continue;
    if (isDotDot(part)) {
      if (out.length === 0) throw new UnsafeTarError('climbs out of the layer', { file: raw });
      out.pop();
    } else out.push(part);
  }
  return out;
}

/** A name resolved as dockerd resolves it inside its chroot (filepath.Join("/", name)): ".." stops at the root. */
function rootedParts(raw: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (const part of splitName(raw)) {
    if (isDotDot(part)) out.pop();
    else if (!isDot(part)) out.push(part);
  }
  return out;
}

/** Whether a relative symlink target, taken from the directory `from`, leaves the layer. */
function climbsOut(from: Buffer[], target: Buffer): boolean {
  let depth = from.length;
  for (const part of splitName(target)) {
    if (isDotDot(part)) {
      if (depth === 0) return true;
      depth--;
    } else if (!isDot(part)) depth++;
  }
  return false;
}

const keyOf = (parts: Buffer[]) => parts.map((p) => p.toString('latin1')).join('/');
const startsWith = (b: Buffer, prefix: string) => b.length >= prefix.length && b.subarray(0, prefix.length).equals(Buffer.from(prefix));

/** setfattr's --restore input escapes bytes as \ooo (attr's quote/unquote). */
function setfattrQuote(b: Buffer): string {
  let out = '';
  for (const c of b) out += c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x3d || c === 0x22 ? `\\${c.toString(8).padStart(3, '0')}` : String.fromCharCode(c);
  return out;
}

/**
 * Sets extended attributes on a path given as bytes (setfattr --restore takes escaped names). Like
 * dockerd, attributes the filesystem does not support or does not permit are skipped.
 */
export function setXattrs(path: Buffer, xattrs: Array<[string, Buffer]>, opts: { noFollow: boolean; strict?: boolean }): void {
  if (xattrs.length === 0) return;
  let input = `# file: ${setfattrQuote(path)}\n`;
  for (const [key, value] of xattrs) input += `${setfattrQuote(Buffer.from(key, 'utf8'))}=0s${value.toString('base64')}\n`;
  try {
    execFileSync('setfattr', [...(opts.noFollow ? ['-h'] : []), '--restore=-'], { input, stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new StrataError('setting extended attributes needs `setfattr` (apt-get install attr)', { file: path, cause: err });
    const lines = (e.stderr?.toString('utf8') ?? '').split('\n').filter(Boolean);
    const fatal = opts.strict ? lines : lines.filter((l) => !/Operation not supported|Operation not permitted/.test(l));
    if (fatal.length > 0 || lines.length === 0) throw new StrataError(`cannot set extended attributes (${fatal[0] ?? e.message})`, { file: path, cause: err });
  }
}

/** Budget of bytes that may still be written before the filesystem would fall under its margin. */
class SpaceGuard {
  private budget = 0;
  /** Bytes reserved for writes queued elsewhere (native copies) and not yet done: the disk does not show them yet. */
  private pending = 0;
  constructor(
    private readonly dir: string,
    private readonly keep: number,
  ) {}

  /** Reserves bytes that a queued write will take later (settled with landed()). */
  reservePending(bytes: number, entry: Buffer): void {
    this.reserve(bytes, entry);
    this.pending += bytes;
  }

  /** Bytes reservePending gave are on the disk now (or never will be). */
  landed(bytes: number): void {
    this.pending -= bytes;
  }

  reserve(bytes: number, entry: Buffer): void {
    if (bytes <= this.budget) {
      this.budget -= bytes;
      return;
    }
    const fs = statfsSync(this.dir);
    const available = fs.bavail * fs.bsize;
    this.budget = available - this.pending - this.keep;
    if (bytes > this.budget) {
      throw new StrataError(`applying stopped: writing it would leave less than ${formatBytes(this.keep)} free where the layer is written (${formatBytes(available)} available)`, { file: entry });
    }
    this.budget -= bytes;
  }
}

function formatBytes(n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(2)} GiB`;
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${n} bytes`;
}

/** Seconds as Node's utimes takes them (libuv keeps microseconds). */
const secondsOf = (sec: number, nsec: number) => sec + nsec / 1e9;
/** dockerd's system.Chtimes: a time outside 1970..2262 becomes the epoch. */
const chtimes = (seconds: number) => (seconds < 0 || seconds > 9_223_372_036 ? 0 : seconds);

const BLOCK_SIZE = 4096;
const DEVICE_TYPES: Record<string, string> = { '3': 'c', '4': 'b' };
/** Types dockerd creates (pkg/archive createTarFile); every other type is refused as it refuses it. */
const CREATED_TYPES = new Set(['0', '1', '2', '3', '4', '5', '6']);

/**
 * Whether the open file already is what `e` describes, metadata and all, so that a link of it is the
 * entry: its entry names no extended attribute and the inode has none either (a copy would not carry
 * them; ACLs and capabilities are attributes too).
 */
function linkableAsIs(native: NonNullable<ReturnType<typeof nativeHelpers>>, linked: { fd: number; stat?: EntryInfo }, e: TarEntry): boolean {
  if (e.sparseData !== null || Object.keys(e.xattrs).length > 0) return false;
  if (!native.xattrBytes || native.xattrBytes(linked.fd) !== 0) return false;
  const mtime = secondsOf(e.mtime, e.mtimeNsec);
  if (chtimes(mtime) !== mtime) return false;
  const s = linked.stat;
  if (s?.uid !== undefined && s.gid !== undefined && s.mtimeSec !== undefined && s.mtimeNsec !== undefined) {
    // What opening it found (the native helpers' fstat): no second look.
    return (s.mode & 0o170000) === 0o100000 && (s.mode & 0o7777) === (e.mode & 0o7777) && s.uid === e.uid && s.gid === e.gid && s.size === e.size && s.mtimeSec === e.mtime && s.mtimeNsec === e.mtimeNsec;
  }
  const st = fstatSync(linked.fd, { bigint: true });
  return (
    st.isFile() &&
    Number(st.mode & 0o7777n) === (e.mode & 0o7777) &&
    st.uid === BigInt(e.uid) &&
    st.gid === BigInt(e.gid) &&
    st.size === BigInt(e.size) &&
    st.mtimeNs === BigInt(e.mtime) * 1_000_000_000n + BigInt(e.mtimeNsec)
  );
}

/** Whether the native batch can make this directory as apply would: no attributes to set, an owner it can give. */
function batchableDir(e: TarEntry, canChown: boolean): boolean {
  if (Object.keys(e.xattrs).length > 0) return false;
  return !canChown || (e.uid >= 0 && e.uid <= 0xfffffffe && e.gid >= 0 && e.gid <= 0xfffffffe);
}

/** Whether the native batch can write this file as apply would: no sparse map, no attributes, an owner it can give. */
function copyableEntry(e: TarEntry, canChown: boolean): boolean {
  return e.sparseData === null && batchableDir(e, canChown);
}

/** Entry types after which queued links may wait (they make a new name and touch no other). */
const BATCHABLE_AFTER = new Set(['0', '5', '2']);

/**
 * Whether an entry could be a link of its source file as far as the entry itself goes: no sparse map, no
 * extended attributes, an owner and mtime the native check can compare (the file is checked there).
 */
function linkableEntry(e: TarEntry): boolean {
  if (e.sparseData !== null || Object.keys(e.xattrs).length > 0) return false;
  if (!(e.uid >= 0 && e.uid <= 0xfffffffe && e.gid >= 0 && e.gid <= 0xfffffffe)) return false;
  const mtime = secondsOf(e.mtime, e.mtimeNsec);
  return chtimes(mtime) === mtime && Number.isSafeInteger(e.mtime) && e.mtimeNsec >= 0 && e.mtimeNsec < 1e9;
}

/** Errnos for which a file is written instead of linked (the kernel will not link this one: another owner's, too many links, no links here). */
const LINK_REFUSED = new Set([1, 31, 38, 95]); // EPERM, EMLINK, ENOSYS, EOPNOTSUPP
const EXDEV = 18;

/** Links the open file at `path`; false when the kernel refuses this file (it is written instead). */
function linkOpened(native: NonNullable<ReturnType<typeof nativeHelpers>>, fd: number, path: Buffer): boolean {
  try {
    native.linkFd!(fd, path);
    return true;
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (errno === EXDEV) throw new LinkUnavailableError('cannot be hard-linked here (another filesystem, or a bind mount of it)', { file: path, cause: err });
    if (errno !== undefined && LINK_REFUSED.has(errno)) return false;
    throw fsError(path, err);
  }
}

/** Whether the inode at `path` already has every bit of metadata `e` gives (a hard link to it then sets nothing). */
function sameMetadata(path: Buffer, e: TarEntry): boolean {
  if (Object.keys(e.xattrs).length > 0) return false;
  const st = lstatSync(path, { bigint: true });
  return st.isFile() && Number(st.mode & 0o7777n) === (e.mode & 0o7777) && st.uid === BigInt(e.uid) && st.gid === BigInt(e.gid) && st.mtimeNs === BigInt(e.mtime) * 1_000_000_000n + BigInt(e.mtimeNsec);
}

/**
 * Whether the filesystem of `dir` takes two different names for one file (case folding, Unicode
 * normalisation): apply then looks at every path itself, trusting nothing it checked under another name.
 */
function foldsNames(dir: Buffer): boolean {
  const base = `.strata-fold-${process.pid}-${Date.now().toString(36)}`;
  for (const [made, other] of [['A', 'a'], ['\u00e9', 'e\u0301']]) {
    const probe = joinBytes(dir, Buffer.from(`${base}-${made}`));
    closeSync(openSync(probe, 'wx', 0o600));
    try {
      if (lstatOrNull(joinBytes(dir, Buffer.from(`${base}-${other}`)))) return true;
    } finally {
      rmSync(probe, { force: true });
    }
  }
  return false;
}

export async function applyLayerTar(source: AsyncIterable<Buffer | LinkedContent | PieceRun>, dest: string, opts: ApplyOptions): Promise<ApplyResult> {
  const naive = opts.whiteouts === 'naive';
  const destBytes = Buffer.from(dest, 'utf8');
  const at = (parts: Buffer[]) => (parts.length === 0 ? destBytes : joinBytes(destBytes, ...parts));
  const dirTimes: Array<[Buffer, number, number]> = [];
  const unpacked = new Set<string>();
  const seen = new Set<string>();
  const space = new SpaceGuard(dest, opts.keepFree ?? keepFreeDefault(dest));
  let size = 0;
  let entries = 0;
  let linked = 0;
  let copied = 0;
  let temps = 0;

  // Missing parents are made as dockerd makes them: 0755 (Unpack), 0600 with umask 0 (UnpackLayer).
  const parentMode = naive ? 0o600 : 0o755;
  /**
   * Directories of the layer (keys as keyOf makes them) this apply found to be real directories or made:
   * each is looked at once, not once per entry below it. Whatever apply removes is forgotten again
   * (nothing else writes into the directory being built).
   */
  const knownDirs = new Set<string>();
  /** The caches below hold only where one name is one file. */
  const caching = !foldsNames(destBytes);
  /**
   * Directories that held nothing when this apply found or made them, and the paths it has made since:
   * in such a directory an entry not made here is not there, and is not looked for (a layer built in an
   * empty directory is one lstat per entry cheaper). Whatever apply removes stops counting as fresh.
   */
  const native = opts.linkFiles && nativeHelpers()?.linkFd ? nativeHelpers() : null;
  /**
   * Files linked, and new directories made, in batches on the thread pool while the tar is parsed
   * (helpers that have linkFiles); a row the batch did not do is redone here as the unbatched path does
   * it (see settleLink). Not where the filesystem folds names: there apply looks at every path itself, and
   * a queued directory would look missing.
   */
  const batching = (opts.linkFiles || opts.copyFiles) && caching ? nativeHelpers() : null;
  const batcher = batching?.linkFiles ? new LinkBatcher((...a) => batching.linkFiles!(...a), destBytes, (q, status) => settleLink(q, status)) : null;
  /** Entries whose inode is a source's file linked in (linkFiles): nothing may be set through any name of it. */
  const linkedKeys = new Set<string>();
  /** A linked-in file at `path` replaced by a copy of its own (same bytes), so that metadata can be set on it. */
  const privatize = (path: Buffer) => {
    const temp = `${dest}/.strata-copy-${process.pid}-${temps++}`;
    copyFileSync(path, temp);
    renameSync(temp, path);
  };
  const freshDirs = new Set<string>(caching && readdirSync(destBytes).length === 0 ? [''] : []);
  const made = new Set<string>();
  const under = (k: string, key: string) => key === '' || k === key || k.startsWith(`${key}/`);
  const forgetUnder = (key: string) => {
    for (const k of knownDirs) if (under(k, key)) knownDirs.delete(k);
    for (const k of freshDirs) if (under(k, key)) freshDirs.delete(k);
  };
  /** Every existing parent of `parts` must be a real directory; missing ones are created. */
  const ensureParents = (parts: Buffer[], entry: Buffer, e?: TarEntry) => {
    let key = '';
    for (let i = 1; i < parts.length; i++) {
      key = i === 1 ? parts[0].toString('latin1') : `${key}/${parts[i - 1].toString('latin1')}`;
      if (caching && knownDirs.has(key)) continue;
      const p = at(parts.slice(0, i));
      const st = lstatOrNull(p);
      if (st === null) {
        mkdirSync(p, { mode: parentMode });
        freshDirs.add(key);
        made.add(key);
        chmodSync(p, parentMode);
        if (opts.impliedTimes && e) dirTimes.push([p, 0, chtimes(secondsOf(e.mtime, e.mtimeNsec))]);
      } else if (st.isSymbolicLink()) throw new UnsafeTarError(`path goes through a symlinked parent (${displayPath(keyBuffer(parts.slice(0, i)))})`, { file: entry });
      else if (!st.isDirectory()) throw new UnsafeTarError(`a parent is not a directory (${displayPath(keyBuffer(parts.slice(0, i)))})`, { file: entry });
      knownDirs.add(key);
    }
  };
  /** An existing entry of this layer reached without following a symlink in a parent, or null. */
  const existingInLayer = (parts: Buffer[]): Stats | null => {
    let key = '';
    for (let i = 1; i < parts.length; i++) {
      key = i === 1 ? parts[0].toString('latin1') : `${key}/${parts[i - 1].toString('latin1')}`;
      if (caching && knownDirs.has(key)) continue;
      const st = lstatOrNull(at(parts.slice(0, i)));
      if (!st || !st.isDirectory()) return null;
    }
    return lstatOrNull(at(parts));
  };
  /** A file's bytes from an open descriptor of it (`e.size` of them), into a new file at `path`. */
  const copyOpened = (fd: number, path: Buffer, e: TarEntry) => {
    const out = openSync(path, 'wx', 0o600);
    try {
      const piece = Buffer.allocUnsafe(Math.min(Math.max(e.size, 1), 1 << 20));
      for (let at = 0; at < e.size; ) {
        const n = readSync(fd, piece, 0, Math.min(piece.length, e.size - at), at);
        if (n === 0) throw new TarFormatError(`ended ${e.size - at} bytes early`, { file: e.nameBytes });
        space.reserve(n, e.nameBytes);
        for (let off = 0; off < n; ) off += writeSync(out, piece, off, n - off, at + off);
        at += n;
      }
    } finally {
      closeSync(out);
    }
  };
  /**
   * What a batch found for a queued row: done (0), or redone here (a directory made, a file as redoFile
   * does it). EXDEV on a link: no link can be made here at all.
   */
  const settleLink = (q: QueuedLink, status: number) => {
    if (q.kind === 'dir') {
      // Not made there: made here, which names what is in the way.
      if (status !== 0) {
        try {
          mkdirSync(q.path, { mode: 0o700 });
          setMetadata(q.path, q.entry, 'other');
        } catch (err) {
          throw err instanceof StrataError ? err : fsError(q.path, err);
        }
      }
      return;
    }
    if (q.kind === 'copy') {
      space.landed(q.entry.size);
      if (status === 0) copied++;
      else redoFile(q, false);
      return;
    }
    if (status === 0) {
      linkedKeys.add(q.key);
      linked++;
      return;
    }
    if (status === -EXDEV) throw new LinkUnavailableError('cannot be hard-linked here (another filesystem, or a bind mount of it)', { file: q.path });
    redoFile(q, true);
  };
  /**
   * A queued file the batch did not do, done as the unbatched path does it: from its file opened beneath
   * its layer (which names what is wrong with it), linked when `mayLink` and it is its entry as it is,
   * else written with the entry's metadata.
   */
  const redoFile = (q: QueuedLink, mayLink: boolean) => {
    const source = q.source!;
    try {
      if (mayLink && linkableAsIs(native!, source, q.entry) && linkOpened(native!, source.fd, q.path)) {
        linkedKeys.add(q.key);
        linked++;
        return;
      }
      copyOpened(source.fd, q.path, q.entry);
      setMetadata(q.path, q.entry, 'other');
    } catch (err) {
      throw err instanceof StrataError ? err : fsError(q.path, err);
    } finally {
      source.close();
    }
  };
  /** mknod(1) takes its path as a string: the node is made under an ASCII name at the layer root and renamed into place. */
  const makeNode = (path: Buffer, args: string[]) => {
    const temp = `${dest}/.strata-node-${process.pid}-${temps++}`;
    execFileSync(args[0], [...args.slice(1, 3), temp, ...args.slice(3)], { stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(temp, path);
  };

  // Only root may give files away; anyone else keeps them (as rootless engines do).
  const canChown = process.getuid?.() === 0;
  const chown = (path: Buffer, e: TarEntry) => {
    if (!canChown) return;
    if (e.uid < -1 || e.uid > 0xfffffffe || e.gid < -1 || e.gid > 0xfffffffe) throw new UnsafeTarError(`owner ${e.uid}:${e.gid} is out of range`, { file: e.nameBytes });
    lchownSync(path, e.uid, e.gid);
  };
  /** atime and mtime as createTarFile sets them: the access time never before the modification time. */
  const times = (e: TarEntry): [number, number] => {
    const mtime = secondsOf(e.mtime, e.mtimeNsec);
    return [e.atime ? Math.max(secondsOf(e.atime.sec, e.atime.nsec), mtime) : mtime, mtime];
  };
  /** chown, xattrs, chmod, times, in dockerd's order (chown clears setuid bits and file capabilities). */
  const setMetadata = (path: Buffer, e: TarEntry, kind: 'symlink' | 'hardlink-to-symlink' | 'other') => {
    chown(path, e);
    setXattrs(path, Object.entries(e.xattrs), { noFollow: true });
    if (kind === 'symlink') {
      const [a, m] = times(e);
      lutimesSync(path, a, m);
      return;
    }
    if (kind === 'hardlink-to-symlink') return;
    chmodSync(path, e.mode & 0o7777);
    if (e.type === '5') return; // directory times last
    const [a, m] = times(e);
    utimesSync(path, chtimes(a), chtimes(m));
  };
  /** A directory's times, set once everything in it is made: its own atime (else the epoch), its mtime. */
  const dirTimesOf = (path: Buffer, e: TarEntry): [Buffer, number, number] => [path, e.atime ? chtimes(secondsOf(e.atime.sec, e.atime.nsec)) : 0, chtimes(secondsOf(e.mtime, e.mtimeNsec))];

  const writeFile = async (path: Buffer, item: TarItem) => {
    const e = item.entry;
    const fd = openSync(path, 'wx', 0o600);
    try {
      for await (const piece of item.extents()) {
        if (!('data' in piece)) continue; // a hole stays a hole
        space.reserve(piece.data.length, e.nameBytes);
        let off = 0;
        while (off < piece.data.length) off += writeSync(fd, piece.data, off, piece.data.length - off, piece.offset + off);
      }
      if (e.sparseData !== null) ftruncateSync(fd, e.size);
    } finally {
      closeSync(fd);
    }
  };

  // Whatever fails while an entry is applied is named by that entry, in words (an errno, a tool's message).
  let current: Buffer | null = null;
  try {
  for await (const item of readTar(source, opts.tarSplit?.observe)) {
    const { entry } = item;
    current = entry.nameBytes;
    opts.tarSplit?.beginEntry(entry);
    entries++;
    size += entry.size;
    const key = cleanKey(entry.nameBytes);
    if (seen.has(key)) throw new UnsafeTarError('appears twice in the layer tar (dockerd refuses duplicate paths)', { file: entry.nameBytes });
    seen.add(key);
    if (opts.sourceBytes !== undefined && entry.storedSize > opts.sourceBytes) {
      throw new UnsafeTarError(`claims ${entry.storedSize} bytes, more than the whole archive (${opts.sourceBytes})`, { file: entry.nameBytes });
    }
    space.reserve(BLOCK_SIZE, entry.nameBytes);

    if (entry.type === 'g') {
      // A PAX global header changes nothing (Go applies its records to no entry). UnpackLayer still makes
      // its name's parent directories, as dockerd does for naive drivers; Unpack skips it first.
      if (naive) {
        if (batcher !== null && batcher.size > 0) await batcher.flush();
        ensureParents(rootedParts(entry.nameBytes), entry.nameBytes, entry);
      }
      opts.tarSplit?.endEntry();
      continue;
    }

    const parts = layerPathParts(entry.nameBytes);
    const path = at(parts);
    const base = parts.length ? parts[parts.length - 1] : Buffer.alloc(0);
    const dirParts = parts.slice(0, -1);

    if (parts.length > 0 && startsWith(parts[0], AUFS_META_PREFIX) && !(parts.length === 1 && parts[0].equals(Buffer.from(OPAQUE_MARKER)))) {
      for await (const _ of item.content) void _; // aufs bookkeeping (.wh..wh.aufs, .wh..wh.plnk, .wh..wh.orph)
      opts.tarSplit?.endEntry();
      continue;
    }
    if (parts.length === 0) {
      // The layer root: Unpack leaves it alone; UnpackLayer gives it the entry's metadata.
      if (entry.type !== '5' && naive) throw new UnsafeTarError('names the layer root, but is not a directory', { file: entry.nameBytes });
      if (naive) {
        setMetadata(path, entry, 'other');
        dirTimes.push(dirTimesOf(path, entry));
        unpacked.add('');
      }
      for await (const _ of item.content) void _;
      opts.tarSplit?.endEntry();
      continue;
    }
    const entryKey = keyOf(parts);
    const dirKey = keyOf(dirParts);
    // Queued links land before anything that could meet their paths: a hard link (to one of them), a
    // whiteout, a device or FIFO, a path through a directory not yet known here, or the same path again.
    if (batcher !== null && batcher.size > 0 && (!BATCHABLE_AFTER.has(entry.type) || startsWith(base, WHITEOUT_PREFIX) || (dirParts.length > 0 && !knownDirs.has(dirKey)) || batcher.has(entryKey))) {
      await batcher.flush();
    }
    ensureParents(parts, entry.nameBytes, entry);

    if (startsWith(base, WHITEOUT_PREFIX) && opts.whiteouts !== 'aufs') {
      for await (const _ of item.content) void _;
      const dirPath = at(dirParts);
      if (base.equals(Buffer.from(OPAQUE_MARKER))) {
        if (opts.whiteouts === 'overlay') setXattrs(dirPath, [['trusted.overlay.opaque', Buffer.from('y')]], { noFollow: false, strict: true });
        else {
          removeNotUnpacked(dirPath, dirKey, unpacked);
          forgetUnder(dirKey);
        }
      } else {
        const deleted = base.subarray(WHITEOUT_PREFIX.length);
        if (deleted.length === 0 || isDot(deleted) || isDotDot(deleted)) throw new UnsafeTarError('a whiteout that names no file', { file: entry.nameBytes });
        const target = joinBytes(dirPath, deleted);
        rmSync(target, { recursive: true, force: true });
        forgetUnder(keyOf([...dirParts, deleted]));
        if (opts.whiteouts === 'overlay') {
          makeNode(target, ['mknod', '-m', '0', 'c', '0', '0']);
          made.add(keyOf([...dirParts, deleted]));
          chown(target, entry);
          if (opts.impliedTimes) {
            const m = chtimes(secondsOf(entry.mtime, entry.mtimeNsec));
            utimesSync(target, m, m);
          }
        }
      }
      opts.tarSplit?.endEntry();
      continue;
    }

    if (!CREATED_TYPES.has(entry.type)) throw new UnsafeTarError(`unhandled tar header type ${entry.type.charCodeAt(0)} (${describeType(entry.type)}), which dockerd refuses too`, { file: entry.nameBytes });
    if (DEVICE_TYPES[entry.type] && !opts.allowDevices) {
      throw new UnsafeTarError(`device node ${entry.devmajor}:${entry.devminor} (refused because of --no-devices)`, { file: entry.nameBytes });
    }

    const existing = caching && freshDirs.has(dirKey) && !made.has(entryKey) ? null : lstatOrNull(path);
    /** Before this entry is made here: its directory, when it is a queued one, made first. */
    const parentMade = async () => {
      if (batcher !== null && batcher.size > 0 && batcher.has(dirKey)) await batcher.flush();
    };
    if (existing && !(existing.isDirectory() && entry.type === '5')) {
      if (existing.isDirectory() && batcher !== null && batcher.size > 0) await batcher.flush();
      rmSync(path, { recursive: true, force: true });
      if (existing.isDirectory()) forgetUnder(entryKey);
    }

    switch (entry.type) {
      case '5':
        if (!existing && batcher !== null && batchableDir(entry, canChown)) {
          // Made (owner, mode) when its batch runs, in the tar's order; its times come last, as below.
          if (batcher.add({ kind: 'dir', chown: canChown, key: entryKey, path, entry })) await batcher.relieve();
          freshDirs.add(entryKey);
          knownDirs.add(entryKey);
          dirTimes.push(dirTimesOf(path, entry));
          break;
        }
        await parentMade();
        // Its mode may take away the right to write in it: what is queued inside it lands first.
        if (existing && batcher !== null && batcher.size > 0) await batcher.flush();
        if (!existing || !existing.isDirectory()) {
          mkdirSync(path, { mode: 0o700 });
          freshDirs.add(entryKey);
        }
        knownDirs.add(keyOf(parts));
        setMetadata(path, entry, 'other');
        dirTimes.push(dirTimesOf(path, entry));
        break;
      case '0':
        // Never a whiteout or opaque marker (aufs keeps them as files): those are made, not shared.
        if (native !== null && batcher !== null && item.linked?.at && !startsWith(base, WHITEOUT_PREFIX) && linkableEntry(entry)) {
          // Linked (or redone) when its batch settles; the content is consumed unread now.
          const source = item.linked as QueuedSource;
          source.take();
          if (batcher.add({ kind: 'link', key: entryKey, path, entry, source })) await batcher.relieve();
          break;
        }
        if (batcher !== null && opts.copyFiles && item.linked?.at && copyableEntry(entry, canChown)) {
          // Copied by the native helpers when its batch runs; the content is consumed unread now.
          const source = item.linked as QueuedSource;
          source.take();
          space.reservePending(entry.size, entry.nameBytes);
          const [a, m] = times(entry);
          if (batcher.add({ kind: 'copy', chown: canChown, times: [chtimes(a), chtimes(m)], key: entryKey, path, entry, source })) await batcher.relieve();
          break;
        }
        await parentMade();
        if (native && item.linked && !startsWith(base, WHITEOUT_PREFIX) && linkableAsIs(native, item.linked, entry) && linkOpened(native, item.linked.fd, path)) {
          // The source's own inode, its metadata already the entry's: nothing is set on it.
          item.linked.take();
          linkedKeys.add(entryKey);
          linked++;
          break;
        }
        await writeFile(path, item);
        setMetadata(path, entry, 'other');
        break;
      case '1': {
        // Docker resolves link targets inside the layer (in its chroot), so a leading "/" stays inside too.
        let target: Buffer[];
        try {
          target = layerPathParts(entry.linknameBytes, { rooted: true });
        } catch (err) {
          throw new UnsafeTarError(`hard link to ${entry.linkname} ${(err as StrataError).reason}`, { file: entry.nameBytes });
        }
        if (target.length === 0) throw new UnsafeTarError('hard link to the layer root', { file: entry.nameBytes });
        const st = existingInLayer(target);
        if (!st || st.isDirectory()) throw new UnsafeTarError(`hard link to ${entry.linkname}, which is not a file in this layer`, { file: entry.nameBytes });
        const targetKey = keyOf(target);
        if (linkedKeys.has(targetKey)) {
          // A link to a source's file: when the inode already is what this entry says, another name of it
          // sets nothing; otherwise the layer gets a copy of its own first (the source is never changed).
          if (sameMetadata(at(target), entry)) {
            linkSync(at(target), path);
            linkedKeys.add(entryKey);
            break;
          }
          privatize(at(target));
          linkedKeys.delete(targetKey);
        }
        linkSync(at(target), path);
        setMetadata(path, entry, st.isSymbolicLink() ? 'hardlink-to-symlink' : 'other');
        break;
      }
      case '2': {
        const absolute = entry.linknameBytes.length > 0 && entry.linknameBytes[0] === SLASH;
        if (!absolute && climbsOut(dirParts, entry.linknameBytes)) throw new UnsafeTarError(`symlink to ${entry.linkname} points outside the layer`, { file: entry.nameBytes });
        await parentMade();
        symlinkSync(entry.linknameBytes, path);
        setMetadata(path, entry, 'symlink');
        break;
      }
      case '3':
      case '4':
      case '6': {
        const mode = (entry.mode & 0o7777).toString(8);
        if (entry.type === '6') makeNode(path, ['mkfifo', '-m', mode]);
        else makeNode(path, ['mknod', '-m', mode, DEVICE_TYPES[entry.type], String(entry.devmajor), String(entry.devminor)]);
        setMetadata(path, entry, 'other');
        break;
      }
    }
    unpacked.add(entryKey);
    made.add(entryKey);
    opts.tarSplit?.endEntry();
  }
    if (batcher !== null) {
      current = null;
      await batcher.flush();
    }
  } catch (err) {
    // Nothing of a batch may land after the apply gave up (its caller removes what it made).
    await batcher?.drain();
    throw entryFailure(err, current);
  }
  // Directory times last: creating entries inside a directory changes its mtime. Like dockerd's
  // system.Chtimes, a directory's atime is its own access time, else the epoch.
  // Only what still is a directory: a path implied as one may have become a file, a link or a source's
  // linked file since (utimes follows symlinks).
  for (const [path, atime, mtime] of dirTimes) if (lstatOrNull(path)?.isDirectory()) utimesSync(path, atime, mtime);
  return { size, entries, linked, copied };
}

function keyBuffer(parts: Buffer[]): Buffer {
  return Buffer.from(keyOf(parts), 'latin1');
}

function describeType(type: string): string {
  const names: Record<string, string> = { S: 'GNU sparse file', D: 'GNU dumpdir', V: 'GNU volume header', M: 'GNU multi-volume continuation', N: 'GNU long name (old)', '7': 'contiguous file' };
  return names[type] ?? `type ${JSON.stringify(type)}`;
}

/** An opaque directory on a full copy: everything under it that this layer did not unpack goes (UnpackLayer's walk). */
function removeNotUnpacked(dir: Buffer, dirKey: string, unpacked: Set<string>): void {
  for (const child of readdirSync(dir, { encoding: 'buffer' })) {
    const childKey = dirKey === '' ? child.toString('latin1') : `${dirKey}/${child.toString('latin1')}`;
    const childPath = joinBytes(dir, child);
    if (!unpacked.has(childKey)) rmSync(childPath, { recursive: true, force: true });
    else if (lstatSync(childPath).isDirectory()) removeNotUnpacked(childPath, childKey, unpacked);
  }
}

/** A failure met while applying an entry, as one StrataError naming the entry. */
function entryFailure(err: unknown, entry: Buffer | null): unknown {
  if (err instanceof StrataError || entry === null) return err instanceof StrataError ? err : fsError('layer tar', err);
  const stderr = (err as { stderr?: Buffer | string }).stderr?.toString().trim().split('\n')[0];
  if (stderr !== undefined) {
    const hint = process.getuid?.() !== 0 ? ' (creating device nodes needs root; --no-devices refuses them)' : '';
    return new UnsafeTarError(`${stderr || reasonOf(err)}${hint}`, { file: entry, cause: err });
  }
  return fsError(entry, err);
}
