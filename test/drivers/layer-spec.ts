// The layers every driver is tested on, as data: what each layer does, and what the root filesystem
// looks like after it. Drivers differ in how they store this; their answers must not.

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
    },
  },
  {
    name: 'changes',
    set: {
      'etc/config': { type: 'file', mode: 0o644, content: 'a=2\nb=3\n' },
      'etc/new': { type: 'file', mode: 0o640, content: 'new file\n' },
      'cache': { type: 'dir', mode: 0o755 },
      'cache/c': { type: 'file', mode: 0o644, content: 'c' },
    },
    delete: ['data/old.txt', 'data/sub', 'bin/tool-alias'],
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
