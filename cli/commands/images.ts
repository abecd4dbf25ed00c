// strata images: docker images, offline; --tree draws the image graph.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { listImages, type ImageSummary } from '../../inspect/images.js';
import { buildImageTree, renderTreeDot, renderTreeText } from '../../inspect/tree.js';
import { ago, humanSize, humanSizeSpaced, shortHex, splitRepoTag, table } from '../format.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface ImagesArgs extends GlobalArgs {
  all?: boolean;
  tree?: boolean;
  dot?: boolean;
  quiet?: boolean;
  noTrunc?: boolean;
}

export const command = 'images';
export const describe = 'List images (like docker images); --tree shows the image graph';

export function builder(y: Argv) {
  return y
    .option('all', { alias: 'a', type: 'boolean', describe: 'Show intermediate images too' })
    .option('tree', { type: 'boolean', describe: 'Show every image under its parent (the old docker images --tree)' })
    .option('dot', { type: 'boolean', describe: 'With --tree: print the graph as Graphviz dot' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Only image ids' })
    .option('no-trunc', { type: 'boolean', describe: 'Do not shorten ids' })
    .example('$0 images -a', 'every image, intermediates included')
    .example('$0 images --tree', 'the image graph')
    .example('$0 images --tree --dot | dot -Tsvg > images.svg', 'the graph as a picture');
}

/** One row per tag, as docker prints; an untagged image shows <none>. */
export function imageRows(images: ImageSummary[], noTrunc: boolean, now = Date.now()): string[][] {
  const rows: string[][] = [];
  for (const img of images) {
    const id = noTrunc ? img.id : shortHex(img.id);
    const tail = [id, ago(img.created, now), humanSize(img.size)];
    const pairs: Array<[string, string]> = img.repoTags.length
      ? img.repoTags.map(splitRepoTag)
      : img.repoDigests.length
        ? img.repoDigests.map((d) => [d.slice(0, d.indexOf('@')), '<none>'])
        : [['<none>', '<none>']];
    for (const [repo, tag] of pairs) rows.push([repo, tag, ...tail]);
  }
  return rows;
}

export async function handler(args: ArgumentsCamelCase<ImagesArgs>): Promise<void> {
  await runCommand(async () => {
    const { model } = await loadStore(args, 'sizes');
    if (args.tree || args.dot) {
      const tree = buildImageTree(model);
      if (args.json) printJson(tree);
      else if (args.dot) writeOut(renderTreeDot(tree, { humanSize }));
      else writeOut(renderTreeText(tree, { noTrunc: args.noTrunc, humanSize: humanSizeSpaced }));
      return model.warnings;
    }
    const images = listImages(model, { all: args.all });
    if (args.json) printJson(images);
    else if (args.quiet) writeOut(images.map((i) => `${args.noTrunc ? i.id : shortHex(i.id)}\n`).join(''));
    else writeOut(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], imageRows(images, !!args.noTrunc)));
    return model.warnings;
  });
}
