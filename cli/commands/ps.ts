// strata ps: docker ps, offline (docker/cli cli/command/container/list.go and formatter/container.go).
import type { ArgumentsCamelCase, Argv } from 'yargs';
import {
  containerStatusText,
  daemonRunsAny,
  listContainers,
  timeNanos,
  type ContainerListing,
  type ContainerPort,
  type PsFilters,
} from '../../inspect/containers-list.js';
import { containerSizes } from '../../inspect/df.js';
import type { StoreModel } from '../../inspect/model.js';
import { parseReference } from '../../inspect/reference.js';
import type { Warning } from '../../inspect/warnings.js';
import type { StorageDriver } from '../../drivers/types.js';
import { dockerCreatedAt, dockerEllipsis, dockerHumanDuration, dockerHumanSize, renderFormat, truncateId } from '../docker-format.js';
import { StrataError } from '../../native/errors.js';
import { goQuote } from '../go-fmt.js';
import { asFormatterContext, executeTemplate, parseTemplate, TemplateError } from '../go-template.js';
import { filterOption, formatOption } from '../options.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface PsArgs extends GlobalArgs {
  all?: boolean;
  quiet?: boolean;
  size?: boolean;
  noTrunc?: boolean;
  last?: number;
  latest?: boolean;
  filter?: PsFilters;
  format?: string;
}

export const command = 'ps';
export const describe = 'List containers (like docker ps)';

export function builder(y: Argv) {
  return y
    .option('all', { alias: 'a', type: 'boolean', describe: 'Show all containers (default shows just running)' })
    .option('filter', filterOption('Filter output (repeatable): name=, id=, label=KEY[=VALUE], status=, exited=, ancestor=, before=, since=, volume=, network=, health=, is-task=true|false'))
    .option('format', formatOption('Pretty-print with a Go template (fields: ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status, Size, Names, Labels, Label "k", Mounts, Networks, LocalVolumes), or table, or raw', 'ps'))
    .option('last', { alias: 'n', type: 'number', default: -1, describe: 'Show n last created containers (includes all states)' })
    .option('latest', { alias: 'l', type: 'boolean', describe: 'Show the latest created container (includes all states)' })
    .option('no-trunc', { type: 'boolean', describe: "Don't truncate output" })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Only display container IDs' })
    .option('size', { alias: 's', type: 'boolean', describe: 'Display total file sizes (measures each read-write layer)' })
    .conflicts({ json: ['format'] })
    .example('$0 ps -a', 'every container, newest first')
    .example("$0 ps -a -f status=exited --format '{{.Names}}\\t{{.Status}}'", 'names and statuses of the exited ones');
}

// --- Docker's formatting helpers ------------------------------------------------------------------

function sortPorts(ports: ContainerPort[]): ContainerPort[] {
  return [...ports].sort(
    (a, b) =>
      a.privatePort - b.privatePort ||
      (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0) ||
      (a.publicPort ?? 0) - (b.publicPort ?? 0) ||
      (a.type < b.type ? -1 : a.type > b.type ? 1 : 0),
  );
}

function portGroup(key: string, first: number, last: number): string {
  const slash = key.lastIndexOf('/');
  const ip = slash >= 0 ? key.slice(0, slash) : '';
  const type = slash >= 0 ? key.slice(slash + 1) : key;
  let group = first === last ? String(first) : `${first}-${last}`;
  if (ip !== '') group = `${ip}:${group}->${group}`;
  return `${group}/${type}`;
}

