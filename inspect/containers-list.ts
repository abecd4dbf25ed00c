// `docker ps` as a question asked of the model (moby daemon/list.go and container/state.go, 20.10): which
// containers a listing shows, newest first, for -a, -n and the filters, combined as dockerd combines them
// (different keys AND; values of one key OR, except label, whose values must all hold), and each
// container's state in docker's words. Offline, a container recorded as running cannot be up in any way
// that can be checked, and its status says so when no daemon uses the data-root.
import { daemonUsing } from './daemon-check.js';
import { checkFilterKeys, FilterError, labelsMatch, parseFilterFlags, type FilterArgs } from './filter-args.js';
import type { Container, ContainerMountPoint, StoreModel } from './model.js';
import { resolveImageId } from './reference.js';

/** Filter keys dockerd accepts for containers (daemon/list.go acceptedPsFilterTags). */
export const PS_FILTER_KEYS = ['ancestor', 'before', 'exited', 'id', 'isolation', 'label', 'name', 'status', 'health', 'since', 'volume', 'network', 'is-task', 'publish', 'expose'] as const;

const STATES = ['paused', 'restarting', 'removing', 'running', 'dead', 'created', 'exited'];
const HEALTH_VALUES = ['starting', 'healthy', 'unhealthy', 'none'];

/** Filters by key, each with its values in the order given (docker's filters.Args). */
export type PsFilters = FilterArgs;

/** `-f key=value` arguments as the docker CLI reads them (the same parser as images'). */
export const parsePsFilters = parseFilterFlags;

export interface PsOptions {
  /** -a: stopped containers too. */
  all?: boolean;
  /** -n: the N newest containers, in any state (0 or less: no limit); -l is 1. */
  limit?: number;
  filters?: PsFilters;
}

/** A port as docker's API lists it (types.Port). */
export interface ContainerPort {
  privatePort: number;
  publicPort: number | null;
  type: string;
  ip: string;
}

export interface ContainerListing {
  container: Container;
  /** What docker shows as the image: the reference it was created with while that still names its image, else the image id. */
  image: string;
  ports: ContainerPort[];
}

/** A Go filters.Args Match: an exact value, or a value that is a regular expression matching `source`. */
function matchesAny(values: readonly string[] | undefined, source: string): boolean {
  if (!values || values.length === 0) return true;
  for (const v of values) {
    if (v === source) return true;
    let re: RegExp;
    try {
      re = new RegExp(v);
    } catch {
      continue;
    }
    if (re.test(source)) return true;
  }
  return false;
}

function isZeroTime(t: string): boolean {
  return !t || t.startsWith('0001-01-01');
}

/** Nanoseconds since the epoch of an RFC 3339 time (Go keeps nanoseconds; Date.parse only milliseconds). */
export function timeNanos(iso: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  const ms = Date.parse(m ? m[1] + m[3] : iso);
  if (Number.isNaN(ms)) return 0n;
  const frac = m?.[2] ? BigInt((m[2] + '000000000').slice(0, 9)) : 0n;
  return BigInt(ms) * 1_000_000n + frac;
}

/** Newest first by creation time, as dockerd sorts (byCreatedDescending). */
export function sortNewestFirst(containers: readonly Container[]): Container[] {
  return [...containers].sort((a, b) => {
    const ta = timeNanos(a.created);
    const tb = timeNanos(b.created);
    return ta > tb ? -1 : ta < tb ? 1 : 0;
  });
}

/** A truncindex lookup (daemon.idIndex.Get): a full id or a unique prefix; null when none or several match. */
function idByPrefix(model: StoreModel, prefix: string): string | null {
  if (prefix === '') return null;
  const matches = model.containers.filter((c) => c.id.startsWith(prefix));
  return matches.length === 1 ? matches[0].id : null;
}

