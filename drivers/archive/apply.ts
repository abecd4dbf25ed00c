// Applies a layer tar to a directory, treating the tar as hostile: no name may climb out of the layer,
// no write goes through a symlink, links may not point outside, devices need consent, sizes are checked
// against the source. Whiteouts become what the driver stores: overlay (0:0 devices, opaque xattr),
// aufs (the .wh. files themselves), or naive (deletions applied to a full copy).
import { StrataError } from '../../native/errors.js';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statfsSync,
  symlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { posix } from 'node:path';
import { readTar, type TarEntry } from './tar-reader.js';
import type { TarSplitWriter } from './tar-split-writer.js';
import { AUFS_META_PREFIX, OPAQUE_MARKER, WHITEOUT_PREFIX } from './whiteout.js';

export type WhiteoutFormat = 'overlay' | 'aufs' | 'naive';


export class UnsafeTarError extends StrataError {
  override name = 'UnsafeTarError';
}

export interface ApplyOptions {
  whiteouts: WhiteoutFormat;
  /** Bytes the source holds, when known: an entry claiming more is refused before anything is written. */
  sourceBytes?: number;
  /** Create character and block devices (other than whiteouts); refused by default. */
  allowDevices?: boolean;
  /** Records the tar-split of the archive as it is read. */
  tarSplit?: TarSplitWriter;
}