/** docker's PORTS column (formatter.DisplayablePorts): consecutive ports grouped into ranges, mappings last. */
export function displayablePorts(ports: ContainerPort[]): string {
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const mappings: string[] = [];
  for (const p of sortPorts(ports)) {
    const publicPort = p.publicPort ?? 0;
    let key = p.type;
    if (p.ip !== '') {
      if (publicPort !== p.privatePort) {
        mappings.push(`${p.ip}:${publicPort}->${p.privatePort}/${p.type}`);
        continue;
      }
      key = `${p.ip}/${p.type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: p.privatePort, last: p.privatePort });
      continue;
    }
    if (p.privatePort === g.last + 1) {
      g.last = p.privatePort;
      continue;
    }
    result.push(portGroup(key, g.first, g.last));
    groups.set(key, { first: p.privatePort, last: p.privatePort });
  }
  for (const [key, g] of groups) result.push(portGroup(key, g.first, g.last));
  return [...result, ...mappings].join(', ');
}

/** The IMAGE column (ContainerContext.Image): a short id for an id, a reference without its digest when cut. */
export function imageColumn(image: string, imageId: string, trunc: boolean): string {
  if (image === '') return '<no image>';
  if (!trunc) return image;
  const short = truncateId(imageId);
  if (short === truncateId(image)) return short;
  const ref = parseReference(image);
  if (ref) return ref.tag !== null ? `${ref.name}:${ref.tag}` : ref.name;
  return image;
}

// --- rows -----------------------------------------------------------------------------------------

export interface PsRowContext {
  trunc: boolean;
  now: number;
  daemonRunning: boolean;
  sizes?: { sizeRw: number | null; sizeRootFs: number | null };
}

function sizeText(sizes: PsRowContext['sizes']): string {
  const rw = sizes?.sizeRw ?? null;
  const root = sizes?.sizeRootFs ?? 0;
  if (sizes && rw === null) return 'unknown';
  const srw = dockerHumanSize(rw ?? 0, 3);
  return root !== null && root > 0 ? `${srw} (virtual ${dockerHumanSize(root, 3)})` : srw;
}

/** A container as docker's formatter shows it (ContainerContext); keys in the order of Docker's JSON, Label a method. */
export function psRow(l: ContainerListing, ctx: PsRowContext): Record<string, unknown> {
  const c = l.container;
  const createdSeconds = Math.floor(Number(timeNanos(c.created) / 1_000_000n) / 1000);
  const labels = Object.keys(c.labels).sort().map((k) => `${k}=${c.labels[k]}`);
  const row: Record<string, unknown> = {
    Command: goQuote(ctx.trunc ? dockerEllipsis(c.command, 20) : c.command),
    CreatedAt: dockerCreatedAt(new Date(createdSeconds * 1000).toISOString()),
    ID: ctx.trunc ? truncateId(c.id) : c.id,
    Image: imageColumn(l.image, c.imageId, ctx.trunc),
    Labels: labels.join(','),
    LocalVolumes: String(c.mountPoints.filter((m) => m.driver === 'local').length),
    Mounts: c.mountPoints.map((m) => (ctx.trunc ? dockerEllipsis(m.name || m.source, 15) : m.name || m.source)).join(','),
    Names: c.name,
    Networks: (c.networks ?? []).join(','),
    Ports: displayablePorts(l.ports),
    RunningFor: `${dockerHumanDuration(ctx.now - createdSeconds * 1000)} ago`,
    Size: sizeText(ctx.sizes),
    State: c.state,
    Status: containerStatusText(c, ctx.now, ctx.daemonRunning, dockerHumanDuration),
  };
  Object.defineProperty(row, 'Label', { value: (name: string) => c.labels[name] ?? '', enumerable: false });
  return row;
}

/** strata's own --json shape for a listed container. */
export function psJson(l: ContainerListing, ctx: PsRowContext) {
  const c = l.container;
  return {
    id: c.id,
    name: c.name,
    image: l.image,
    imageId: c.imageId,
    command: c.command,
    created: c.created,
    state: c.state,
    status: containerStatusText(c, ctx.now, ctx.daemonRunning, dockerHumanDuration),
    exitCode: c.exitCode,
    startedAt: c.startedAt,
    finishedAt: c.finishedAt,
    ports: l.ports,
    labels: c.labels,
    mounts: c.mountPoints,
    networks: c.networks ?? [],
    daemonRunning: ctx.daemonRunning,
    ...(ctx.sizes ? { sizeRw: ctx.sizes.sizeRw, sizeRootFs: ctx.sizes.sizeRootFs } : {}),
  };
}

export const PS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
};

/** The Go type docker's rows have, as its template errors name it. */
const PS_ROW_TYPE = '*formatter.ContainerContext';

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
const RAW = 'container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n';

/** The template docker uses (NewContainerFormat): --format as given, else the table, -q or raw as chosen. */
export function psFormat(format: string | undefined, quiet: boolean, size: boolean): string {
  const source = format || 'table';
  if (source === 'table') return quiet ? '{{.ID}}' : size ? `${DEFAULT_TABLE}\t{{.Size}}` : DEFAULT_TABLE;
  if (source === 'raw') return quiet ? 'container_id: {{.ID}}' : size ? `${RAW}size: {{.Size}}\n` : RAW;
  return source;
}

/** Whether a template reads .Size (docker then measures sizes even without -s; `{{json .}}` reads every field). */
export function templateUsesSize(format: string): boolean {
  let used = false;
  const probe = psRow(
    {
      container: {
        id: '', name: '', imageId: '', imageRef: '', state: 'created', exitCode: 0, startedAt: '', finishedAt: '', created: '',
        driver: null, command: '', mountId: null, initId: null, parentChainId: null, labels: {}, mountPoints: [], ports: {}, config: {},
      },
      image: '',
      ports: [],
    },
    { trunc: true, now: 0, daemonRunning: true },
  );
  const size = probe.Size;
  delete probe.Size;
  Object.defineProperty(probe, 'Size', {
    enumerable: true,
    get: () => {
      used = true;
      return size;
    },
  });
  // docker/cli runs the whole --format once over an empty row first, and reports its failure in these words.
  let tmpl;
  try {
    tmpl = parseTemplate(format);
  } catch (err) {
    if (err instanceof TemplateError) throw new TemplateError(`failed to parse template: ${err.message}`);
    throw err;
  }
  try {
    executeTemplate(tmpl, asFormatterContext(probe, PS_ROW_TYPE));
  } catch (err) {
    if (err instanceof TemplateError) throw new TemplateError(`failed to execute template: ${err.message}`);
    throw err;
  }
  return used;
}

function measure(model: StoreModel, driver: StorageDriver | null, l: ContainerListing, warnings: Warning[]) {
  return containerSizes(model, driver, l.container, warnings);
}

export async function handler(args: ArgumentsCamelCase<PsArgs>): Promise<void> {
  await runCommand(async () => {
    if (args.last !== undefined && !Number.isInteger(args.last)) {
      throw new StrataError(`invalid argument for "-n, --last" flag: not a whole number of containers (${String(args.last)})`);
    }
    const filters = args.filter ?? new Map();
    const format = args.format ?? '';
    const size = !!args.size || (format !== '' && format !== 'table' && format !== 'raw' && templateUsesSize(format));
    const { model, driver } = await loadStore(args, size ? 'usage' : 'sizes');
    const warnings: Warning[] = [...model.warnings];
    const limit = args.latest && (args.last ?? -1) === -1 ? 1 : args.last ?? -1;
    const listed = listContainers(model, { all: args.all, limit, filters });
    const daemonRunning = daemonRunsAny(model, listed.map((l) => l.container));
    const now = Date.now();
    const contexts: PsRowContext[] = listed.map((l) => ({
      trunc: !args.noTrunc,
      now,
      daemonRunning,
      sizes: size ? measure(model, driver, l, warnings) : undefined,
    }));
    if (args.json) printJson(listed.map((l, i) => psJson(l, contexts[i])));
    else writeOut(renderFormat(psFormat(format, !!args.quiet, size), listed.map((l, i) => psRow(l, contexts[i])), PS_HEADERS, { typeName: PS_ROW_TYPE }));
    return warnings;
  });
}
