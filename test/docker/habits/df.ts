// df's checks on the habits store: strata df against docker system df (rows, -v sections, --format) and
// against the daemon's /system/df (volume sizes and links, build cache records), live; and offline, once
// the daemon stopped, the same rows from the files alone. strata runs first, so that BuildKit has not yet
// cached the sizes docker system df computes (strata measures them itself).
import type { Test } from 'tap';
import { maskTimes } from '../../helpers/docker-text.js';
import type { HabitsContext } from '../../helpers/habits-scenario.js';

interface ApiVolume {
  Name: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  UsageData: { Size: number; RefCount: number };
}

interface ApiBuildCache {
  ID: string;
  Parent: string;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

interface StrataDf {
  layersSize: number;
  volumes: Array<{ name: string; size: number | null; refCount: number; labels: Record<string, string> | null; mountpoint: string }>;
  buildCache: Array<{ id: string; parent: string; type: string; description: string; inUse: boolean; shared: boolean; size: number | null; createdAt: string; lastUsedAt: string | null; usageCount: number }>;
}

/** A table's lines as cells (docker's tabwriter pads with 3+ spaces; no cell here holds two spaces). */
function cells(line: string): string[] {
  return line.split(/ {2,}/).map(maskTimes);
}

/** The sections of docker system df -v, by heading: the heading, the column header, the rows. */
function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of text.split('\n')) {
    const heading = /^(Images space usage:|Containers space usage:|Local Volumes space usage:|Build cache usage: .*)$/.exec(line);
    if (heading) {
      current = [line];
      out.set(line.startsWith('Build cache usage') ? 'Build cache' : line, current);
    } else if (current && line !== '') current.push(line);
    else if (current && current.length > 1) current = null; // the blank line after a section's rows
  }
  return out;
}

/** docker system df's own four rows out of strata's output (its extras follow them). */
function dockerRows(text: string): string[] {
  return text.split('\n').slice(0, 5);
}