/** before=/since=: a full container id, else a name (moby idOrNameFilter); one line in dockerd's words otherwise. */
function containerByIdOrName(model: StoreModel, value: string): Container {
  const byId = model.containers.find((c) => c.id === value);
  if (byId) return byId;
  const name = value.replace(/^\//, '');
  const byName = model.containers.filter((c) => c.name === name);
  if (byName.length === 1) return byName[0];
  throw new FilterError(`no such container ${value}`);
}

/** The image ids `ancestor=` selects: each named image and every image below it in the recorded parent graph. */
function ancestorImages(model: StoreModel, refs: readonly string[]): Set<string> {
  const ids = new Set<string>();
  const visit = (id: string) => {
    if (ids.has(id)) return;
    ids.add(id);
    for (const child of model.children.get(id) ?? []) visit(child);
  };
  for (const ref of refs) {
    let id: string;
    try {
      id = resolveImageId(model, ref);
    } catch {
      continue; // dockerd logs an unknown ancestor and matches nothing by it
    }
    visit(id);
  }
  return ids;
}

/** Ports as docker lists them from NetworkSettings.Ports: one per binding, or one unpublished. */
export function portsOf(c: Container): ContainerPort[] {
  const ports: ContainerPort[] = [];
  for (const [spec, bindings] of Object.entries(c.ports ?? {})) {
    const [portText, proto = 'tcp'] = spec.split('/');
    const port = parsePort(portText);
    if (port === null) continue;
    if (!bindings || bindings.length === 0) {
      ports.push({ privatePort: port, publicPort: null, type: proto, ip: '' });
      continue;
    }
    for (const b of bindings) {
      const hostPort = parsePort(b.HostPort ?? '');
      if (hostPort === null) continue;
      ports.push({ privatePort: port, publicPort: hostPort, type: proto, ip: b.HostIp ?? '' });
    }
  }
  return ports;
}

/** nat.ParsePort: "" is 0, a number 0-65535 itself, anything else unusable. */
function parsePort(text: string): number | null {
  if (text === '') return 0;
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

interface CompiledFilters {
  filters: PsFilters;
  exited: number[];
  before: Container | null;
  since: Container | null;
  ancestors: Set<string> | null;
  isTask: boolean | null;
  /** Status filter given: stopped containers are listed as with -a. */
  impliesAll: boolean;
}

/** Checks and prepares the filters in dockerd's order, so the first error is the one docker gives. */
function compileFilters(model: StoreModel, filters: PsFilters): CompiledFilters {
  checkFilterKeys(filters, PS_FILTER_KEYS);
  const exited: number[] = [];
  for (const v of filters.get('exited') ?? []) {
    if (!/^[+-]?\d+$/.test(v)) throw new FilterError(`strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
    exited.push(Number(v));
  }
  for (const v of filters.get('status') ?? []) if (!STATES.includes(v)) throw new FilterError(`Invalid filter 'status=${v}'`);
  let isTask: boolean | null = null;
  const task = filters.get('is-task');
  if (task) {
    if (task.length === 1 && task[0] === 'true') isTask = true;
    else if (task.length === 1 && task[0] === 'false') isTask = false;
    else throw new FilterError(`Invalid filter 'is-task=[${task.join(' ')}]'`);
  }
  for (const v of filters.get('health') ?? []) if (!HEALTH_VALUES.includes(v)) throw new FilterError(`Unrecognised filter value for health: ${v}`);
  for (const key of ['publish', 'expose']) {
    if (filters.has(key)) throw new FilterError(`filter '${key}' is not supported by strata yet (it needs the host config's port bindings)`);
  }
  let before: Container | null = null;
  for (const v of filters.get('before') ?? []) before = containerByIdOrName(model, v);
  let since: Container | null = null;
  for (const v of filters.get('since') ?? []) since = containerByIdOrName(model, v);
  const ancestorRefs = filters.get('ancestor');
  return {
    filters,
    exited,
    before,
    since,
    ancestors: ancestorRefs ? ancestorImages(model, ancestorRefs) : null,
    isTask,
    impliesAll: filters.has('status'),
  };
}

/** The containers name=/id= can select (moby filterByNameIDMatches): ids by unique prefix, names by pattern. */
function nameIdCandidates(model: StoreModel, filters: PsFilters, sorted: Container[]): Container[] {
  const names = filters.get('name') ?? [];
  const ids = filters.get('id') ?? [];
  if (names.length + ids.length === 0) return sorted;
  const matches = new Set<string>();
  for (const id of ids) {
    const full = idByPrefix(model, id);
    if (full) matches.add(full);
  }
  if (names.length > 0) {
    for (const c of sorted) {
      if (ids.length > 0 && !matches.has(c.id)) continue;
      if (matchesAny(names, `/${c.name}`) || matchesAny(names, c.name)) matches.add(c.id);
    }
  }
  return sorted.filter((c) => matches.has(c.id));
}

function volumeMatches(values: readonly string[], points: readonly ContainerMountPoint[]): boolean {
  return values.some((v) => points.some((m) => (m.destination !== '' && m.destination === v) || (m.name !== '' ? m.name : m.source) === v));
}

/** The containers `docker ps` lists for these options, newest first. Throws a FilterError for a bad filter. */
export function listContainers(model: StoreModel, opts: PsOptions = {}): ContainerListing[] {
  const filters = opts.filters ?? new Map<string, string[]>();
  const f = compileFilters(model, filters);
  const all = !!opts.all || f.impliesAll;
  const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : 0;
  const sorted = sortNewestFirst(model.containers);
  const out: ContainerListing[] = [];
  let before = f.before;
  for (const c of nameIdCandidates(model, filters, sorted)) {
    if (before) {
      if (c.id === before.id) before = null;
      continue;
    }
    if (f.since && c.id === f.since.id) break;
    const running = isRecordedUp(c.state);
    if (!running && !all && limit <= 0) continue;
    if (!matchesAny(filters.get('name'), `/${c.name}`) && !matchesAny(filters.get('name'), c.name)) continue;
    if (!matchesAny(filters.get('id'), c.id)) continue;
    if (f.isTask !== null && Object.prototype.hasOwnProperty.call(c.labels, 'com.docker.swarm.task') !== f.isTask) continue;
    if (!labelsMatch(filters.get('label'), c.labels)) continue;
    if (limit > 0 && out.length === limit) break;
    if (f.exited.length > 0 && !(f.exited.includes(c.exitCode) && !running && !isZeroTime(c.startedAt))) continue;
    if (!matchesAny(filters.get('status'), c.state)) continue;
    const health = filters.get('health');
    if (health && !health.includes(c.health ?? 'none')) continue;
    const volumes = filters.get('volume');
    if (volumes && !volumeMatches(volumes, c.mountPoints)) continue;
    if (f.ancestors && !f.ancestors.has(c.imageId)) continue;
    const networks = filters.get('network');
    if (networks && !networks.some((n) => (c.networks ?? []).includes(n))) continue;
    out.push({ container: c, image: listedImage(model, c), ports: portsOf(c) });
  }
  return out;
}

/** A state in which dockerd would be running the container (running, paused, restarting). */
export function isRecordedUp(state: string): boolean {
  return state === 'running' || state === 'paused' || state === 'restarting';
}

/**
 * Whether a dockerd runs on the data-root, asked only when one of these containers is recorded as up
 * (the question reads /proc and tries the daemon's lock): their status says so when none does.
 */
export function daemonRunsAny(model: StoreModel, containers: readonly Container[]): boolean {
  return containers.some((c) => isRecordedUp(c.state)) && daemonUsing(model.root) !== null;
}

/** daemon/list.go: keep the reference the container was created with while it still resolves to its image. */
export function listedImage(model: StoreModel, c: Container): string {
  const ref = c.imageRef;
  if (ref === c.imageId || ref === '') return ref || c.imageId;
  let id: string | null = null;
  try {
    id = resolveImageId(model, ref);
  } catch {
    id = null;
  }
  return id === c.imageId ? ref : c.imageId;
}

/** The STATUS of a container (moby State.String), with an honest note when no daemon can be running it. */
export function containerStatusText(c: { state: string; exitCode: number; startedAt: string; finishedAt: string; health?: string | null }, now: number, daemonRunning: boolean, humanDuration: (ms: number) => string): string {
  const since = (t: string) => humanDuration(now - Number(timeNanos(t) / 1_000_000n));
  const offline = daemonRunning ? '' : ' (daemon not running)';
  switch (c.state) {
    case 'running':
      return `Up ${since(c.startedAt)}${c.health ? ` (${healthText(c.health)})` : ''}${offline}`;
    case 'paused':
      return `Up ${since(c.startedAt)} (Paused)${offline}`;
    case 'restarting':
      return `Restarting (${c.exitCode}) ${since(c.finishedAt)} ago${offline}`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'created':
      return 'Created';
    default:
      return isZeroTime(c.finishedAt) ? '' : `Exited (${c.exitCode}) ${since(c.finishedAt)} ago`;
  }
}

/** Health.String(): "health: starting" while starting, else the status itself. */
function healthText(status: string): string {
  return status === 'starting' ? 'health: starting' : status;
}
