// strata save: docker save, offline. Each layer's exact tar is rebuilt from its tar-split and proven
// against its DiffID as it is written; --format oci writes an OCI image layout archive instead.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { EMPTY_REFERENCE, nonEmpty } from '../unknown-options.js';
import { openOutput, tarTerminalRefusal } from '../../inspect/output-file.js';
import { archiveSize, dockerArchiveEntries, ociArchiveEntries, planSave, resolveSaveNames, writeArchive } from '../../inspect/save.js';
import { StrataError } from '../../native/errors.js';
import { loadStore, runCommand, type GlobalArgs } from '../output.js';

const SILENT = { add() {}, done() {} };

interface SaveArgs extends GlobalArgs {
  images: string[];
  output?: string;
  follow?: boolean;
  format?: string;
  allowFresh?: boolean;
}

export const command = 'save <images..>';
export const describe = 'docker save, offline: images as a tar archive (exact layer tars, checked against their DiffIDs)';

export function builder(y: Argv) {
  return y
    .positional('images', { type: 'string', coerce: nonEmpty('IMAGE', EMPTY_REFERENCE), array: true, demandOption: true, describe: 'name[:tag], name (all its tags), id or id prefix' })
    .option('output', { alias: 'o', type: 'string', coerce: nonEmpty('-o', 'empty path'), requiresArg: true, describe: 'Write to FILE instead of stdout (a regular file is replaced only once the archive is complete and checked)' })
    .option('follow', { type: 'boolean', describe: 'With -o: write where a symbolic link points (refused otherwise)' })
    .option('format', { type: 'string', choices: ['docker', 'oci'], default: 'docker', describe: "docker: as docker 20.10 saves; oci: an OCI image layout archive (that docker load reads too)" })
    .option('allow-fresh', { type: 'boolean', describe: 'Save a layer that cannot be rebuilt exactly as a fresh diff (its DiffID, and so its image ID, will differ)' })
    .example('$0 save app:2 base:1 -o images.tar', 'two images, shared layers once')
    .example('$0 save app | ssh host docker load', 'every tag of app, to a pipe')
    .example('$0 save --format oci app:2 -o app.oci.tar', 'an OCI image layout archive');
}



export async function handler(args: ArgumentsCamelCase<SaveArgs>): Promise<void> {
  await runCommand(async () => {
    const output = args.output ?? '-';
    if ((output === '-' || output === '/dev/stdout') && process.stdout.isTTY) throw tarTerminalRefusal('stdout');
    const { model, driver } = await loadStore(args);
    if (!driver) throw new StrataError(`strata cannot read ${model.driver} layers yet`, { file: args.root });
    const selection = resolveSaveNames(model, args.images);
    const plan = await planSave(model, driver, selection, { allowFresh: args.allowFresh });
    try {
      const entries = args.format === 'oci' ? ociArchiveEntries(plan) : dockerArchiveEntries(plan, Math.floor(Date.now() / 1000));
      const out = await openOutput(output, { follow: args.follow });
      if (out.isTerminal) {
        out.abort();
        throw tarTerminalRefusal(out.name);
      }
      // The bar (and the template code its size format pulls in) is loaded only where it can be drawn.
      const progress = out.kind === 'stdout' || !process.stderr.isTTY ? SILENT : (await import('../progress.js')).createProgress('save', archiveSize(entries), true);
      try {
        await writeArchive(out, entries, { onBytes: (n) => progress.add(n) });
        await out.commit();
      } catch (err) {
        out.abort();
        throw err;
      } finally {
        progress.done();
      }
    } finally {
      plan.cleanup();
    }
    return [...model.warnings, ...plan.warnings];
  });
}
