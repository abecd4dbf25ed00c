// strata layers: every layer (or one image's) with its ids, sizes, users and driver directory.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { EMPTY_REFERENCE, nonEmpty } from '../unknown-options.js';
import { reportLayers, selectLayers, type LayerReport } from '../../inspect/layers.js';
import type { LayerField } from '../../inspect/model.js';
import { resolveImage } from '../../inspect/reference.js';
import { humanSize, shortHex, table } from '../format.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';
import { computeV1DiffIds } from '../../inspect/v1/diff-ids.js';

interface LayersArgs extends GlobalArgs {
  image?: string;
  noTrunc?: boolean;
}

export const command = 'layers [image]';
export const describe = 'List layers: ChainID, DiffID, cache id, size, bytes on disk, users, driver directory';

export function builder(y: Argv) {
  return y
    .positional('image', { type: 'string', coerce: nonEmpty('IMAGE', EMPTY_REFERENCE), describe: 'Only the layers of this image (id, prefix, name:tag, name@digest)' })
    .option('no-trunc', { type: 'boolean', describe: 'Do not shorten ids' })
    .example('$0 layers', 'every layer in layerdb, parents first')
    .example('$0 layers busybox:latest --json', "one image's layers, base first");
}

export async function handler(args: ArgumentsCamelCase<LayersArgs>): Promise<void> {
  await runCommand(async () => {
    const { model, driver } = await loadStore(args);
    const image = args.image !== undefined ? resolveImage(model, args.image) : undefined;
    // A v1 store records no DiffIDs: they are computed from the layers' content (its tar-data).
    await computeV1DiffIds(model, driver, image ? new Set(image.chainIds) : undefined);
    const layers = reportLayers(model, driver, selectLayers(model, image), { measure: true });
    if (args.json) {
      printJson(layers);
      return model.warnings;
    }
    const id = (s: string | null) => (s === null ? '-' : args.noTrunc ? s : shortHex(s));
    const size = (n: number | null) => (n === null ? '-' : humanSize(n));
    // A field that could not be read is unknown ("?"), not absent ("-").
    const shown = (l: LayerReport, field: LayerField, text: string) => (l.unread.includes(field) ? '?' : text);
    const rows = layers.map((l) => [
      id(l.chainId),
      shown(l, 'diffId', id(l.diffId)),
      shown(l, 'cacheId', id(l.cacheId)),
      shown(l, 'size', size(l.size)),
      size(l.diskBytes),
      String(l.images),
      String(l.containers),
      l.directoryExists === null ? 'unknown' : l.directoryExists ? 'present' : 'MISSING',
    ]);
    writeOut(table(['CHAIN ID', 'DIFF ID', 'CACHE ID', 'SIZE', 'ON DISK', 'IMAGES', 'CONTAINERS', 'DIRECTORY'], rows));
    const missing = layers.filter((l) => l.directoryExists === false);
    return [
      ...model.warnings,
      ...missing.map((l) => ({ file: l.contentDir ?? '?', message: `missing — driver directory of layer ${l.chainId} is gone` })),
    ];
  });
}
