// Tree snapshots: the metadata of every entry below a directory, kept as a tree so two snapshots
// can be compared the way Docker's naive differ does (pkg/archive/changes.go).
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { byteOrder } from './walk.js';

export interface EntryMeta {
  /** Where the entry is on disk (for a merged view: in the layer that provides it). */
  path: string;
  /** A symlink's target. */
  linkTarget?: string;
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
  name: string;
  meta: EntryMeta;
  children: Map<string, SnapshotNode> | null;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

export function isDirMode(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}

function metaOf(path: string): EntryMeta {
  const st = lstatSync(path, { bigint: true });
  return {
    path,
    linkTarget: st.isSymbolicLink() ? readlinkSync(path) : undefined,
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
export function snapshotTree(dir: string, onError?: (path: string, err: unknown) => void): SnapshotNode {
  const root: SnapshotNode = { name: '', meta: metaOf(dir), children: new Map() };
  const stack: Array<[SnapshotNode, string]> = [[root, dir]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(path);
    } catch (err) {
      onError?.(path, err);
      continue;
    }
    for (const name of names) {
      const p = join(path, name);
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
  /** Absolute path inside the layer, "/etc/hosts". */
  path: string;
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

function sortedNames(children: Map<string, SnapshotNode> | null): string[] {
  return children ? [...children.keys()].sort(byteOrder) : [];
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

function walk(older: SnapshotNode | null, newer: SnapshotNode, path: string, isRoot: boolean, out: Change[]): void {
  const start = out.length;
  let reported = false;
  if (older === null && !isRoot) {
    out.push({ path, kind: 'A', meta: newer.meta });
    reported = true;
  } else if (older !== null && !isRoot && metadataDiffers(older.meta, newer.meta)) {
    out.push({ path, kind: 'C', meta: newer.meta, before: older.meta });
    reported = true;
  }
  const olderChildren = older !== null && newer.children ? older.children : null;
  for (const name of sortedNames(newer.children)) {
    const child = newer.children!.get(name)!;
    walk(olderChildren?.get(name) ?? null, child, `${path}/${name}`, false, out);
  }
  for (const name of sortedNames(olderChildren)) {
    if (!newer.children!.has(name)) out.push({ path: `${path}/${name}`, kind: 'D' });
  }
  if (out.length > start && !reported && !isRoot && newer.children) {
    out.splice(start, 0, { path, kind: 'C', meta: newer.meta });
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
  return changes.sort((a, b) => byteOrder(a.path, b.path));
}

const S_IFREG = 0o100000;

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
    return kept.some((o) => o !== c && o.path.startsWith(`${c.path}/`));
  });
}
