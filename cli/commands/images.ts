// strata images: docker images, offline (REPO[:TAG], --filter, --format, --digests); --tree draws the image graph.
import { V1_LAYOUT } from '../../inspect/v1/read-store.js';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import {
  addFilter,
  hasFilters,
  imageFilters,
  referenceName,
  restrictTree,
  selectImages,
  type FilterArgs,
} from '../../inspect/image-filter.js';
import { type ImageSummary } from '../../inspect/images.js';
import { buildImageTree, renderTreeDot, renderTreeText } from '../../inspect/tree.js';
import { DOCKER_TABWRITER, dockerCreatedAt, dockerCreatedSince, dockerHumanSize, renderFormat, tabwrite } from '../docker-format.js';
import { ago, humanSize, humanSizeSpaced, shortHex, splitRepoTag } from '../format.js';
import { filterOption, formatOption } from '../options.js';
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
    .option('filter', filterOption('Filter: dangling=true|false, label=KEY[=VALUE], before=IMAGE, since=IMAGE, reference=PATTERN (repeatable)'))
    .option(
      'format',
      formatOption(
        "Go template, as docker images --format: 'table …', 'raw', '{{json .}}' (fields: ID, Repository, Tag, Digest, CreatedSince, CreatedAt, Size, VirtualSize, SharedSize, UniqueSize, Containers)",
        'formatter',
      ),
    )
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
  /** A v1 graph/ store: its ids are printed as Docker before 1.10 printed them, bare hex. */
  bareIds?: boolean;
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
    const cells = imageCells(img, opts);
    if (img.repoTags.length === 0 && img.repoDigests.length === 0) {
      rows.push(imageRow(cells, '<none>', '<none>', '<none>'));
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
        if (repoDigests.length === 0) rows.push(imageRow(cells, repo, tag, '<none>'));
        else for (const digest of repoDigests) rows.push(imageRow(cells, repo, tag, digest));
      }
    }
    for (const [repo, repoDigests] of digests) {
      if (opts.digests) for (const digest of repoDigests) rows.push(imageRow(cells, repo, '<none>', digest));
      else rows.push(imageRow(cells, repo, '<none>', ''));
    }
  }
  return rows;
}

interface ImageCells {
  id: string;
  createdAt(): string;
  createdSince(): string;
  size(): string;
  virtualSize(): string;
}

/** An image's cells, each worked out once and only when a template asks for it. */
function imageCells(img: ImageSummary, opts: DockerRowOptions): ImageCells {
  const bytes = Math.max(0, img.size);
  const memo = new Map<string, string>();
  const once = (key: string, f: () => string) => () => {
    let v = memo.get(key);
    if (v === undefined) memo.set(key, (v = f()));
    return v;
  };
  return {
    id: opts.noTrunc ? (opts.bareIds ? img.id.replace(/^sha256:/, '') : img.id) : shortHex(img.id),
    // Both cut the time to whole seconds, as the list API gives it.
    createdAt: once('createdAt', () => dockerCreatedAt(img.created)),
    createdSince: once('createdSince', () => dockerCreatedSince(img.created, opts.now)),
    size: once('size', () => dockerHumanSize(bytes, 3)),
    virtualSize: once('virtualSize', () => dockerHumanSize(bytes, 4)),
  };
}

function imageRow(cells: ImageCells, Repository: string, Tag: string, Digest: string): DockerImageRow {
  return {
    Containers: 'N/A', // the list API leaves it unset (-1)
    get CreatedAt() {
      return cells.createdAt();
    },
    get CreatedSince() {
      return cells.createdSince();
    },
    Digest,
    ID: cells.id,
    Repository,
    SharedSize: 'N/A',
    get Size() {
      return cells.size();
    },
    Tag,
    UniqueSize: 'N/A',
    get VirtualSize() {
      return cells.virtualSize();
    },
  };
}

/** docker's default templates, printed without the template engine (the same text, in a fraction of the time). */
const PLAIN_TEMPLATES: Record<string, { table: boolean; cells: (r: DockerImageRow) => string[] }> = {
  [TABLE]: { table: true, cells: (r) => [r.Repository, r.Tag, r.ID, r.CreatedSince || 'N/A', r.Size] },
  [TABLE_WITH_DIGEST]: { table: true, cells: (r) => [r.Repository, r.Tag, r.Digest, r.ID, r.CreatedSince || 'N/A', r.Size] },
  '{{.ID}}': { table: false, cells: (r) => [r.ID] },
};

/** The rows through the template, as docker's formatter writes them. */
export function renderImages(template: string, rows: DockerImageRow[]): string {
  const plain = PLAIN_TEMPLATES[template];
  if (!plain) return renderFormat(template, rows, IMAGE_HEADERS, { typeName: '*formatter.imageContext' });
  const lines = rows.map((r) => `${plain.cells(r).join('\t')}\n`);
  if (!plain.table) return lines.join('');
  const header = plain.cells(IMAGE_HEADERS).join('\t');
  return tabwrite(`${header}\n${lines.join('')}`, DOCKER_TABWRITER);
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
    const rows = dockerImageRows(images, { noTrunc: !!args.noTrunc, digests: !!args.digests, template, now: Date.now(), bareIds: model.layout === V1_LAYOUT });
    writeOut(renderImages(template, rows));
    return model.warnings;
  });
}
