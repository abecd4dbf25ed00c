// strata load: an offline docker load into a data-root no daemon is using.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { byteCount } from '../format.js';
import { StrataError } from '../../native/errors.js';
import { openInputFile } from '../../inspect/input-file.js';
import { loadArchive } from '../../inspect/load.js';
import { withWriteSession } from '../../inspect/open-for-write.js';
import { runCommand, writeOut, type GlobalArgs } from '../output.js';

interface LoadArgs extends GlobalArgs {
  archive: string;
  noDevices?: boolean;
  maxLayerBytes?: number;
}

export const command = 'load <archive>';
export const describe = 'Load images from a docker save archive or an OCI image layout into a stopped store';

export function builder(y: Argv) {
  return y
    .positional('archive', { type: 'string', demandOption: true, describe: 'docker save output or OCI layout tar (layers plain, gzip, bzip2, xz or zstd)' })
    .option('no-devices', { type: 'boolean', describe: 'Refuse layers holding device nodes (by default they are created, as dockerd does)' })
    // The default since device nodes are created by default; kept so that older command lines still run.
    .option('allow-devices', { type: 'boolean', hidden: true })
    .option('max-layer-bytes', { type: 'string', coerce: byteCount('max-layer-bytes'), describe: 'Refuse a layer larger than this once decompressed' })
    .example('$0 load busybox.tar --root /srv/docker', 'into a stopped daemon\'s data-root')
    .example('$0 load app.tar --root /tmp/new --driver vfs', 'into a new vfs store');
}

export async function handler(args: ArgumentsCamelCase<LoadArgs>): Promise<void> {
  await runCommand(async () => {
    // A missing or unreadable archive is named before the store is touched.
    if (args.archive === '-' || args.archive === '') throw new StrataError('strata load reads an archive from a file, not from stdin: give its path', { file: args.archive === '' ? '""' : args.archive });
    openInputFile(args.archive).close();
    const loaded = await withWriteSession(args.root, { command: 'load', driver: args.driver }, (session) =>
      loadArchive(args.archive, {
        session,
        allowDevices: !args.noDevices,
        maxLayerBytes: args.maxLayerBytes,
        onLayer: (text) => process.stderr.isTTY && process.stderr.write(`${text}\n`),
      }),
    );
    if (args.json) writeOut(JSON.stringify(loaded, null, 2) + '\n');
    else {
      for (const image of loaded) {
        for (const m of image.untagged) writeOut(`The image ${m.ref} already exists, renaming the old one with ID ${m.previous} to empty string\n`);
        if (image.tags.length) for (const t of image.tags) writeOut(`Loaded image: ${t}\n`);
        else writeOut(`Loaded image ID: ${image.id}\n`);
      }
    }
  });
}
