// Worker threads run real entry files, never code rebuilt from a function's source text: in the bundle,
// dist/<name>.js (an esbuild entry point of its own, see package.json's build script); from the sources,
// the TypeScript module itself, loaded through tsx (Node 20 does not hand --import hooks to a worker's
// entry file, so a one-line shim registers tsx in the worker first; only tests run from the sources).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** Each worker entry: its name in dist/ and its source, relative to the repository root. */
export const WORKER_SOURCES = {
  'measure-worker': 'snapshots/measure-worker.ts',
  'layerdb-worker': 'inspect/docker/layerdb-worker.ts',
  'tui-background-worker': 'cli/tui/background-worker.ts',
} as const;

export type WorkerName = keyof typeof WORKER_SOURCES;

/** Where a worker's entry file is: next to the bundle (dist/ or dist/chunks/), else in the sources. */
export function workerEntry(name: WorkerName): URL {
  for (const rel of [`./${name}.js`, `../${name}.js`]) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  return new URL(`../${WORKER_SOURCES[name]}`, import.meta.url);
}

/** Starts a worker on its entry file and resolves with the one message it posts. */
export function runWorker<T>(name: WorkerName, workerData: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const entry = workerEntry(name);
    const worker = entry.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`, { eval: true, workerData })
      : new Worker(entry, { workerData });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`${name} exited with ${code}`)));
  });
}
