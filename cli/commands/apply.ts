// strata apply: one layer tar on a parent layer, recorded in layerdb with its tar-split.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { nonEmpty } from '../unknown-options.js';
import { byteCount } from '../format.js';
import { compressionOfFile, decompress } from '../../drivers/archive/decompress.js';
import { StrataError } from '../../native/errors.js';
import { refusingImageArchives } from '../../inspect/image-archive-sniff.js';
import { namingInput, openInputFile } from '../../inspect/input-file.js';
import { applyLayer } from '../../inspect/load.js';
import { withWriteSession } from '../../inspect/open-for-write.js';
import { printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface ApplyArgs extends GlobalArgs {
  tar: string;
  parent?: string;
  noDevices?: boolean;
  maxLayerBytes?: number;
}

export const command = 'apply <tar>';
export const describe = 'Apply one layer tar (plain, gzip, bzip2, xz or zstd) on a parent layer (by ChainID) in a stopped store';

export function builder(y: Argv) {
  return y
    .positional('tar', { type: 'string', coerce: nonEmpty('TAR', 'empty path'), demandOption: true, describe: 'Layer tar (as strata diff or docker save writes them)' })
    .option('parent', { type: 'string', describe: 'ChainID of the parent layer (none: a base layer)' })
    .option('no-devices', { type: 'boolean', describe: 'Refuse a layer holding device nodes (by default they are created, as dockerd does)' })
    // The default since device nodes are created by default; kept so that older command lines still run.
    .option('allow-devices', { type: 'boolean', hidden: true })
    .option('max-layer-bytes', { type: 'string', coerce: byteCount('max-layer-bytes'), describe: 'Refuse a layer larger than this once decompressed (gzip, bzip2, xz, zstd)' })
    .example('$0 apply top.tar --parent sha256:5f70bf… --root /srv/docker', 'prints the new ChainID')
    .example('$0 apply base.tar.zst --root /srv/docker', 'a compressed base layer (no --parent)');
}

export async function handler(args: ArgumentsCamelCase<ApplyArgs>): Promise<void> {
  await runCommand(async () => {
    // Opened first: a tar that is missing or unreadable is named before the store is touched.
    const input = openInputFile(args.tar);
    const layer = await withWriteSession(args.root, { command: 'apply', driver: args.driver }, async ({ writer, driver }) => {
      const parent = args.parent ? (args.parent.startsWith('sha256:') ? args.parent : `sha256:${args.parent}`) : null;
      if (parent && !writer.hasLayer(parent)) throw new StrataError('no such parent layer in layerdb (--parent takes a ChainID: strata layers IMAGE lists them)', { file: writer.layerDir(parent) });
      // Compressed input is decompressed as dockerd's ApplyLayer does; the DiffID is the uncompressed stream's.
      const compressed = input.size !== null && compressionOfFile(args.tar) !== null;
      const tar = refusingImageArchives(decompress(input.chunks(), { label: args.tar, maxBytes: args.maxLayerBytes }), args.tar);
      try {
        return await applyLayer(writer, driver, parent, tar, {
          sourceBytes: compressed ? undefined : (input.size ?? undefined),
          allowDevices: !args.noDevices,
          label: args.tar,
        });
      } catch (err) {
        throw namingInput(err, args.tar);
      }
    }).finally(() => input.close());
    if (args.json) printJson(layer);
    else writeOut(`${layer.chainId}\n`);
  });
}
