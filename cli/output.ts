// How commands speak: JSON or text on stdout, warnings and errors on stderr, exit codes via process.exitCode.
import { openStore, type OpenStore } from '../inspect/open-store.js';
import { type LayerFields } from '../inspect/store-layout.js';
import { formatWarning, type Warning } from '../inspect/warnings.js';
import { isClosedPipe, OutputClosedError, outputError, stdoutFailed } from '../inspect/output-file.js';
import { StrataError } from '../native/errors.js';
import type { StorageDriver } from '../drivers/types.js';

export interface GlobalArgs {
  root: string;
  driver?: string;
  /** dockerd's --storage-opt values (dm.datadev, dm.metadatadev), every one given. */
  storageOpt?: { values: string[] };
  json?: boolean;
}

/**
 * Writes to stdout. Once its reader has gone (`strata images | head -1`), the rest is dropped quietly
 * and the command ends as it would have: a listing's exit code does not depend on who reads it.
 */
export function writeOut(text: string): void {
  if (stdoutFailed()) return;
  try {
    process.stdout.write(text);
  } catch (err) {
    if (!isClosedPipe(err)) throw outputError('stdout', err);
  }
}

export function printJson(value: unknown): void {
  writeOut(JSON.stringify(value, null, 2) + '\n');
}

export function printWarnings(warnings: readonly Warning[]): void {
  for (const w of warnings) process.stderr.write(`strata: warning: ${formatWarning(w)}\n`);
}

/**
 * A StrataError (a failure the user can act on) is printed as one line naming the file and the reason.
 * Anything else is a bug in strata: one line saying so, and the stack only with STRATA_DEBUG=1.
 */
export function reportError(err: unknown): void {
  if (err instanceof StrataError) {
    process.stderr.write(`strata: error: ${err.message}\n`);
    if (process.env.STRATA_DEBUG === '1' && err.stack) process.stderr.write(`${err.stack}\n`);
  } else {
    const text = err instanceof Error ? err.message : String(err);
    process.stderr.write(`strata: error: ${text.split('\n')[0]} (this is a bug in strata; STRATA_DEBUG=1 shows where)\n`);
    if (process.env.STRATA_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  }
  process.exitCode = 1;
}

/** Drivers the command opened: closed when it ends (devicemapper lets go of the devices it mounted). */
const openedDrivers: StorageDriver[] = [];

/** The warnings of the store the command loaded, printed after its error should it fail: they may say why. */
let loadedWarnings: readonly Warning[] = [];

/**
 * Opens the store named by the global options; the caller prints warnings after its output.
 * Image listings need only layer sizes ('sizes'), disk usage no DiffIDs ('usage'); the rest needs 'all'.
 */
export async function loadStore(args: GlobalArgs, layerFields: LayerFields = 'all', opts: { parallelLayers?: number } = {}): Promise<OpenStore> {
  const store = await openStore({ root: args.root, driver: args.driver, storageOpts: args.storageOpt?.values, layerFields, ...opts });
  loadedWarnings = store.model.warnings;
  if (store.driver) openedDrivers.push(store.driver);
  return store;
}

/** The exit code of a writer whose reader went away, as a shell reports a process killed by SIGPIPE. */
export const CLOSED_PIPE_EXIT = 141;

/**
 * Runs a command body: errors become one line on stderr and exit code 1; warnings go to stderr. A writer
 * whose output was closed by its reader (OutputClosedError) ends quietly with CLOSED_PIPE_EXIT.
 */
export async function runCommand(body: () => Promise<readonly Warning[] | void> | readonly Warning[] | void): Promise<void> {
  try {
    const warnings = await body();
    if (warnings) printWarnings(warnings);
  } catch (err) {
    if (err instanceof OutputClosedError) process.exitCode = CLOSED_PIPE_EXIT;
    else {
      reportError(err);
      // A lookup that fails on a damaged store (No such image, with repositories.json unreadable) says why;
      // a warning about the very file the error names would only repeat it.
      const named = err instanceof StrataError ? err.file : undefined;
      printWarnings(loadedWarnings.filter((w) => w.file !== named));
    }
  } finally {
    for (const d of openedDrivers.splice(0)) d.close();
  }
}
