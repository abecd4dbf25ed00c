// The judge of truth for the foundation: a real dockerd builds a scenario store, then every strata
// answer is compared field by field with docker's own (CLI and API), while the daemon runs and after
// it stopped, for overlay2 and vfs. Fails (never skips) when dockerd cannot start.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { cliJson, runCli } from '../helpers/run-cli.js';
import { buildScenario, type Scenario } from '../helpers/scenario.js';

interface ApiImage {
  Id: string;
  ParentId: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  SharedSize: number;
  Containers: number;
}

interface ApiContainer {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  State: string;
  SizeRw?: number;
  SizeRootFs?: number;
}

interface DockerTruth {
  images: ApiImage[];
  imagesAll: ApiImage[];
  dangling: ApiImage[];
  cliIds: string[];
  cliAllIds: string[];
  cliDanglingIds: string[];
  inspect: Map<string, any>;
  df: { LayersSize: number; Images: ApiImage[]; Containers: ApiContainer[] };
}

const lines = (s: string) => s.split('\n').filter(Boolean);
const uniqueSorted = (a: string[]) => [...new Set(a)].sort();

async function askDocker(d: Dockerd): Promise<DockerTruth> {
  const imagesAll = await d.api<ApiImage[]>('/images/json?all=1');
  const inspect = new Map<string, any>();
  for (const img of imagesAll) inspect.set(img.Id, JSON.parse(await d.docker(['image', 'inspect', '--format', '{{json .}}', img.Id])));
  return {
    images: await d.api<ApiImage[]>('/images/json'),
    imagesAll,
    dangling: await d.api<ApiImage[]>(`/images/json?filters=${encodeURIComponent('{"dangling":["true"]}')}`),
    cliIds: uniqueSorted(lines(await d.docker(['images', '-q', '--no-trunc']))),
    cliAllIds: uniqueSorted(lines(await d.docker(['images', '-a', '-q', '--no-trunc']))),
    cliDanglingIds: uniqueSorted(lines(await d.docker(['images', '-f', 'dangling=true', '-q', '--no-trunc']))),
    inspect,
    df: await d.api('/system/df'),
  };
}

/** A fingerprint of every path, size and mtime below the data-root, to prove strata writes nothing. */
function fingerprint(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p, { bigint: true });
      h.update(`${p} ${st.mode} ${st.size} ${st.mtimeNs} ${st.ctimeNs}\n`);
      if (st.isDirectory() && st.dev === lstatSync(root, { bigint: true }).dev) walk(p);
    }
  };
  walk(root);
  return h.digest('hex');
}

function compareImageList(t: Test, label: string, strata: any[], docker: ApiImage[]) {
  t.same(strata.map((i) => i.id).sort(), docker.map((i) => i.Id).sort(), `${label}: same set of images`);
  const byId = new Map(strata.map((i) => [i.id, i]));
  for (const img of docker) {
    const mine = byId.get(img.Id);
    if (!mine) continue;
    const short = img.Id.slice(7, 19);
    t.same(mine.repoTags, (img.RepoTags ?? []).filter((r) => r !== '<none>:<none>'), `${label} ${short}: repoTags`);
    t.same(mine.repoDigests, (img.RepoDigests ?? []).filter((r) => r !== '<none>@<none>'), `${label} ${short}: repoDigests`);
    t.equal(mine.parent, img.ParentId || null, `${label} ${short}: parent`);
    t.equal(mine.size, img.Size, `${label} ${short}: size`);
    t.equal(Math.floor(Date.parse(mine.created) / 1000), img.Created, `${label} ${short}: created`);
  }
}

