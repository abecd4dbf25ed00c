// What every directory driver does the same way with its layer directories: check one from the data-root
// down before a path into it is handed out, and open a path a view handed out inside the layer it is in.
import type { MaterialisedLayer } from './types.js';
import { componentsBelow, joinComponents, LayerEntryError, openOneEntry, type LayerFiles, type OpenedEntry } from '../native/open-beneath.js';

interface LayerDirectories {
  openLayer(cacheId: string): LayerFiles;
  contentDir(cacheId: string): string;
}

/** contentDir, once checked to be a real directory inside the store (no symlink from the data-root down). */
export function checkedContentDir(driver: LayerDirectories, cacheId: string): string {
  driver.openLayer(cacheId).close();
  return driver.contentDir(cacheId);
}

/**
 * Opens `path` (from a view: `<layers>/<cache-id>/<within…>/<entry>`) inside its layer, through openLayer:
 * `within` names the directories between a layer's own directory and its content (overlay2's "diff").
 */
export function openViewEntryIn(driver: LayerDirectories, path: string | Buffer, layers: string, within: string[] = []): OpenedEntry {
  const parts = componentsBelow(path, layers);
  const skip = 1 + within.length;
  if (!parts || parts.length <= skip || within.some((name, i) => parts[1 + i].toString('latin1') !== name)) {
    throw new LayerEntryError(`not inside a layer directory of ${layers}`, { file: path });
  }
  return openOneEntry(driver.openLayer(parts[0].toString('utf8')), joinComponents(parts.slice(skip)));
}

/** A directory driver's layer as materialised: its own directory, nothing to undo. */
export function alwaysThere(dir: string): MaterialisedLayer {
  return { dir, release: () => {} };
}
