// Wasted space (dive's idea): bytes an image carries in its lower layers that a later layer of the same
// image made invisible. A regular file written by layer j counts, with its size, when a later layer k is
// the first to replace its path (an entry of any kind at that path: "overwritten"), or to delete it: a
// whiteout of it or of a directory above it, a directory above it replaced by a non-directory, or a
// directory above it (or its own directory) made opaque ("deleted"). Hard links count 0 bytes (their
// bytes are the target's); directories count nothing themselves. Metadata only: read from the layers'
// tar-splits (or the driver's listings), never their contents.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { StrataError } from '../native/errors.js';
import { layerIndexOf, type LayerFilesSource, type LayerIndex } from './layer-files.js';
import type { Image } from './model.js';
import { errorMessage } from './warnings.js';

export interface WastedFile {
  path: Buffer;
  bytes: number;
  layerIndex: number;
  by: 'overwritten' | 'deleted';
  byLayerIndex: number;
}

export interface WastedReport {
  imageId: string;
  bytes: number;
  /** Largest first (then by path bytes). */
  files: WastedFile[];
  /** Layers (or directories of them) that could not be read: their files are not counted, and they overwrite nothing here. */
  unread: Array<{ layerIndex: number; reason: string }>;
}

const join = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);

/** Whether layer `l` hides every lower entry of directory `dir`: it or a directory above it whited out, replaced or opaque. */
function hidesDirectory(l: LayerIndex, dir: string): boolean {
  if (dir === '') return false;
  for (let at = dir.indexOf('/'); ; at = dir.indexOf('/', at + 1)) {
    const e = l.entry(at < 0 ? dir : dir.slice(0, at));
    if (e && (e.kind !== 'dir' || e.opaque)) return true;
    if (at < 0) return false;
  }
}

/** Files of `image`'s lower layers overwritten or deleted by a later layer, largest first. */
export async function wastedSpace(src: LayerFilesSource, image: Image): Promise<WastedReport> {
  const unread: WastedReport['unread'] = [];
  const layers: Array<LayerIndex | null> = await Promise.all(
    image.chainIds.map((id, i) =>
      layerIndexOf(src, id).catch((err: unknown) => {
        unread.push({ layerIndex: i, reason: err instanceof StrataError ? err.message : errorMessage(err) });
        return null;
      }),
    ),
  );
  layers.forEach((l, i) => {
    // a directory a driver could not list: the layer is read but for it
    for (const error of l?.errors.values() ?? []) unread.push({ layerIndex: i, reason: error.message });
  });
  unread.sort((a, b) => a.layerIndex - b.layerIndex);
  // Paths stay 'latin1' strings (one char a byte: they sort in byte order) until the report is made.
  const found: Array<{ path: string; bytes: number; layerIndex: number; by: WastedFile['by']; byLayerIndex: number }> = [];
  let work = 0;
  for (let j = 0; j < layers.length - 1; j++) {
    const lower = layers[j];
    if (!lower) continue;
    for (const [dir, entries] of lower.dirs) {
      // The files of this directory still to be found overwritten or deleted.
      const open = new Map<string, number>();
      for (const [name, e] of entries) if (e.kind === 'file') open.set(name, e.size);
      work += entries.size;
      for (let k = j + 1; k < layers.length && open.size > 0; k++) {
        const upper = layers[k];
        if (!upper) continue;
        const hidden = hidesDirectory(upper, dir);
        const own = upper.dirs.get(dir);
        if (!hidden && !own) continue;
        work += open.size;
        for (const [name, size] of open) {
          const e = own?.get(name);
          if (!e && !hidden) continue;
          found.push({ path: join(dir, name), bytes: size, layerIndex: j, by: e && e.kind !== 'whiteout' ? 'overwritten' : 'deleted', byLayerIndex: k });
          open.delete(name);
        }
      }
      if (work > 4096) {
        work = 0;
        await yieldToLoop();
      }
    }
  }
  found.sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) || a.layerIndex - b.layerIndex);
  const files: WastedFile[] = found.map((f) => ({ ...f, path: Buffer.from(f.path, 'latin1') }));
  return { imageId: image.id, bytes: files.reduce((sum, f) => sum + f.bytes, 0), files, unread };
}
