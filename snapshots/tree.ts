// Tree snapshots: the metadata of every entry below a directory, kept as a tree so two snapshots
// can be compared the way Docker's naive differ does (pkg/archive/changes.go). Names are bytes: paths are
// Buffers, and children are keyed by their names' ByteStrings (walk.ts), which sort in byte order.
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { compareBytes } from '../native/names.js';
import { byteString, bytesOfByteString, childPath, pathBytes, type ByteString } from './walk.js';

export interface EntryMeta {
  /** Where the entry is on disk, as bytes (for a merged view: in the layer that provides it). */
  path: Buffer;
  /** A symlink's target, as bytes. */
  linkTarget?: Buffer;
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  /** Modification time in nanoseconds since the epoch (seconds and nanoseconds both compared). */
  mtimeNs: bigint;
  ino: number;
  nlink: number;
}

export interface SnapshotNode {
  /** The entry's name as a ByteString ('' for the root). */
  name: ByteString;
  meta: EntryMeta;
  /** A directory's entries by their names' ByteStrings; null for anything else. */
  children: Map<ByteString, SnapshotNode> | null;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

export function isDirMode(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}

function metaOf(path: Buffer): EntryMeta {
  const st = lstatSync(path, { bigint: true });
  return {
    path,
    linkTarget: st.isSymbolicLink() ? readlinkSync(path, { encoding: 'buffer' }) : undefined,
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    rdev: Number(st.rdev),
    size: Number(st.size),
    mtimeNs: st.mtimeNs,
    ino: Number(st.ino),
    nlink: Number(st.nlink),
  };
}

/** Snapshots the tree at `dir`; unreadable entries are reported through onError and left out. */
export function snapshotTree(dir: string | Buffer, onError?: (path: Buffer, err: unknown) => void): SnapshotNode {
  const top = pathBytes(dir);
  const root: SnapshotNode = { name: '', meta: metaOf(top), children: new Map() };
  const stack: Array<[SnapshotNode, Buffer]> = [[root, top]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    let names: Buffer[];
    try {
      names = readdirSync(path, { encoding: 'buffer' });
    } catch (err) {
      onError?.(path, err);
      continue;
    }
    for (const nameBytes of names) {
      const p = childPath(path, nameBytes);
      const name = byteString(nameBytes);
      let meta: EntryMeta;
      try {
        meta = metaOf(p);
      } catch (err) {
        onError?.(p, err);
        continue;
      }
      const child: SnapshotNode = { name, meta, children: isDirMode(meta.mode) ? new Map() : null };
      node.children!.set(name, child);
      if (child.children) stack.push([child, p]);
    }
  }
  return root;
}

export type ChangeKind = 'A' | 'C' | 'D';

export interface Change {
  /** Absolute path inside the layer as bytes, "/etc/hosts" (native/names.ts displayPath shows it as docker does). */
  path: Buffer;
  kind: ChangeKind;
  /** The entry in the newer tree (absent for deletions). */
  meta?: EntryMeta;
  /** For a change: the entry in the older tree. */
  before?: EntryMeta;
}

const NS = 1_000_000_000n;

/** Docker's sameFsTimeSpec: same second, and the same nanoseconds unless either side has none (tar-applied files). */
export function sameFsTime(aNs: bigint, bNs: bigint): boolean {
  if (aNs === bNs) return true;
  return aNs / NS === bNs / NS && (aNs % NS === 0n || bNs % NS === 0n);
}

/** Docker's statDifferent: mode, owner, rdev always; size and mtime only for non-directories. */
export function metadataDiffers(a: EntryMeta, b: EntryMeta): boolean {
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.rdev !== b.rdev) return true;
  if (isDirMode(a.mode)) return false;
  return !sameFsTime(a.mtimeNs, b.mtimeNs) || a.size !== b.size;
}

/** ByteStrings compare as their bytes do (one UTF-16 code unit per byte). */
const byByteString = (a: ByteString, b: ByteString) => (a < b ? -1 : a > b ? 1 : 0);

function sortedNames(children: Map<ByteString, SnapshotNode> | null): ByteString[] {
  return children ? [...children.keys()].sort(byByteString) : [];
}

