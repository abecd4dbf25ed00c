// What the files pane and the wasted-space view ask of inspect/layer-files.ts and inspect/wasted-space.ts.
// The app is handed the functions (cli/tui/main.tsx passes the real ones), so the panes can be tested on
// listings a test controls (when an entry is loaded, when one fails); the types are theirs, imported as types
// only, so the TUI's first chunk does not load the listing code.
import type { layerChanges, mergedView } from '../../inspect/layer-files.js';
import type { wastedSpace } from '../../inspect/wasted-space.js';

export type { FileEntry, FileKind, FileListing, FileMark, LayerFilesSource } from '../../inspect/layer-files.js';
export type { WastedFile, WastedReport } from '../../inspect/wasted-space.js';

export interface FilesApi {
  layerChanges: typeof layerChanges;
  mergedView: typeof mergedView;
  wastedSpace: typeof wastedSpace;
}
