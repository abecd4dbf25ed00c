// The layerdb reading thread's entry file: reads pieces of layerdb taken from a list it shares with the
// main thread, and posts them back (layerdb.ts readLayerFilesInBackground; built as dist/layerdb-worker.js).
import { parentPort, workerData } from 'node:worker_threads';
import type { LayerFields } from '../store-layout.js';
import { readLayerChunks } from './layerdb.js';

const { base, names, fields, counter } = workerData as { base: string; names: string[]; fields: LayerFields; counter: SharedArrayBuffer };
parentPort!.postMessage(readLayerChunks(base, names, fields, new Int32Array(counter)));
