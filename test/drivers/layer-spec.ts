// The layers every driver is tested on, as data: what each layer does, and what the root filesystem
// looks like after it. Drivers differ in how they store this; their answers must not. Paths and link
// targets are ByteStrings (one char per byte, snapshots/walk.ts): some names here are not UTF-8.
import { contentPadding, encodeHeader, END_OF_ARCHIVE, TYPE, type TarHeader } from '../../drivers/archive/tar-header.js';

export type SpecEntry =
  | { type: 'dir'; mode: number; uid?: number; gid?: number }
  | { type: 'file'; mode: number; content: string; uid?: number; gid?: number; link?: string }
  | { type: 'symlink'; target: string }
  | { type: 'fifo'; mode: number };

/** Path (no leading slash) → entry, for one layer's own operations. `null` deletes a path (and all below it). */
export interface LayerSpec {
  name: string;
  set: Record<string, SpecEntry>;
  delete?: string[];
  /** Directories this layer replaces wholesale (deleted and recreated: opaque). */
  opaque?: string[];
}

export const MTIME = 1_700_000_000;

export const LAYERS: LayerSpec[] = [
  {
    name: 'base',
    set: {
      bin: { type: 'dir', mode: 0o755 },
      'bin/tool': { type: 'file', mode: 0o4755, content: 'tool v1\n' },
      'bin/tool-alias': { type: 'file', mode: 0o4755, content: 'tool v1\n', link: 'bin/tool' },
      'bin/sh': { type: 'symlink', target: 'tool' },
      etc: { type: 'dir', mode: 0o755 },
      'etc/config': { type: 'file', mode: 0o644, content: 'a=1\n' },
      'etc/empty': { type: 'file', mode: 0o600, content: '' },
      data: { type: 'dir', mode: 0o750, uid: 12345, gid: 54321 },
      'data/old.txt': { type: 'file', mode: 0o644, content: 'old\n', uid: 12345, gid: 54321 },
      'data/sub': { type: 'dir', mode: 0o755 },
      'data/sub/deep.txt': { type: 'file', mode: 0o644, content: 'deep\n' },
      cache: { type: 'dir', mode: 0o755 },
      'cache/a': { type: 'file', mode: 0o644, content: 'aaaa' },
      'cache/b': { type: 'file', mode: 0o644, content: 'bb' },
      'run.fifo': { type: 'fifo', mode: 0o644 },
      // Names that are not UTF-8 (Latin-1 0xe9, and 0xff, which no UTF-8 holds), a link to one, a hardlinked pair.
      'caf\xe9.txt': { type: 'file', mode: 0o644, content: 'latin-1\n' },
      'd\xff': { type: 'dir', mode: 0o755 },
      'd\xff/inner': { type: 'file', mode: 0o644, content: 'inner\n' },
      'l\xe9': { type: 'symlink', target: 'caf\xe9.txt' },
      'h\xe9-1': { type: 'file', mode: 0o600, content: 'linked\n' },
      'h\xe9-2': { type: 'file', mode: 0o600, content: 'linked\n', link: 'h\xe9-1' },
    },
  },
  {
    name: 'changes',
    set: {
      'etc/config': { type: 'file', mode: 0o644, content: 'a=2\nb=3\n' },
      'etc/new': { type: 'file', mode: 0o640, content: 'new file\n' },
      'cache': { type: 'dir', mode: 0o755 },
      'cache/c': { type: 'file', mode: 0o644, content: 'c' },
      'caf\xe9.txt': { type: 'file', mode: 0o644, content: 'latin-1 v2\n' },
    },
    delete: ['data/old.txt', 'data/sub', 'bin/tool-alias', 'd\xff'],
    opaque: ['cache'],
  },
];

export interface ViewEntry {
  type: SpecEntry['type'];
  mode?: number;
  uid: number;
  gid: number;
  content?: string;
  target?: string;
}

