// df --prometheus on the habits store, judged by the daemon: every number it shares with /system/df
// (LayersSize, each image's Size, SharedSize and containers, each container's SizeRw, volumes, build
// cache) equals the API's, live; offline, once the daemon stopped, the same from the files alone. promtool
// check metrics passes on the output, and -o writes the file the textfile collector reads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { HabitsContext } from '../../helpers/habits-scenario.js';

const PROMTOOL = '/usr/bin/promtool';

interface ApiDf {
  LayersSize: number;
  Images: Array<{ Id: string; RepoTags: string[] | null; Size: number; SharedSize: number; Containers: number }>;
  Containers: Array<{ Id: string; Names: string[]; State: string; SizeRw?: number }>;
  Volumes: Array<{ Name: string; UsageData: { Size: number; RefCount: number } }>;
  BuildCache: Array<{ ID: string; Size: number; Shared: boolean; InUse: boolean }> | null;
}

interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of exposition text, labels unescaped. */
function parse(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

const one = (s: Series[], name: string) => s.find((x) => x.name === name)?.value;
const byLabel = (s: Series[], name: string, label: string) => new Map(s.filter((x) => x.name === name).map((x) => [x.labels[label], x]));

function promtool(t: Test, text: string, what: string): void {
  if (!existsSync(PROMTOOL)) {
    t.fail(`${PROMTOOL} is missing (Debian's prometheus package; .ci/run installs it)`);
    return;
  }
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.same([r.status, `${r.stdout}${r.stderr}`.trim()], [0, ''], `promtool check metrics: ${what}`);
}

/** The figures /system/df gives that the metrics carry too. */
function compareImages(t: Test, s: Series[], api: ApiDf, when: string): void {
  t.equal(one(s, 'strata_layers_size_bytes'), api.LayersSize, `${when}: LayersSize`);
  t.equal(one(s, 'strata_images'), api.Images.length, `${when}: images`);
  const size = byLabel(s, 'strata_image_size_bytes', 'id');
  const shared = byLabel(s, 'strata_image_shared_size_bytes', 'id');
  const unique = byLabel(s, 'strata_image_unique_size_bytes', 'id');
  const ctrs = byLabel(s, 'strata_image_containers', 'id');
  t.same([...size.keys()].sort(), api.Images.map((i) => i.Id).sort(), `${when}: one series per image, by id`);
  for (const i of api.Images) {
    // The API names an untagged image's tags "<none>:<none>"; the metrics' tag label is "<none>".
    const tags = (i.RepoTags ?? []).filter((x) => x !== '<none>:<none>');
    const name = tags[0] ?? i.Id.slice(7, 19);
    t.same(
      [size.get(i.Id)?.value, shared.get(i.Id)?.value, unique.get(i.Id)?.value, ctrs.get(i.Id)?.value],
      [i.Size, i.SharedSize, i.Size - i.SharedSize, i.Containers],
      `${when}: ${name}: size, shared, unique bytes and containers as /system/df`,
    );
    const labels = size.get(i.Id)?.labels ?? {};
    t.same((labels.tags ?? '').split(',').filter(Boolean).sort(), [...tags].sort(), `${when}: ${name}: tags label`);
    t.ok(tags.length === 0 ? labels.tag === '<none>' : tags.includes(labels.tag), `${when}: ${name}: tag label ${labels.tag}`);
  }
}

export async function live(t: Test, ctx: HabitsContext): Promise<void> {
  const r = ctx.strata(['df', '--prometheus']);
  t.equal(r.code, 0, `strata df --prometheus succeeds${r.stderr ? `: ${r.stderr}` : ''}`);
  const api = await ctx.d.api<ApiDf>('/system/df');
  const s = parse(r.stdout);
  promtool(t, r.stdout, 'live');
  compareImages(t, s, api, 'live');

  const rw = byLabel(s, 'strata_container_rw_bytes', 'id');
  t.same([...rw.keys()].sort(), api.Containers.map((c) => c.Id).sort(), 'one series per container');
  for (const c of api.Containers) {
    const mine = rw.get(c.Id);
    t.same(
      [mine?.value, mine?.labels.name, mine?.labels.state],
      [c.SizeRw ?? 0, c.Names[0].replace(/^\//, ''), c.State],
      `container ${c.Names[0]}: SizeRw, name and state as /system/df`,
    );
  }
  const volumes = api.Volumes.filter((v) => v.UsageData.Size >= 0);
  t.equal(one(s, 'strata_volumes'), api.Volumes.length, 'volumes');
  t.equal(one(s, 'strata_volumes_size_bytes'), volumes.reduce((n, v) => n + v.UsageData.Size, 0), 'volume bytes');
  t.equal(one(s, 'strata_volumes_reclaimable_bytes'), volumes.reduce((n, v) => n + (v.UsageData.RefCount === 0 ? v.UsageData.Size : 0), 0), 'volume bytes no container uses');
  const cache = api.BuildCache ?? [];
  t.equal(one(s, 'strata_build_cache_records'), cache.length, 'build cache records');
  t.equal(one(s, 'strata_build_cache_size_bytes'), cache.reduce((n, b) => n + (b.Shared ? 0 : b.Size), 0), "build cache bytes as docker system df counts them");
  t.equal(one(s, 'strata_scrape_errors'), 0, 'nothing unreadable on a healthy store');
  t.ok((one(s, 'strata_data_root_bytes') ?? 0) > api.LayersSize, 'the data-root holds more than the layers');
  for (const kind of ['dangling-image', 'unused-layer', 'orphan-directory', 'write-set', 'leftover-mount', 'container']) {
    t.ok(s.some((x) => x.name === 'strata_reclaimable_bytes' && x.labels.kind === kind), `reclaimable bytes of kind ${kind}`);
  }

  // -o: the file node_exporter's textfile collector reads, written through a temporary file beside it.
  const dir = mkdtempSync(join(os.tmpdir(), 'strata-textfile-'));
  try {
    const o = ctx.strata(['df', '--prometheus', '-o', join(dir, 'strata.prom')]);
    t.equal(o.code, 0, o.stderr);
    t.same(readdirSync(dir), ['strata.prom'], 'only the file, no temporary one left');
    const again = parse(readFileSync(join(dir, 'strata.prom'), 'utf8'));
    t.equal(one(again, 'strata_layers_size_bytes'), api.LayersSize, 'the file has the figures');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  ctx.saved.prometheusApi = api;
}

export async function offline(t: Test, ctx: HabitsContext): Promise<void> {
  const api = ctx.saved.prometheusApi as ApiDf | undefined;
  if (!api) {
    t.fail('the live prometheus check did not run');
    return;
  }
  const r = ctx.strata(['df', '--prometheus']);
  t.equal(r.code, 0, `strata df --prometheus succeeds with the daemon stopped${r.stderr ? `: ${r.stderr}` : ''}`);
  const s = parse(r.stdout);
  promtool(t, r.stdout, 'offline');
  compareImages(t, s, api, 'offline');
  const rw = byLabel(s, 'strata_container_rw_bytes', 'id');
  t.same(
    api.Containers.map((c) => [c.Id, rw.get(c.Id)?.value]).sort(),
    api.Containers.map((c) => [c.Id, c.SizeRw ?? 0]).sort(),
    "containers' read-write bytes from the files alone, as the daemon counted them",
  );
}
