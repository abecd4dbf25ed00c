// strata apply: one layer tar on a parent layer, recorded in layerdb with its tar-split.
import { createReadStream, statSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { applyLayer } from '../../inspect/load.js';
import { openForWrite } from '../../inspect/open-for-write.js';
import { StoreWriter } from '../../inspect/write-store.js';
import { printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface ApplyArgs extends GlobalArgs {
  tar: string;
  parent?: string;
  allowDevices?: boolean;
}

export const command = 'apply <tar>';
export const describe = 'Apply one uncompressed layer tar on a parent layer (by ChainID) in a stopped store';

export function builder(y: Argv) {
  return y
    .positional('tar', { type: 'string', demandOption: true, describe: 'Layer tar (as strata diff or docker save writes them)' })
    .option('parent', { type: 'string', describe: 'ChainID of the parent layer (none: a base layer)' })
    .option('allow-devices', { type: 'boolean', describe: 'Create device nodes found in the layer' })
    .example('$0 apply top.tar --parent sha256:5f70bf… --root /srv/docker', 'prints the new ChainID');
}

export async function handler(args: ArgumentsCamelCase<ApplyArgs>): Promise<void> {
  await runCommand(async () => {
    const driver = openForWrite(args.root, args.driver);
    const writer = new StoreWriter(args.root, driver.name);
    const parent = args.parent ? (args.parent.startsWith('sha256:') ? args.parent : `sha256:${args.parent}`) : null;
    if (parent && !writer.hasLayer(parent)) throw new Error(`${writer.layerDir(parent)}: no such parent layer in layerdb`);
    const layer = await applyLayer(writer, driver, parent, createReadStream(args.tar) as AsyncIterable<Buffer>, {
      sourceBytes: statSync(args.tar).size,
      allowDevices: args.allowDevices,
      label: args.tar,
    });
    if (args.json) printJson(layer);
    else writeOut(`${layer.chainId}\n`);
  });
}