/** The root filesystem after layers 0…n. */
export function viewAfter(n: number): Map<string, ViewEntry> {
  const view = new Map<string, ViewEntry>();
  const removeUnder = (path: string) => {
    for (const p of [...view.keys()]) if (p === path || p.startsWith(`${path}/`)) view.delete(p);
  };
  for (const layer of LAYERS.slice(0, n + 1)) {
    for (const p of layer.delete ?? []) removeUnder(p);
    for (const p of layer.opaque ?? []) removeUnder(p);
    for (const [p, e] of Object.entries(layer.set)) {
      const entry: ViewEntry = { type: e.type, uid: 'uid' in e && e.uid !== undefined ? e.uid : 0, gid: 'gid' in e && e.gid !== undefined ? e.gid : 0 };
      if (e.type !== 'symlink') entry.mode = e.mode;
      else entry.target = e.target;
      if (e.type === 'file') entry.content = e.content;
      view.set(p, entry);
    }
  }
  return view;
}

/** Layer i as a Docker layer tar: its entries and the parents of its changes, AUFS-style whiteouts. */
export function specLayerTar(i: number): Buffer {
  const layer = LAYERS[i];
  const before = i > 0 ? viewAfter(i - 1) : new Map<string, ViewEntry>();
  const after = viewAfter(i);
  const parts: Array<[string, Buffer[]]> = [];
  const latin1 = (s: string) => Buffer.from(s, 'latin1');
  const header = (name: string, h: Omit<TarHeader, 'name' | 'mtime'>) => encodeHeader({ ...h, name: latin1(name), mtime: MTIME });
  const dirsNeeded = new Set<string>();
  for (const p of [...Object.keys(layer.set), ...(layer.delete ?? [])]) {
    for (let d = p.split('/').slice(0, -1).join('/'); d; d = d.split('/').slice(0, -1).join('/')) dirsNeeded.add(d);
  }
  for (const d of dirsNeeded) {
    if (layer.set[d]) continue;
    const e = after.get(d)!;
    parts.push([`${d}/`, [header(`${d}/`, { type: TYPE.dir, mode: 0o40000 | e.mode!, uid: e.uid, gid: e.gid, size: 0 })]]);
  }
  for (const [p, e] of Object.entries(layer.set)) {
    if (e.type === 'dir') {
      const blocks = [header(`${p}/`, { type: TYPE.dir, mode: 0o40000 | e.mode, uid: e.uid ?? 0, gid: e.gid ?? 0, size: 0 })];
      if ((layer.opaque ?? []).includes(p)) blocks.push(header(`${p}/.wh..wh..opq`, { type: TYPE.file, mode: 0o100000, uid: 0, gid: 0, size: 0 }));
      parts.push([`${p}/`, blocks]);
    } else if (e.type === 'file' && e.link) {
      parts.push([p, [header(p, { type: TYPE.hardlink, mode: 0o100000 | e.mode, uid: e.uid ?? 0, gid: e.gid ?? 0, size: 0, linkname: latin1(e.link) })]]);
    } else if (e.type === 'file') {
      const body = Buffer.from(e.content);
      parts.push([p, [header(p, { type: TYPE.file, mode: 0o100000 | e.mode, uid: e.uid ?? 0, gid: e.gid ?? 0, size: body.length }), body, contentPadding(body.length)]]);
    } else if (e.type === 'symlink') {
      parts.push([p, [header(p, { type: TYPE.symlink, mode: 0o120777, uid: 0, gid: 0, size: 0, linkname: latin1(e.target) })]]);
    } else {
      parts.push([p, [header(p, { type: TYPE.fifo, mode: 0o10000 | e.mode, uid: 0, gid: 0, size: 0 })]]);
    }
  }
  for (const p of layer.delete ?? []) {
    if (!before.has(p)) throw new Error(`spec deletes ${p}, which is not there`);
    const slash = p.lastIndexOf('/');
    const name = slash < 0 ? `.wh.${p}` : `${p.slice(0, slash)}/.wh.${p.slice(slash + 1)}`;
    parts.push([name, [header(name, { type: TYPE.file, mode: 0o100600, uid: 0, gid: 0, size: 0 })]]);
  }
  // Parents before children, and a hardlink after its target (Docker writes the target first: it sorts first here).
  parts.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.concat([...parts.flatMap(([, blocks]) => blocks), END_OF_ARCHIVE]);
}