async function compareWithDocker(t: Test, root: string, truth: DockerTruth, s: Scenario, daemonStopped: boolean) {
  const args = ['--root', root];
  const images = cliJson(['images', ...args]);
  compareImageList(t, 'images', images, truth.images);
  t.same(images.map((i: any) => i.id).sort(), truth.cliIds, 'images = docker images -q --no-trunc');
  const all = cliJson(['images', '-a', ...args]);
  compareImageList(t, 'images -a', all, truth.imagesAll);
  t.same(all.map((i: any) => i.id).sort(), truth.cliAllIds, 'images -a = docker images -a -q --no-trunc');
  const dangling = cliJson(['dangling', ...args]);
  compareImageList(t, 'dangling', dangling, truth.dangling);
  t.same(dangling.map((i: any) => i.id).sort(), truth.cliDanglingIds, 'dangling = docker images -f dangling=true');
  t.ok(dangling.some((i: any) => i.id === s.images['dangling']), 'the rebuilt tag left the old image dangling');

  for (const [id, info] of truth.inspect) {
    // inspect prints docker's own object: equal to docker image inspect's, key by key.
    const [mine] = JSON.parse(runCli(['inspect', id, ...args]).stdout);
    const short = id.slice(7, 19);
    for (const key of Object.keys(info)) t.same(mine[key], info[key], `inspect ${short}: ${key}`);
    t.same(Object.keys(mine), Object.keys(info), `inspect ${short}: docker's keys`);
  }

  const df = cliJson(['df', ...args]);
  t.equal(df.layersSize, truth.df.LayersSize, 'df: LayersSize');
  t.same(df.images.map((i: any) => i.id).sort(), truth.df.Images.map((i) => i.Id).sort(), 'df: same images');
  for (const img of truth.df.Images) {
    const mine = df.images.find((i: any) => i.id === img.Id);
    const short = img.Id.slice(7, 19);
    t.same(
      mine && [mine.size, mine.sharedSize, mine.uniqueSize, mine.containers],
      [img.Size, img.SharedSize, img.Size - img.SharedSize, img.Containers],
      `df image ${short}: size, sharedSize, uniqueSize, containers`,
    );
  }
  t.same(df.containers.map((c: any) => c.id).sort(), truth.df.Containers.map((c) => c.Id).sort(), 'df: same containers');
  for (const c of truth.df.Containers) {
    const mine = df.containers.find((x: any) => x.id === c.Id);
    const name = c.Names[0].slice(1);
    const state = daemonStopped && c.State === 'running' ? 'exited' : c.State;
    t.same(
      mine && [mine.name, mine.image, mine.imageId, mine.command, mine.state, mine.sizeRw, mine.sizeRootFs],
      [name, c.Image, c.ImageID, c.Command, state, c.SizeRw ?? 0, c.SizeRootFs ?? 0],
      `df container ${name}: name, image, command, state, sizeRw, sizeRootFs`,
    );
  }
  t.same(df.orphans, [], 'df: no orphaned driver directories in a healthy store');
  t.same(df.leakedLayers, [], 'df: no leaked layers in a healthy store');
  t.same(df.unknown, [], 'df: nothing whose owner is unknown in a healthy store');
  t.same(df.interruptedWrites, [], 'df: no interrupted strata writes');

  const layers = cliJson(['layers', ...args]);
  t.ok(layers.every((l: any) => Array.isArray(l.unread) && l.unread.length === 0), 'layers: every field of every layer read');
  const listing = runCli(['images', ...args]);
  t.equal(listing.stderr, '', 'images: no warning on a sound store (every ChainID checked against its diff and parent)');
  t.ok(layers.length > 5 && layers.every((l: any) => l.directoryExists && l.diskBytes > 0), 'layers: every layer measured on disk');
  const app = cliJson(['layers', 'app:1', ...args]);
  t.same(app.map((l: any) => l.diffId), truth.inspect.get(s.images['app:1']).RootFS.Layers, 'layers app:1 = RootFS.Layers');
  t.same(app.map((l: any) => l.chainId).slice(0, 1), app.map((l: any) => l.diffId).slice(0, 1), 'base ChainID = base DiffID');

  const tree = runCli(['images', '--tree', ...args]);
  t.equal(tree.status, 0);
  const treeIds = [...tree.stdout.matchAll(/[└├]─([0-9a-f]{12}) /g)].map((m) => m[1]).sort();
  t.same(treeIds, truth.imagesAll.map((i) => i.Id.slice(7, 19)).sort(), '--tree shows every image once');
  const parentOfMid = truth.inspect.get(s.images['mid:tagged']).Parent;
  t.ok(parentOfMid, 'mid:tagged has a recorded parent');
  t.match(tree.stdout, /Tags: mid:tagged/, '--tree shows the tagged intermediate');
}

for (const driver of ['overlay2', 'vfs'] as const) {
  t.test(`strata answers like docker 20.10 (${driver})`, async (t) => {
    const d = await startDockerd({ driver });
    t.teardown(() => d.remove());
    const s = await buildScenario(d);
    const truth = await askDocker(d);
    t.ok(truth.imagesAll.length >= 10, `scenario has ${truth.imagesAll.length} images`);
    t.ok(truth.df.Containers.some((c) => c.State === 'running'), 'a container is running while strata reads');
    t.ok(truth.df.Containers.some((c) => (c.SizeRw ?? 0) > 0), 'a container has bytes in its read-write layer');

    await t.test('while the daemon runs (read-only)', (t) => compareWithDocker(t, d.root, truth, s, false));
    await d.stop();
    await t.test('after the daemon stopped', async (t) => {
      const before = fingerprint(d.root);
      await compareWithDocker(t, d.root, truth, s, true);
      t.equal(fingerprint(d.root), before, 'strata wrote nothing to the store');
    });
  });
}