export interface ApplyResult {
  /** Sum of the entries' sizes (Docker's naive ApplyDiff size). */
  size: number;
  entries: number;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** "./a/b/" → "a/b"; refuses absolute names and names that climb out. "" is the layer root. */
export function cleanName(raw: string): string {
  if (raw.startsWith('/')) throw new UnsafeTarError(`${raw}: absolute path in a layer tar`);
  const n = posix.normalize(raw).replace(/\/+$/, '');
  if (n === '..' || n.startsWith('../')) throw new UnsafeTarError(`${raw}: climbs out of the layer`);
  return n === '.' ? '' : n;
}

export async function applyLayerTar(source: AsyncIterable<Buffer>, dest: string, opts: ApplyOptions): Promise<ApplyResult> {
  const dirTimes: Array<[string, number]> = [];
  const unpacked = new Set<string>();
  let size = 0;
  let entries = 0;

  /** Every existing parent of `name` must be a real directory; missing ones are created (0755). */
  const ensureParents = (name: string, raw: string) => {
    const parts = name.split('/').slice(0, -1);
    let p = dest;
    for (const part of parts) {
      p = `${p}/${part}`;
      const st = lstatOrNull(p);
      if (st === null) mkdirSync(p, { mode: 0o755 });
      else if (st.isSymbolicLink()) throw new UnsafeTarError(`${raw}: path goes through a symlinked parent (${p.slice(dest.length + 1)})`);
      else if (!st.isDirectory()) throw new UnsafeTarError(`${raw}: a parent is not a directory (${p.slice(dest.length + 1)})`);
    }
  };

  // Only root may give files away; anyone else keeps them (as rootless engines do).
  const canChown = process.getuid?.() === 0;
  const setMetadata = (path: string, e: TarEntry, isSymlink: boolean) => {
    if (canChown) lchownSync(path, e.uid, e.gid);
    if (!isSymlink) chmodSync(path, e.mode & 0o7777); // after chown, which clears setuid bits
    for (const [key, value] of Object.entries(e.xattrs)) {
      execFileSync('setfattr', ['-h', '-n', key, '-v', `0s${value.toString('base64')}`, path]);
    }
    if (isSymlink) lutimesSync(path, e.mtime, e.mtime);
  };

  for await (const { entry, content } of readTar(source, opts.tarSplit?.observe)) {
    opts.tarSplit?.beginEntry(entry);
    entries++;
    if (opts.sourceBytes !== undefined && entry.size > opts.sourceBytes) {
      throw new UnsafeTarError(`${entry.name}: claims ${entry.size} bytes, more than the whole archive (${opts.sourceBytes})`);
    }
    const name = cleanName(entry.name);
    const path = name === '' ? dest : `${dest}/${name}`;
    const base = posix.basename(name);
    const dir = posix.dirname(name) === '.' ? '' : posix.dirname(name);
    size += entry.size;

    if (name.startsWith(AUFS_META_PREFIX) && !name.startsWith(OPAQUE_MARKER)) {
      for await (const _ of content) void _; // aufs bookkeeping (.wh..wh.aufs, .wh..wh.plnk, .wh..wh.orph)
      opts.tarSplit?.endEntry();
      continue;
    }
    if (name !== '') ensureParents(name, entry.name);

    if (base.startsWith(WHITEOUT_PREFIX) && opts.whiteouts !== 'aufs') {
      for await (const _ of content) void _;
      const dirPath = dir === '' ? dest : `${dest}/${dir}`;
      if (base === OPAQUE_MARKER) {
        if (opts.whiteouts === 'overlay') execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', dirPath]);
        else {
          for (const child of readdirSync(dirPath)) {
            const childName = dir === '' ? child : `${dir}/${child}`;
            if (!unpacked.has(childName)) rmSync(`${dirPath}/${child}`, { recursive: true, force: true });
          }
        }
      } else {
        const target = `${dirPath}/${base.slice(WHITEOUT_PREFIX.length)}`;
        rmSync(target, { recursive: true, force: true });
        if (opts.whiteouts === 'overlay') {
          execFileSync('mknod', [target, 'c', '0', '0']);
          lchownSync(target, entry.uid, entry.gid);
        }
      }
      opts.tarSplit?.endEntry();
      continue;
    }

    const existing = lstatOrNull(path);
    if (existing && !(existing.isDirectory() && entry.type === '5')) rmSync(path, { recursive: true, force: true });

    switch (entry.type) {
      case '5':
        if (!existing || !existing.isDirectory()) mkdirSync(path, { mode: 0o700 });
        setMetadata(path, entry, false);
        dirTimes.push([path, entry.mtime]);
        break;
      case '0': {
        const free = statfsSync(dest);
        if (entry.size > free.bavail * free.bsize) throw new UnsafeTarError(`${entry.name}: ${entry.size} bytes do not fit in the ${free.bavail * free.bsize} bytes free under ${dest}`);
        const fd = openSync(path, 'wx', 0o600);
        try {
          for await (const chunk of content) {
            let off = 0;
            while (off < chunk.length) off += writeSync(fd, chunk, off);
          }
        } finally {
          closeSync(fd);
        }
        setMetadata(path, entry, false);
        utimesSync(path, entry.mtime, entry.mtime);
        break;
      }
      case '1': {
        const target = cleanName(entry.linkname);
        if (target === '') throw new UnsafeTarError(`${entry.name}: hard link to the layer root`);
        ensureParents(target, entry.linkname);
        const st = lstatOrNull(`${dest}/${target}`);
        if (!st || st.isDirectory()) throw new UnsafeTarError(`${entry.name}: hard link to ${entry.linkname}, which is not a file in this layer`);
        linkSync(`${dest}/${target}`, path);
        break;
      }
      case '2': {
        if (!entry.linkname.startsWith('/')) {
          const resolved = posix.normalize(posix.join(dir, entry.linkname));
          if (resolved === '..' || resolved.startsWith('../')) throw new UnsafeTarError(`${entry.name}: symlink to ${entry.linkname} points outside the layer`);
        }
        symlinkSync(entry.linkname, path);
        setMetadata(path, entry, true);
        break;
      }
      case '3':
      case '4':
        if (!opts.allowDevices) throw new UnsafeTarError(`${entry.name}: device node ${entry.devmajor}:${entry.devminor} (pass --allow-devices to create device nodes)`);
        execFileSync('mknod', [path, entry.type === '3' ? 'c' : 'b', String(entry.devmajor), String(entry.devminor)]);
        setMetadata(path, entry, false);
        utimesSync(path, entry.mtime, entry.mtime);
        break;
      case '6':
        execFileSync('mkfifo', [path]);
        setMetadata(path, entry, false);
        utimesSync(path, entry.mtime, entry.mtime);
        break;
      default:
        throw new UnsafeTarError(`${entry.name}: unsupported tar entry type ${JSON.stringify(entry.type)}`);
    }
    unpacked.add(name);
    opts.tarSplit?.endEntry();
  }
  // Directory times last: creating entries inside a directory changes its mtime.
  for (const [path, mtime] of dirTimes.reverse()) utimesSync(path, mtime, mtime);
  return { size, entries };
}
