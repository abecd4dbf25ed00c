// The files pane's and the wasted-space view's source: inspect/layer-files.ts and inspect/wasted-space.ts.
import { layerChanges, mergedView } from '../../inspect/layer-files.js';
import { wastedSpace } from '../../inspect/wasted-space.js';
import type { FilesApi } from './files-api.js';

/** The layer listing functions the app is handed (null would tell the panes this build has none). */
export async function filesApi(): Promise<FilesApi | null> {
  return { layerChanges, mergedView, wastedSpace };
}
