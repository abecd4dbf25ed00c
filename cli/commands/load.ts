// strata load: an offline docker load into a data-root no daemon is using. Flags and messages as
// `docker load` (docker/cli cli/command/image/load.go, moby image/tarexport/load.go).
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { nonEmpty } from '../unknown-options.js';
import { byteCount } from '../format.js';
import { createProgress } from '../progress.js';
import { StrataError } from '../../native/errors.js';
import { closeLoadInput, loadImages, loadMessages, openLoadInput } from '../../inspect/load.js';
import { withWriteSession } from '../../inspect/open-for-write.js';
import { runCommand, writeOut, type GlobalArgs } from '../output.js';

interface LoadArgs extends GlobalArgs {
  archive?: string;
  input?: string;
  quiet?: boolean;
  noDevices?: boolean;
  maxLayerBytes?: number;
}

export const command = 'load [archive]';
export const describe = 'Load images from a docker save archive or an OCI image layout (file, directory or stdin) into a stopped store';

export function builder(y: Argv) {
  return y
    .positional('archive', { type: 'string', coerce: nonEmpty('ARCHIVE', 'empty path'), describe: 'the same as --input' })
    .option('input', { alias: 'i', type: 'string', coerce: nonEmpty('--input', 'empty path'), describe: 'Read from tar archive file (plain, gzip, bzip2, xz or zstd) or OCI layout directory, instead of STDIN' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Suppress the load output (progress)' })
    .option('no-devices', { type: 'boolean', describe: 'Refuse layers holding device nodes (by default they are created, as dockerd does)' })
    // The default since device nodes are created by default; kept so that older command lines still run.
    .option('allow-devices', { type: 'boolean', hidden: true })
    .option('max-layer-bytes', { type: 'string', coerce: byteCount('max-layer-bytes'), describe: 'Refuse a layer larger than this once decompressed' })
    .example('docker save app:1 | gzip | $0 load --root /srv/docker', 'from stdin, into a stopped daemon\'s data-root')
    .example('$0 load -i ./oci-dir --root /tmp/new --driver vfs', 'an OCI layout directory (podman save --format oci-dir) into a new vfs store')
    .example('$0 load -i images.tar.zst -q --root /srv/docker', 'a zstd-compressed archive, without progress');
}

/** The file to read, or null for stdin; refuses a terminal as stdin as docker does. */
function inputPath(args: LoadArgs): string | null {
  if (args.input !== undefined && args.archive !== undefined && args.input !== args.archive) {
    throw new StrataError(`two archives given (${args.archive} and --input ${args.input}): load reads one`);
  }
  const path = args.input ?? args.archive;
  if (path === '') throw new StrataError('no such file or directory', { file: '""' });
  if (path !== undefined && path !== '-') return path;
  // docker's words; a terminal would only wait for bytes nobody is going to type.
  if (process.stdin.isTTY) throw new StrataError('requested load from stdin, but stdin is empty (it is a terminal: give -i FILE, or pipe an archive in)');
  return null;
}

export async function handler(args: ArgumentsCamelCase<LoadArgs>): Promise<void> {
  await runCommand(async () => {
    // What to load is opened, and a directory checked, before the store is touched.
    const input = openLoadInput(inputPath(args));
    const result = await withWriteSession(args.root, { command: 'load', driver: args.driver }, (session) =>
      loadImages(input, {
        session,
        allowDevices: !args.noDevices,
        maxLayerBytes: args.maxLayerBytes,
        progress: (title, total) => createProgress(title, total, !args.quiet && !args.json),
      }),
    ).finally(() => closeLoadInput(input));
    if (args.json) writeOut(JSON.stringify(result.images, null, 2) + '\n');
    else for (const line of loadMessages(result)) writeOut(`${line}\n`);
    return result.warnings;
  });
}
