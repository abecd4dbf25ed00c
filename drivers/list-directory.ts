// One directory of a layer, listed for listDirectory: the part every directory driver shares (finding the
// directory beneath the layer without following a symlink, reading its entries and their lstat numbers).
// Each driver then says what its representation means (whiteouts, opaque markers, a comparison).
import { lstat, readdir, readlink } from 'node:fs/promises';
import { fsError, StrataError } from '../native/errors.js';
import { nativeHelpers, SCAN_STRIDE } from '../native/index.js';
import type { DirectoryChange } from './types.js';

const S_IFMT = 0o170000;
const SLASH = 0x2f;

/** One entry of a directory on disk, with the lstat numbers listDirectory needs. */
export interface DiskEntry {
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  rdev: number;
  ino: number;
  nlink: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** Extended attributes, when asked for and the native scan could read them (null: not read). */
  xattrs: Map<string, Buffer> | null;
}

export function kindOfMode(mode: number): DirectoryChange['kind'] {
  switch (mode & S_IFMT) {
    case 0o040000:
      return 'dir';
    case 0o120000:
      return 'symlink';
    case 0o020000:
      return 'char';
    case 0o060000:
      return 'block';
    case 0o010000:
      return 'fifo';
    case 0o140000:
      return 'socket';
    default:
      return 'file';
  }
}

/** The components of a relative directory path; null for one that climbs ('..') or names '.'. */
function componentsOf(dir: Buffer): Buffer[] | null {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= dir.length; i++) {
    if (i < dir.length && dir[i] !== SLASH) continue;
    if (i > start) {
      const part = dir.subarray(start, i);
      if ((part.length === 1 && part[0] === 0x2e) || (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e)) return null;
      parts.push(part);
    }
    start = i + 1;
  }
  return parts;
}

/**
 * `dir` below the layer directory `base`, each component checked to be a real directory (a symlink in
 * the layer is never followed out of it); null when the layer has no such directory.
 */
export async function directoryBeneath(base: string, dir: Buffer): Promise<Buffer | null> {
  const parts = componentsOf(dir);
  if (parts === null) throw new StrataError('is not a path inside a layer', { file: dir });
  let path = Buffer.from(base);
  for (const part of parts) {
    path = Buffer.concat([path, Buffer.from('/'), part]);
    try {
      if (!(await lstat(path)).isDirectory()) return null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw fsError(path, err);
    }
  }
  return path;
}

/** A directory's entries sorted by name bytes: one native scan, or readdir and lstat (no xattrs then). */
export async function readDiskEntries(path: Buffer, withXattrs: boolean): Promise<DiskEntry[]> {
  const native = nativeHelpers();
  try {
    if (native) {
      const { nameBytes, nameEnds, stats: s, xattrs } = native.scanDir(path, withXattrs);
      const out: DiskEntry[] = new Array(nameEnds.length);
      for (let i = 0, start = 0; i < nameEnds.length; start = nameEnds[i++]) {
        const o = i * SCAN_STRIDE;
        let attrs: Map<string, Buffer> | null = null;
        const list = withXattrs ? xattrs?.[i] : undefined;
        if (withXattrs) {
          attrs = new Map();
          if (list) for (let k = 0; k + 1 < list.length; k += 2) attrs.set(list[k] as string, list[k + 1] as Buffer);
        }
        out[i] = { name: Buffer.from(nameBytes.subarray(start, nameEnds[i])), mode: s[o], uid: s[o + 2], gid: s[o + 3], size: s[o + 4], mtimeSec: s[o + 5], mtimeNsec: s[o + 6], rdev: s[o + 7], ino: s[o + 9], nlink: s[o + 1], xattrs: attrs };
      }
      return out;
    }
    const names = (await readdir(path, { encoding: 'buffer' })).sort(Buffer.compare);
    const out: DiskEntry[] = [];
    for (const name of names) {
      const st = await lstat(Buffer.concat([path, Buffer.from('/'), name]), { bigint: true });
      out.push({ name, mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid), size: Number(st.size), rdev: Number(st.rdev), ino: Number(st.ino), nlink: Number(st.nlink), mtimeSec: Number(st.mtimeNs / 1_000_000_000n), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n), xattrs: null });
    }
    return out;
  } catch (err) {
    throw fsError(path, err);
  }
}

/** A symlink's target, bytes. */
export async function linkTargetOf(dirPath: Buffer, name: Buffer): Promise<Buffer> {
  const path = Buffer.concat([dirPath, Buffer.from('/'), name]);
  try {
    return await readlink(path, { encoding: 'buffer' });
  } catch (err) {
    throw fsError(path, err);
  }
}

/** An entry as a change of the layer (not a whiteout). */
export async function changeOf(dirPath: Buffer, e: DiskEntry, extra: { opaque?: boolean | null; unchanged?: boolean } = {}): Promise<DirectoryChange> {
  const kind = kindOfMode(e.mode);
  return {
    name: e.name,
    kind,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size: kind === 'file' ? e.size : 0,
    linkTarget: kind === 'symlink' ? await linkTargetOf(dirPath, e.name) : null,
    opaque: extra.opaque === undefined ? false : extra.opaque,
    ino: e.ino,
    nlink: e.nlink,
    unchanged: extra.unchanged ?? false,
  };
}

export function whiteoutOf(name: Buffer): DirectoryChange {
  return { name, kind: 'whiteout', mode: 0, uid: 0, gid: 0, size: 0, linkTarget: null, opaque: false, ino: 0, nlink: 0, unchanged: false };
}
