// Writes files from disk as a layer tar the way Docker's archive package does: Go tar headers with the
// file type bits in the mode, whole-second mtimes, hardlinks as links to the first name, file
// capabilities as xattrs, deletions as ".wh.<name>" and opaque directories as ".wh..wh..opq".
// Names, link targets and source paths are bytes (see tar-header.ts for how Go writes names that are not ASCII).
import { fsError } from '../../native/errors.js';
import type { LayerFiles } from '../../native/open-beneath.js';
import { lstatSync, readlinkSync } from 'node:fs';
import type { StatLike } from '../../snapshots/walk.js';
import { ChunkBuilder, type TarPiece } from './chunks.js';
import { groupName, userName } from './owner-names.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from './whiteout.js';
import { encodeHeader, paddingLength, END_OF_ARCHIVE, TYPE, type TarHeader } from './tar-header.js';


export type ExportItem =
  /**
   * A file, directory, link or device at `source`, named `name` in the layer and below the layer's
   * directory ("etc/hosts"; both as bytes). `stat`: its lstat, when the caller has it. A file's content is
   * read through the layer (opened beneath its directory), never through `source`.
   */
  | { kind: 'path'; name: Buffer; source: Buffer; stat?: StatLike; opaque?: boolean; xattrs?: Map<string, Buffer> }
  /** A deletion: becomes ".wh.<base>" next to where the file was (mode 0, as moby's ExportChanges writes it). */
  | { kind: 'whiteout'; name: Buffer };

const S_IFMT = 0o170000;
const FILE_TYPE_BITS: Record<number, number> = {
  0o040000: 0o040000,
  0o100000: 0o100000,
  0o120000: 0o120000,
  0o060000: 0o060000,
  0o020000: 0o020000,
  0o010000: 0o010000,
};

function typeOf(st: StatLike): TarHeader['type'] | null {
  if (st.isDirectory()) return TYPE.dir;
  if (st.isFile()) return TYPE.file;
  if (st.isSymbolicLink()) return TYPE.symlink;
  if (st.isCharacterDevice()) return TYPE.char;
  if (st.isBlockDevice()) return TYPE.block;
  if (st.isFIFO()) return TYPE.fifo;
  return null; // sockets are not archived (Go's tar cannot)
}

/** "a/b/c" with `marker` before its last component: "a/b/<marker>c". */
function markedName(name: Buffer, marker: Buffer): Buffer {
  const i = name.lastIndexOf(0x2f) + 1;
  return Buffer.concat([name.subarray(0, i), marker, name.subarray(i)]);
}

const WHITEOUT = Buffer.from(WHITEOUT_PREFIX);
const OPAQUE = Buffer.from(`/${OPAQUE_MARKER}`);
const SLASH = Buffer.from('/');

/** Docker archives only security.capability, turning v3 capabilities into v2 (archive.go). */
function capabilityOf(attrs: Map<string, Buffer> | undefined): Record<string, Buffer> | undefined {
  const cap = attrs?.get('security.capability');
  if (!cap) return undefined;
  const value = Buffer.from(cap);
  if (value.length > 3 && value[3] === 3) return { 'security.capability': Buffer.concat([value.subarray(0, 3), Buffer.of(2), value.subarray(4, 20)]) };
  return { 'security.capability': value };
}

export interface ExportOptions {
  /** Leave regular files' contents on disk, in TarPlans (archive/chunks.ts), for a writer that copies in the kernel. */
  passFiles?: boolean;
}

/** The tar of `items`, whose files' contents are read from `layer` (the caller closes it once this is done). */
export async function* exportTree(items: Iterable<ExportItem>, layer: LayerFiles, opts: ExportOptions = {}): AsyncGenerator<TarPiece> {
  const out = new ChunkBuilder(opts.passFiles ?? false);
  // Pieces that filled up; yielded only when there are some (a yield costs more than most entries).
  let ready: TarPiece[] = [];
  const put = (pieces: TarPiece[]) => {
    if (pieces.length > 0) ready = ready.length > 0 ? ready.concat(pieces) : pieces;
  };
  const firstNameOfInode = new Map<string, Buffer>();
  for (const item of items) {
    if (item.kind === 'whiteout') {
      put(out.add(encodeHeader({ name: markedName(item.name, WHITEOUT), type: TYPE.file, mode: 0, uid: 0, gid: 0, size: 0, mtime: 0 })));
      if (ready.length > 0) yield* flush();
      continue;
    }
    let st: StatLike;
    try {
      st = item.stat ?? lstatSync(item.source);
    } catch (err) {
      throw fsError(item.source, err);
    }
    const type = typeOf(st);
    if (type === null) continue;
    const header: TarHeader = {
      name: type === TYPE.dir ? Buffer.concat([item.name, SLASH]) : item.name,
      type,
      mode: (st.mode & 0o7777) | (FILE_TYPE_BITS[st.mode & S_IFMT] ?? 0),
      uid: st.uid,
      gid: st.gid,
      size: 0,
      mtime: Math.floor(st.mtimeMs / 1000),
      uname: userName(st.uid),
      gname: groupName(st.gid),
      xattrs: capabilityOf(item.xattrs),
    };
    if (type === TYPE.symlink) header.linkname = readlinkSync(item.source, { encoding: 'buffer' });
    if (type === TYPE.char || type === TYPE.block) {
      header.devmajor = Math.floor(st.rdev / 256) & 0xfff;
      header.devminor = (st.rdev & 0xff) | ((st.rdev >>> 12) & 0xfff00);
    }
    if (type === TYPE.file) header.size = st.size;
    // Docker's order (archive.go addTarFile): hardlinks first — any non-directory with several links,
    // overlay's shared whiteout inode included — then the whiteout conversion, which keeps the link name.
    if (type !== TYPE.dir && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = firstNameOfInode.get(key);
      if (first !== undefined) {
        header.type = TYPE.hardlink;
        header.linkname = first;
        header.size = 0;
      } else firstNameOfInode.set(key, item.name);
    }
    if (type === TYPE.char && st.rdev === 0) {
      // An overlay whiteout (0:0 character device) becomes an empty ".wh." file, mode 0600.
      put(out.add(encodeHeader({ ...header, name: markedName(item.name, WHITEOUT), type: TYPE.file, mode: 0o600, size: 0 })));
      if (ready.length > 0) yield* flush();
      continue;
    }
    put(out.add(encodeHeader(header)));
    if (type === TYPE.dir && item.opaque) {
      put(out.add(encodeHeader({ name: Buffer.concat([item.name, OPAQUE]), type: TYPE.file, mode: st.mode & 0o777, uid: st.uid, gid: st.gid, uname: header.uname, gname: header.gname, size: 0, mtime: 0 })));
    }
    if (header.type === TYPE.file && header.size > 0) {
      if (opts.passFiles) put(out.passFile(layer, item.name, header.size));
      else {
        if (ready.length > 0) yield* flush();
        yield* out.readFile(layer, item.name, header.size);
      }
      put(out.zeros(paddingLength(header.size)));
    }
    if (ready.length > 0) yield* flush();
  }
  put(out.add(END_OF_ARCHIVE));
  put(out.finish());
  yield* flush();

  function* flush(): Generator<TarPiece> {
    const pieces = ready;
    ready = [];
    yield* pieces;
  }
}