/**
 * Changes that turn `older` into `newer`: added, changed and deleted entries, and a directory holding
 * changes is itself reported changed (before its entries), as Docker does to keep directory metadata.
 */
export function compareSnapshots(older: SnapshotNode | null, newer: SnapshotNode): Change[] {
  const changes: Change[] = [];
  walk(older, newer, '', true, changes);
  return changes;
}

/** `path` is the entry's absolute path inside the layer as a ByteString. */
function walk(older: SnapshotNode | null, newer: SnapshotNode, path: ByteString, isRoot: boolean, out: Change[]): void {
  const start = out.length;
  let reported = false;
  if (older === null && !isRoot) {
    out.push({ path: bytesOfByteString(path), kind: 'A', meta: newer.meta });
    reported = true;
  } else if (older !== null && !isRoot && metadataDiffers(older.meta, newer.meta)) {
    out.push({ path: bytesOfByteString(path), kind: 'C', meta: newer.meta, before: older.meta });
    reported = true;
  }
  const olderChildren = older !== null && newer.children ? older.children : null;
  for (const name of sortedNames(newer.children)) {
    const child = newer.children!.get(name)!;
    walk(olderChildren?.get(name) ?? null, child, `${path}/${name}`, false, out);
  }
  for (const name of sortedNames(olderChildren)) {
    if (!newer.children!.has(name)) out.push({ path: bytesOfByteString(`${path}/${name}`), kind: 'D' });
  }
  if (out.length > start && !reported && !isRoot && newer.children) {
    out.splice(start, 0, { path: bytesOfByteString(path), kind: 'C', meta: newer.meta });
  }
}

/** Docker's ChangesSize: bytes of added and changed non-directories, a hardlinked inode once. */
export function changesSize(changes: readonly Change[]): number {
  const seen = new Set<number>();
  let size = 0;
  for (const c of changes) {
    if (c.kind === 'D' || !c.meta || isDirMode(c.meta.mode)) continue;
    if (c.meta.nlink > 1) {
      if (seen.has(c.meta.ino)) continue;
      seen.add(c.meta.ino);
    }
    size += c.meta.size;
  }
  return size;
}

/** By path, bytewise: the order strata lists changes in (dockerd's own order varies from call to call). */
export function sortChanges(changes: Change[]): Change[] {
  return changes.sort((a, b) => compareBytes(a.path, b.path));
}

const S_IFREG = 0o100000;

/** Whether `path` lies inside the directory `dir` (both as bytes). */
function isBelow(path: Buffer, dir: Buffer): boolean {
  return path.length > dir.length && path[dir.length] === 0x2f && path.subarray(0, dir.length).equals(dir);
}

/** Only the modification time differs: the kind of change content alone can confirm or refute. */
function onlyTimeDiffers(a: EntryMeta, b: EntryMeta): boolean {
  return (a.mode & 0o170000) === S_IFREG && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.size === b.size;
}

/**
 * Docker's differ calls a file changed when only its mtime moved (a touch, a rewrite of the same bytes).
 * This drops such changes when the contents hash equal (xxhash64, loaded only when needed), and drops
 * directories listed only as parents of dropped changes.
 */
export async function refineByContent(changes: Change[], open?: import('./content-hash.js').EntryOpener): Promise<Change[]> {
  const candidates = changes.filter((c) => c.kind === 'C' && c.meta && c.before && onlyTimeDiffers(c.before, c.meta));
  if (candidates.length === 0) return changes;
  const { contentHash } = await import('./content-hash.js');
  const unchanged = new Set<Change>();
  // `open` (a driver's openViewEntry) opens each file beneath its layer directory, following no symlink.
  for (const c of candidates) if ((await contentHash(c.before!.path, open)) === (await contentHash(c.meta!.path, open))) unchanged.add(c);
  const kept = changes.filter((c) => !unchanged.has(c));
  // A directory kept only because of changes inside it goes when none are left inside it.
  return kept.filter((c) => {
    if (!c.meta || !isDirMode(c.meta.mode) || (c.before && metadataDiffers(c.before, c.meta)) || c.kind !== 'C') return true;
    return kept.some((o) => o !== c && isBelow(o.path, c.path));
  });
}
