// strata export: docker export, offline — a container's merged root filesystem as a tar, built from the
// driver's layers without mounting them.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { EMPTY_REFERENCE, nonEmpty } from '../unknown-options.js';
import { containerExport, resolveExportContainer } from '../../inspect/container-export.js';
import { writeToOutput } from '../../inspect/layer-export.js';
import { openOutput, tarTerminalRefusal } from '../../inspect/output-file.js';
import { StrataError } from '../../native/errors.js';
import { loadStore, runCommand, type GlobalArgs } from '../output.js';
import { createProgress } from '../progress.js';

interface ExportArgs extends GlobalArgs {
  container: string;
  output?: string;
  follow?: boolean;
}

export const command = 'export <container>';
export const describe = "docker export, offline: a container's root filesystem as a tar archive";

export function builder(y: Argv) {
  return y
    .positional('container', { type: 'string', coerce: nonEmpty('CONTAINER', EMPTY_REFERENCE), demandOption: true, describe: 'Container name, id or unique id prefix' })
    .option('output', { alias: 'o', type: 'string', coerce: nonEmpty('-o', 'empty path'), requiresArg: true, describe: 'Write to FILE instead of stdout (a regular file is replaced only once the tar is complete)' })
    .option('follow', { type: 'boolean', describe: 'With -o: write where a symbolic link points (refused otherwise)' })
    .example('$0 export my-container -o rootfs.tar', 'the merged root filesystem, as docker export writes it')
    .example('$0 export 3f2a1c | tar -t', 'by id prefix, to a pipe');
}

export async function handler(args: ArgumentsCamelCase<ExportArgs>): Promise<void> {
  await runCommand(async () => {
    const output = args.output ?? '-';
    if ((output === '-' || output === '/dev/stdout') && process.stdout.isTTY) throw tarTerminalRefusal('stdout');
    const { model, driver } = await loadStore(args);
    if (!driver) throw new StrataError(`strata cannot read ${model.driver} layers yet`, { file: args.root });
    const container = resolveExportContainer(model, args.container);
    const out = await openOutput(output, { follow: args.follow });
    if (out.isTerminal) {
      out.abort();
      throw tarTerminalRefusal(out.name);
    }
    const progress = createProgress('export', null, out.kind !== 'stdout');
    try {
      await writeToOutput(out, containerExport(driver, container), { onBytes: (n) => progress.add(n) });
    } finally {
      progress.done();
    }
    return model.warnings;
  });
}
