// strata rmi: docker rmi's answer predicted (--dry-run), or carried out offline on a store whose daemon
// cannot start; both print what docker would print, and exit as it would.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { openStore } from '../../inspect/open-store.js';
import { withWriteSession } from '../../inspect/open-for-write.js';
import { predictionWarnings, predictRmi, rmiErrorText, rmiFails, type RmiConflict, type RmiOptions } from '../../inspect/rmi.js';
import { reachedErrors, removeImagesOffline } from '../../inspect/rmi-offline.js';
import { assertRootIdle } from '../../inspect/store-remove.js';
import type { Warning } from '../../inspect/warnings.js';
import { StrataError } from '../../native/errors.js';
import { loadStore, printJson, reportError, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface RmiArgs extends GlobalArgs {
  refs: string[];
  dryRun?: boolean;
  force?: boolean;
  noPrune?: boolean;
}

export const command = 'rmi <refs..>';
export const describe = "Remove images as docker rmi would: --dry-run predicts docker's answer; without it, removes them offline (no daemon may run)";

export function builder(y: Argv) {
  return y
    .positional('refs', { type: 'string', array: true, describe: 'Images: ids, id prefixes, name[:tag], name@digest' })
    .option('dry-run', { type: 'boolean', describe: "Only print docker's answer (lines and errors, exit code); change nothing" })
    .option('force', { alias: 'f', type: 'boolean', describe: 'Force removal of the image (docker rmi -f)' })
    .option('no-prune', { type: 'boolean', describe: 'Do not delete untagged parents' })
    .example('$0 rmi --dry-run app:1 sha256:4f2a', 'what docker rmi would print, and its exit code')
    .example('$0 rmi --dry-run --json app:1 | jq .errors', 'every blocker of each conflict, beyond the first docker names')
    .example('$0 --root /mnt/old-docker rmi app:1', 'remove it from a store whose dockerd cannot start');
}

/** Docker's stderr for the errors: one line each, after all of stdout, as the CLI joins them. */
function errorText(errors: RmiConflict[]): string {
  return errors.length ? errors.map(rmiErrorText).join('\n') + '\n' : '';
}

function jsonOf(p: { lines: string[]; errors: RmiConflict[]; untagged: string[]; deletedImages: string[]; deletedLayers: string[] }) {
  return { lines: p.lines, errors: p.errors, untagged: p.untagged, deletedImages: p.deletedImages, deletedLayers: p.deletedLayers };
}

export async function handler(args: ArgumentsCamelCase<RmiArgs>): Promise<void> {
  const refs = (args.refs ?? []).map(String);
  const opts: RmiOptions = { force: !!args.force, noPrune: !!args.noPrune };
  await runCommand(async () => (args.dryRun ? dryRun(args, refs, opts) : offline(args, refs, opts)));
}

async function dryRun(args: RmiArgs, refs: string[], opts: RmiOptions): Promise<Warning[]> {
  // Metadata only, as an image listing reads it: the answer needs no cache ids nor layer contents.
  const { model } = await loadStore(args, 'sizes');
  const prediction = predictRmi(model, refs, opts);
  if (args.json) printJson(jsonOf(prediction));
  else {
    writeOut(prediction.lines.map((l) => `${l}\n`).join(''));
    process.stderr.write(errorText(prediction.errors));
  }
  if (rmiFails(prediction, opts)) process.exitCode = 1;
  return predictionWarnings(model);
}

async function offline(args: RmiArgs, refs: string[], opts: RmiOptions): Promise<Warning[]> {
  return withWriteSession(args.root, { command: 'rmi', driver: args.driver, existingStore: true }, async (session) => {
    assertRootIdle(args.root);
    const { model } = await openStore({ root: args.root, driver: session.driver.name, layerFields: 'usage' });
    const warnings = predictionWarnings(model);
    const result = removeImagesOffline(model, session.writer, session.driver, refs, opts);
    const errors = reachedErrors(result);
    if (args.json) {
      printJson({ ...jsonOf({ ...result, errors }), bytesFreed: result.bytesFreed, failure: result.failure });
    } else {
      writeOut(result.lines.map((l) => `${l}\n`).join(''));
      process.stderr.write(errorText(errors));
    }
    warnings.push(...result.warnings);
    if (rmiFails({ ...result.plan, errors }, opts)) process.exitCode = 1;
    if (result.failure) {
      const { label, reason, notAttempted } = result.failure;
      const rest = notAttempted.length ? `; not attempted: ${notAttempted.join(' ')}` : '';
      reportError(new StrataError(`${label} was not removed (nothing of it was): ${reason}${rest}`));
    }
    return warnings;
  });
}
