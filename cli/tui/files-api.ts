// What the files pane and the wasted-space view ask of inspect/layer-files.ts and inspect/wasted-space.ts,
// as types only: the app is handed the functions (cli/tui/main.tsx passes the real ones), so the panes
// can be tested on listings a test controls (when an entry is loaded, when one fails).
import type { StorageDriver } from '../../drivers/types.js';
import type { Image, StoreModel } from '../../inspect/model.js';
import type { Warning } from '../../inspect/warnings.js';

export type FileMark = 'added' | 'changed' | 'deleted' | null;
export type FileKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface FileEntry {
  name: Buffer;
  path: Buffer;
  kind: FileKind;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkTarget: Buffer | null;
  mark: FileMark;
  opaque: boolean;
  hasChildren: boolean;
}

export interface FileListing {
  list(dir: Buffer): Promise<FileEntry[]>;
  totals(): Promise<{ files: number; bytes: number }>;
}

export interface LayerFilesSource {
  model: StoreModel;
  driver: StorageDriver | null;
  warnings: Warning[];
}

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
  files: WastedFile[];
  unread: Array<{ layerIndex: number; reason: string }>;
}

export interface FilesApi {
  layerChanges(src: LayerFilesSource, image: Image, layerIndex: number): FileListing;
  mergedView(src: LayerFilesSource, image: Image, layerIndex: number): FileListing;
  wastedSpace(src: LayerFilesSource, image: Image): Promise<WastedReport>;
}
