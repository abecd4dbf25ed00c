// The layerdb reading thread's entry file: reads pieces of layerdb taken from a list it shares with the
// main thread, and posts them back (layerdb.ts readLayerFilesInBackground; built as dist/layerdb-worker.js).
// It also checks half of a large metadata index's stats (inspect/metadata-index.ts statsMatch), task 'index-stats'.
import { parentPort, workerData } from 'node:worker_threads';
import { statsMatch } from '../metadata-index.js';
import type { LayerFields } from '../store-layout.js';
import type { ReadLog } from './files.js';
import { readLayerChunks } from './layerdb.js';

if ((workerData as { task?: string }).task === 'index-stats') {
  const { log, extra, stats, from, to } = workerData as { log: ReadLog; extra: string[]; stats: Float64Array; from: number; to: number };
  parentPort!.postMessage(statsMatch(log, extra, stats, from, to));
} else {
  const { base, names, fields, counter } = workerData as { base: string; names: string[]; fields: LayerFields; counter: SharedArrayBuffer };
  parentPort!.postMessage(readLayerChunks(base, names, fields, new Int32Array(counter)));
}
