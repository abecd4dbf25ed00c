// A measuring thread's entry file: walks subtrees taken from a shared list (one atomic counter) and
// posts their usage back (see measure-parallel.ts).
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { walkSubtree, type SubtreeResult } from './measure.js';

// Directories come as their path bytes (Buffers arrive as Uint8Arrays).
const { dirs, device, counter } = workerData as { dirs: Uint8Array[]; device: number; counter: SharedArrayBuffer };
const next = new Int32Array(counter);
const results: Array<SubtreeResult & { index: number }> = [];
for (let i = Atomics.add(next, 0, 1); i < dirs.length; i = Atomics.add(next, 0, 1)) results.push({ ...walkSubtree(fs, dirs[i], device), index: i });
parentPort!.postMessage(results);
