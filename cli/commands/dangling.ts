// strata dangling: docker images -f dangling=true, offline.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { listImages } from '../../inspect/images.js';
import { shortHex, table } from '../format.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';
import { imageRows } from './images.js';

interface DanglingArgs extends GlobalArgs {
  quiet?: boolean;
  noTrunc?: boolean;
}

export const command = 'dangling';
export const describe = 'List dangling images: untagged and no image built on them (docker images -f dangling=true)';

export function builder(y: Argv) {
  return y
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Only image ids' })
    .option('no-trunc', { type: 'boolean', describe: 'Do not shorten ids' })
    .example('$0 dangling', 'what docker image prune would remove')
    .example('$0 dangling --json | jq -r ".[].id"', 'their ids, for a script');
}

export async function handler(args: ArgumentsCamelCase<DanglingArgs>): Promise<void> {
  await runCommand(async () => {
    const { model } = await loadStore(args, 'sizes');
    const images = listImages(model, { danglingOnly: true });
    if (args.json) printJson(images);
    else if (args.quiet) writeOut(images.map((i) => `${args.noTrunc ? i.id : shortHex(i.id)}\n`).join(''));
    else writeOut(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], imageRows(images, !!args.noTrunc)));
    return model.warnings;
  });
}
