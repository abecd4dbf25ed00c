// strata images: docker images, offline (REPO[:TAG], --filter, --format, --digests); --tree draws the image graph.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import {
  addFilter,
  hasFilters,
  imageFilters,
  parseFilterFlags,
  referenceName,
  restrictTree,
  selectImages,
  type FilterArgs,
} from '../../inspect/image-filter.js';
import { type ImageSummary } from '../../inspect/images.js';
import { buildImageTree, renderTreeDot, renderTreeText } from '../../inspect/tree.js';
import { dockerCreatedAt, dockerCreatedSince, dockerHumanSize, renderFormat } from '../docker-format.js';
import { ago, humanSize, humanSizeSpaced, shortHex, splitRepoTag } from '../format.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface ImagesArgs extends GlobalArgs {
  repository?: string;
  all?: boolean;
  tree?: boolean;
  dot?: boolean;
  quiet?: boolean;
  noTrunc?: boolean;
  digests?: boolean;
  format?: string;
  filter?: FilterArgs;
}

export const command = 'images [repository]';
export const describe = 'List images (like docker images); --tree shows the image graph';

/** What --tree cannot honour: it draws its own format. */
const NOT_WITH_TREE = ['format', 'quiet', 'digests'];

export function builder(y: Argv) {
  return y
    .positional('repository', {
      type: 'string',
      describe: 'REPOSITORY[:TAG]: only these (a reference filter; glob patterns as docker takes them)',
    })
    .option('all', { alias: 'a', type: 'boolean', describe: 'Show intermediate images too' })
    .option('filter', {
      alias: 'f',
      type: 'string',
      requiresArg: true,
      describe: 'Filter: dangling=true|false, label=KEY[=VALUE], before=IMAGE, since=IMAGE, reference=PATTERN (repeatable)',
      coerce: (value: string | string[]) => parseFilterFlags(([] as string[]).concat(value)),
    })
    .option('format', { type: 'string', requiresArg: true, describe: "Go template, as docker images --format ('table …', '{{json .}}')" })
    .option('digests', { type: 'boolean', describe: 'Show digests' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Only image ids' })
    .option('no-trunc', { type: 'boolean', describe: 'Do not shorten ids' })
    .option('tree', { type: 'boolean', describe: 'Show every image under its parent (the old docker images --tree); REPO and filters keep the branches to the images they select' })
    .option('dot', { type: 'boolean', describe: 'With --tree: print the graph as Graphviz dot' })
    .conflicts({ tree: NOT_WITH_TREE, dot: NOT_WITH_TREE, json: ['format'] })
    .example('$0 images app', 'every tag of the repository app')
    .example("$0 images -f dangling=true -q", 'ids of the dangling images')
    .example("$0 images -f 'reference=*:1' -f label=org.example.version --format '{{.ID}}\\t{{.Repository}}:{{.Tag}}'", 'a Go template over the selected images')
    .example('$0 images --tree app', 'the image graph, cut down to the branches leading to app')
    .example('$0 images --tree --dot | dot -Tsvg > images.svg', 'the graph as a picture');
}

/** One row per tag, as strata's old table printed; an untagged image shows <none> (the dangling command uses it). */
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

// --- docker's image formatter (docker/cli cli/command/formatter/image.go, 20.10) ----------------------

/** The fields of a row, as docker's image context offers them to templates (and {{json .}} prints them). */
export interface DockerImageRow {
  Containers: string;
  CreatedAt: string;
  CreatedSince: string;
  Digest: string;
  ID: string;
  Repository: string;
  SharedSize: string;
  Size: string;
  Tag: string;
  UniqueSize: string;
  VirtualSize: string;
}

export const IMAGE_HEADERS: Record<keyof DockerImageRow, string> = {
  Containers: 'CONTAINERS',
  CreatedAt: 'CREATED AT',
  CreatedSince: 'CREATED',
  Digest: 'DIGEST',
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  SharedSize: 'SHARED SIZE',
  Size: 'SIZE',
  Tag: 'TAG',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'SIZE',
};

const TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
const TABLE_WITH_DIGEST = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
const RAW = 'repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n';
const RAW_WITH_DIGEST = 'repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n';

/**
 * The template docker uses for these flags: `table` and `raw` (or no --format) pick its defaults, -q
 * only there; any other --format wins over -q, and a table format gets a DIGEST column with --digests.
 */
export function imagesTemplate(format: string | undefined, quiet: boolean, digests: boolean): string {
  const source = format === undefined || format === '' ? 'table' : format;
  if (source === 'table') return quiet ? '{{.ID}}' : digests ? TABLE_WITH_DIGEST : TABLE;
  if (source === 'raw') return quiet ? 'image_id: {{.ID}}' : digests ? RAW_WITH_DIGEST : RAW;
  if (source.startsWith('table') && digests && !source.includes('{{.Digest}}')) return `${source}\t{{.Digest}}`;
  return source;
}

export interface DockerRowOptions {
  noTrunc: boolean;
  /** --digests: a row per digest, digest-only references included. */
  digests: boolean;
  /** The template shows digests: tagged rows then carry them too (docker's needDigest). */
  template: string;
  now: number;
}

/**
 * docker's rows for one image: an image without references is one <none> row; otherwise a row per tag
 * of each repository (times each digest of that repository when digests are shown), then a row per
 * repository known only by digest.
 */
export function dockerImageRows(images: readonly ImageSummary[], opts: DockerRowOptions): DockerImageRow[] {
  const needDigest = opts.digests || opts.template.includes('{{.Digest}}');
  const rows: DockerImageRow[] = [];
  for (const img of images) {
    const size = Math.max(0, img.size);
    const base = {
      Containers: 'N/A', // the list API leaves it unset (-1)
      // Both cut the time to whole seconds, as the list API gives it.
      CreatedAt: dockerCreatedAt(img.created),
      CreatedSince: dockerCreatedSince(img.created, opts.now),
      ID: opts.noTrunc ? img.id : shortHex(img.id),
      SharedSize: 'N/A',
      Size: dockerHumanSize(size, 3),
      UniqueSize: 'N/A',
      VirtualSize: dockerHumanSize(size, 4),
    };
    const row = (Repository: string, Tag: string, Digest: string): DockerImageRow => ({ ...base, Digest, Repository, Tag });
    if (img.repoTags.length === 0 && img.repoDigests.length === 0) {
      rows.push(row('<none>', '<none>', '<none>'));
      continue;
    }
    const tags = groupBy(img.repoTags, (ref) => splitRepoTag(ref));
    const digests = groupBy(img.repoDigests, (ref) => {
      const name = referenceName(ref);
      return [name, ref.slice(name.length + 1)];
    });
    for (const [repo, repoTags] of tags) {
      const repoDigests = needDigest ? digests.get(repo) ?? [] : [];
      digests.delete(repo);
      for (const tag of repoTags) {
        if (repoDigests.length === 0) rows.push(row(repo, tag, '<none>'));
        else for (const digest of repoDigests) rows.push(row(repo, tag, digest));
      }
    }
    for (const [repo, repoDigests] of digests) {
      if (opts.digests) for (const digest of repoDigests) rows.push(row(repo, '<none>', digest));
      else rows.push(row(repo, '<none>', ''));
    }
  }
  return rows;
}

function groupBy(refs: readonly string[], split: (ref: string) => [string, string]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const ref of refs) {
    const [repo, rest] = split(ref);
    const list = groups.get(repo) ?? [];
    list.push(rest);
    groups.set(repo, list);
  }
  return groups;
}

export async function handler(args: ArgumentsCamelCase<ImagesArgs>): Promise<void> {
  await runCommand(async () => {
    const filterArgs: FilterArgs = new Map(args.filter ?? []);
    if (args.repository) addFilter(filterArgs, 'reference', args.repository);
    const filters = imageFilters(filterArgs);
    const { model } = await loadStore(args, 'sizes');
    if (args.tree || args.dot) {
      let tree = buildImageTree(model);
      if (hasFilters(filters)) tree = restrictTree(tree, new Set(selectImages(model, filters, { all: true }).map((i) => i.id)));
      if (args.json) printJson(tree);
      else if (args.dot) writeOut(renderTreeDot(tree, { humanSize }));
      else writeOut(renderTreeText(tree, { noTrunc: args.noTrunc, humanSize: humanSizeSpaced }));
      return model.warnings;
    }
    const images = selectImages(model, filters, { all: args.all });
    if (args.json) {
      printJson(images);
      return model.warnings;
    }
    const template = imagesTemplate(args.format, !!args.quiet, !!args.digests);
    const rows = dockerImageRows(images, { noTrunc: !!args.noTrunc, digests: !!args.digests, template, now: Date.now() });
    writeOut(renderFormat(template, rows, IMAGE_HEADERS, { typeName: '*formatter.imageContext' }));
    return model.warnings;
  });
}