export async function live(t: Test, ctx: HabitsContext): Promise<void> {
  // strata first: BuildKit has not cached the record sizes yet.
  const summary = ctx.strata(['df']);
  t.equal(summary.code, 0, `strata df succeeds${summary.stderr ? `: ${summary.stderr}` : ''}`);
  const json = ctx.strata(['df', '-v', '--json']);
  t.equal(json.code, 0, 'strata df -v --json succeeds');
  const mine = JSON.parse(json.stdout) as StrataDf;
  const verbose = ctx.strata(['df', '-v']);
  const formatted = ctx.strata(['df', '--format', '{{.Type}}\t{{.Size}}\t{{.Reclaimable}}']);
  const asJson = ctx.strata(['df', '--format', '{{json .}}']);
  const verboseJson = ctx.strata(['df', '-v', '--format', '{{json .}}']);

  const docker = await ctx.d.docker(['system', 'df']);
  t.same(dockerRows(summary.stdout), docker.trimEnd().split('\n'), "docker's four rows, line by line");
  t.match(summary.stdout, /\nLeaked layers\s+\d+/, "strata's extras after docker's rows");
  t.match(summary.stdout, /\nData-root .* on disk: /);

  t.equal(formatted.stdout, await ctx.d.docker(['system', 'df', '--format', '{{.Type}}\t{{.Size}}\t{{.Reclaimable}}']), '--format with fields');
  t.equal(asJson.stdout, await ctx.d.docker(['system', 'df', '--format', '{{json .}}']), "--format '{{json .}}'");

  const api = await ctx.d.api<{ LayersSize: number; Volumes: ApiVolume[]; BuildCache: ApiBuildCache[] | null }>('/system/df');
  t.equal(mine.layersSize, api.LayersSize, 'LayersSize');
  t.same(
    mine.volumes.map((v) => [v.name, v.size, v.refCount, v.labels, v.mountpoint]),
    [...api.Volumes].sort((a, b) => (a.Name < b.Name ? -1 : 1)).map((v) => [v.Name, v.UsageData.Size, v.UsageData.RefCount, v.Labels, v.Mountpoint]),
    'volumes: names, sizes, links, labels, mount points',
  );
  const names = mine.volumes.map((v) => v.name);
  for (const v of Object.values(ctx.scenario.volumes)) t.ok(names.includes(v), `volume ${v} listed`);
  const apiCache = [...(api.BuildCache ?? [])].sort((a, b) => (a.ID < b.ID ? -1 : 1));
  t.ok(apiCache.length >= 3, 'the BuildKit build left build cache records');
  t.same(
    [...mine.buildCache].sort((a, b) => (a.id < b.id ? -1 : 1)).map((b) => [b.id, b.parent, b.type, b.description, b.inUse, b.shared, b.size, b.createdAt, b.lastUsedAt, b.usageCount]),
    apiCache.map((b) => [b.ID, b.Parent, b.Type, b.Description, b.InUse, b.Shared, b.Size, b.CreatedAt, b.LastUsedAt, b.UsageCount]),
    'build cache records: ids, parents, types, descriptions, in use, shared, sizes, times, usage',
  );

  // -v: each section as docker prints it (relative times masked; images created in the same second and
  // volumes come in an order docker does not fix, so those rows are compared as sets).
  const dockerVerbose = await ctx.d.docker(['system', 'df', '-v']);
  const a = sections(verbose.stdout);
  const b = sections(dockerVerbose);
  t.same([...a.keys()], [...b.keys()], 'the same sections');
  for (const [name, lines] of b) {
    const ours = a.get(name) ?? [];
    // Column widths follow the relative times' lengths ("59 seconds ago"), so headers are compared by cells.
    t.same(ours.slice(0, 2).map(cells), lines.slice(0, 2).map(cells), `${name}: heading and column header`);
    const rows = (l: string[]) => l.slice(2).map((line) => cells(line).join(' | '));
    const unordered = name === 'Images space usage:' || name === 'Local Volumes space usage:';
    const sort = (l: string[]) => (unordered ? [...l].sort() : l);
    t.same(sort(rows(ours)), sort(rows(lines)), `${name}: rows`);
  }
  t.match(verbose.stdout, /\nLeaked layers \(in layerdb/, "-v: strata's extras after docker's sections");

  // -v --format '{{json .}}': one object with the four lists, each row docker's context.
  const UNORDERED_LISTS = ['Labels', 'Mounts', 'Networks'];
  const dv = JSON.parse(await ctx.d.docker(['system', 'df', '-v', '--format', '{{json .}}'])) as Record<string, Array<Record<string, string>>>;
  const sv = JSON.parse(verboseJson.stdout) as typeof dv;
  const norm = (rows: Array<Record<string, string>>, key: string) =>
    [...rows]
      .sort((x, y) => (x[key] < y[key] ? -1 : 1))
      // docker lists a container's labels, mounts and networks in Go's random map order; strata sorts them.
      .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, UNORDERED_LISTS.includes(k) ? v.split(',').sort().join(',') : maskTimes(v)])));
  for (const [list, key] of [['Images', 'ID'], ['Containers', 'ID'], ['Volumes', 'Name'], ['BuildCache', 'ID']] as const) {
    t.same(norm(sv[list] ?? [], key), norm(dv[list] ?? [], key), `-v --format '{{json .}}': ${list}`);
  }

  ctx.saved.dfDocker = docker;
  ctx.saved.dfApi = api;
}

export async function offline(t: Test, ctx: HabitsContext): Promise<void> {
  const docker = ctx.saved.dfDocker as string | undefined;
  const api = ctx.saved.dfApi as { Volumes: ApiVolume[]; BuildCache: ApiBuildCache[] | null } | undefined;
  if (!docker || !api) {
    t.fail('the live df check did not run');
    return;
  }
  const summary = ctx.strata(['df']);
  t.equal(summary.code, 0, 'strata df succeeds with the daemon stopped');
  const ours = dockerRows(summary.stdout);
  const theirs = docker.trimEnd().split('\n');
  // dockerd stopped its running containers on the way down: the Containers row counts them as stopped now.
  for (const i of [0, 1, 3, 4]) t.equal(ours[i], theirs[i], `docker's row ${i} from the files alone`);
  const mine = JSON.parse(ctx.strata(['df', '--json']).stdout) as StrataDf & { containers: Array<{ state: string }> };
  const running = mine.containers.filter((c) => ['running', 'paused', 'restarting'].includes(c.state)).length;
  t.same(cells(ours[2]).filter((_, i) => i !== 2), cells(theirs[2]).filter((_, i) => i !== 2), 'Containers: total, size and reclaimable as the daemon counted them');
  t.equal(cells(ours[2])[2], String(running), 'Containers: active as the files record them');
  t.same(
    mine.buildCache.map((b) => [b.id, b.size, b.shared]).sort(),
    (api.BuildCache ?? []).map((b) => [b.ID, b.Size, b.Shared]).sort(),
    'build cache records offline (sizes now as BuildKit stored them)',
  );
  t.same(mine.volumes.map((v) => [v.name, v.size, v.refCount]), [...api.Volumes].sort((x, y) => (x.Name < y.Name ? -1 : 1)).map((v) => [v.Name, v.UsageData.Size, v.UsageData.RefCount]), 'volumes offline');
}
