// How commands speak: JSON or text on stdout, warnings and errors on stderr, exit codes via process.exitCode.
import { DriverDetectionError } from '../inspect/detect-driver.js';
import { openStore, type OpenStore } from '../inspect/open-store.js';
import { StoreReadError, type LayerFields } from '../inspect/read-store.js';
import { ImageReferenceError } from '../inspect/reference.js';
import { formatWarning, type Warning } from '../inspect/warnings.js';

export interface GlobalArgs {
  root: string;
  driver?: string;
  json?: boolean;
}

export function writeOut(text: string): void {
  process.stdout.write(text);
}

export function printJson(value: unknown): void {
  writeOut(JSON.stringify(value, null, 2) + '\n');
}

export function printWarnings(warnings: readonly Warning[]): void {
  for (const w of warnings) process.stderr.write(`strata: warning: ${formatWarning(w)}\n`);
}

/** Errors a user can act on are printed as one line; anything else is a bug and keeps its stack. */
export function reportError(err: unknown): void {
  const known = err instanceof ImageReferenceError || err instanceof DriverDetectionError || err instanceof StoreReadError;
  const text = known || !(err instanceof Error) ? String((err as Error)?.message ?? err) : (err.stack ?? err.message);
  process.stderr.write(`strata: error: ${text}\n`);
  process.exitCode = 1;
}

/**
 * Opens the store named by the global options; the caller prints warnings after its output.
 * Image listings need only layer sizes ('sizes'), disk usage no DiffIDs ('usage'); the rest needs 'all'.
 */
export function loadStore(args: GlobalArgs, layerFields: LayerFields = 'all', opts: { parallelLayers?: number } = {}): Promise<OpenStore> {
  return openStore({ root: args.root, driver: args.driver, layerFields, ...opts });
}

/** Runs a command body: errors become one line on stderr and exit code 1; warnings go to stderr. */
export async function runCommand(body: () => Promise<readonly Warning[] | void> | readonly Warning[] | void): Promise<void> {
  try {
    const warnings = await body();
    if (warnings) printWarnings(warnings);
  } catch (err) {
    reportError(err);
  }
}
