// The files pane's and the wasted-space view's source: inspect/layer-files.ts and inspect/wasted-space.ts.
import type { FilesApi } from './files-api.js';

/** The layer listing functions, or null while this build has none (the panes then say so). */
export async function filesApi(): Promise<FilesApi | null> {
  return null;
}
