// prune's plan made while df's data-root walk runs (df --audit, --prometheus): the walk's mtimes stand in
// for looking at each item's directory, decisions are made with each directory's own mtime first and
// checked once the walk is done; the plan must be the one planPrune makes on its own, to the byte,
// including when something modified within --min-age (or after --filter until) forces a second pass.
import { lstatSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDriver } from '../../drivers/index.js';
import { startMeasuringDataRoot } from '../../inspect/df.js';
import { readStore } from '../../inspect/docker/read-store.js';
import { newestMtime, planPrune, type PruneOptions, type PrunePlan } from '../../inspect/prune.js';
import type { Warning } from '../../inspect/warnings.js';
import { nativeHelpers } from '../../native/index.js';
import { measureEntry } from '../../snapshots/measure.js';
import { ageTree } from '../helpers/age-tree.js';
import { buildSampleStore, type SampleStore } from '../helpers/sample-store.js';


/** The sample store, aged, with enough volume directories that the walk is cut into subtrees for the native walker. */
function store(dir: string): SampleStore {
  const s = buildSampleStore(dir);
  for (let i = 0; i < 80; i++) {
    mkdirSync(join(s.root, 'volumes', `v${i}`, '_data', 'd'), { recursive: true });
    writeFileSync(join(s.root, 'volumes', `v${i}`, '_data', 'd', 'f'), 'x'.repeat(i + 1));
  }
  ageTree(s.root);
  return s;
}

const home = (s: SampleStore, id: string) => join(s.root, 'overlay2', id);

async function alone(root: string, opts: PruneOptions): Promise<{ plan: PrunePlan; warnings: Warning[] }> {
  const model = readStore({ root, driver: 'overlay2' });
  const warnings: Warning[] = [...model.warnings];
  return { plan: await planPrune(model, openDriver('overlay2', root), opts, warnings), warnings };
}

async function duringWalk(root: string, opts: PruneOptions): Promise<{ plan: PrunePlan; warnings: Warning[]; newest: (p: string) => number | undefined }> {
  const walkWarnings: Warning[] = [];
  const walk = startMeasuringDataRoot(root, walkWarnings);
  const model = readStore({ root, driver: 'overlay2' });
  const warnings: Warning[] = [...model.warnings];
  const plan = await planPrune(model, openDriver('overlay2', root), { ...opts, sizes: walk.entries, walked: walk.known }, warnings);
  await walk.result;
  t.same(walkWarnings, [], 'the walk read everything');
  return { plan, warnings, newest: (p) => walk.known.newest(p) };
}

const native = nativeHelpers() !== null;

t.test('the walk reports each asked directory’s newest mtime, as a look gives it', { skip: !native && 'native helpers not built' }, async (t) => {
  const s = store(t.testdir());
  const touched = join(home(s, s.layers.K1.cacheId), 'diff');
  const when = Date.now() / 1000 - 5;
  utimesSync(touched, when, when);
  const r = await duringWalk(s.root, { containers: true, minAgeMs: 0 });
  for (const id of [s.layers.K1.cacheId, s.layers.Z.cacheId, s.layers.L1.cacheId]) {
    t.equal(r.newest(home(s, id)), newestMtime([home(s, id)]), `overlay2/${id.slice(0, 8)}…: the walk's figure is the look's`);
  }
  t.equal(r.newest(home(s, s.layers.K1.cacheId)), lstatSync(touched).mtimeMs, 'the touched entry is the newest');
  t.equal(r.newest(join(s.root, 'containers', s.containers.c2)), newestMtime([join(s.root, 'containers', s.containers.c2)]), "a container's directory too");
  t.equal(r.newest(join(s.root, 'image', 'overlay2', 'distribution')), undefined, 'what the walk was not asked about: not known (looked at)');
});

t.test('layerdb entries, image configs and metadata, overlay2 links: reported by the walk as measuring and a look give them', { skip: !native && 'native helpers not built' }, async (t) => {
  const s = store(t.testdir());
  const walk = startMeasuringDataRoot(s.root, []);
  const meta = join(s.root, 'image', 'overlay2');
  const layerdb = join(meta, 'layerdb', 'sha256', s.layers.K1.chainId.slice(7));
  t.ok(walk.known.pending(layerdb), 'before the walk is done: its answer is still to come');
  t.equal(walk.known.ownMtime(layerdb), 0, 'and counts as nothing known yet');
  await walk.result;
  t.notOk(walk.known.pending(layerdb), 'then it has come');
  t.equal(walk.known.ownMtime(layerdb), undefined);
  const link = readFileSync(join(home(s, s.layers.K1.cacheId), 'link'), 'utf8').trim();
  const paths = [
    layerdb,
    join(s.root, 'overlay2', 'l', link),
    join(meta, 'imagedb', 'content', 'sha256', s.images.x.slice(7)),
    join(meta, 'imagedb', 'metadata', 'sha256', s.images.i1.slice(7)),
  ];
  for (const p of paths) {
    const rel = p.slice(s.root.length + 1);
    t.equal(walk.known.newest(p), newestMtime([p]), `${rel}: the newest mtime a look gives`);
    t.same(walk.known.get(p), measureEntry(p), `${rel}: what measuring it alone gives`);
  }
  t.ok(lstatSync(paths[3]).isDirectory(), 'an image with a parent has a metadata directory');
  const none = join(meta, 'imagedb', 'metadata', 'sha256', s.images.x.slice(7));
  t.equal(measureEntry(none), null, 'the dangling image x has none');
  t.equal(walk.known.get(none), undefined, 'an entry that is not there: not reported');
  t.equal(walk.known.newest(none), undefined);
});

t.test('a dangling image without a metadata directory: the plan made during the walk leaves it out, as alone', { skip: !native && 'native helpers not built' }, async (t) => {
  const s = store(t.testdir());
  const metadata = join(s.root, 'image', 'overlay2', 'imagedb', 'metadata', 'sha256', s.images.x.slice(7));
  t.equal(measureEntry(metadata), null, 'x has no metadata directory (no parent, never updated)');
  const opts: PruneOptions = { containers: true };
  const a = await alone(s.root, opts);
  const w = await duringWalk(s.root, opts);
  const x = w.plan.items.find((i) => i.id === s.images.x);
  t.ok(x, 'the dangling image is an item');
  t.notOk(x!.paths.includes(metadata), 'without the directory that is not there');
  t.same(w.plan, a.plan, 'the same plan, paths and bytes');
});

t.test('an old store: the plan decided during the walk is the plan made alone', async (t) => {
  const s = store(t.testdir());
  const opts: PruneOptions = { containers: true };
  const a = await alone(s.root, opts);
  const w = await duringWalk(s.root, opts);
  t.ok(a.plan.items.length >= 4 && a.plan.tooRecent.length === 0, 'items to decide, none recent');
  t.same(w.plan, a.plan, 'the same plan, mtimes and bytes');
  t.same(w.warnings, a.warnings);
});

t.test('an entry inside an item written within --min-age: planned again, the same plan as alone', async (t) => {
  const s = store(t.testdir());
  // A freed layer of the dangling image x: its directory's own mtime stays old, one of its entries is new.
  const now = Date.now() / 1000;
  utimesSync(join(home(s, s.layers.K1.cacheId), 'diff'), now, now);
  const opts: PruneOptions = { containers: true };
  const a = await alone(s.root, opts);
  const w = await duringWalk(s.root, opts);
  t.ok(a.plan.tooRecent.some((i) => i.id === s.images.x), 'the image is too recent');
  t.notOk(a.plan.items.some((i) => i.id === s.images.x), 'and not an item');
  t.same(w.plan, a.plan, 'the same plan, mtimes and bytes');
  t.same(w.warnings, a.warnings);
});

t.test('--filter until on an mtime the walk raises: planned again, the same plan as alone', async (t) => {
  const s = store(t.testdir());
  const now = Date.now() / 1000;
  // The leaked layer Z has no creation time: until is judged on its mtime.
  utimesSync(join(home(s, s.layers.Z.cacheId), 'diff'), now, now);
  const opts: PruneOptions = { containers: true, minAgeMs: 0, until: Date.now() - 3600_000 };
  const a = await alone(s.root, opts);
  const w = await duringWalk(s.root, opts);
  t.notOk(a.plan.items.some((i) => i.id === s.layers.Z.chainId), 'the leaked layer is filtered out');
  t.ok(a.plan.items.length > 0, 'others stay');
  t.same(w.plan, a.plan, 'the same plan, mtimes and bytes');
});

t.test('overlay2/l that is not a directory: the plan made during the walk is the plan made alone, without an error', async (t) => {
  const s = store(t.testdir());
  rmSync(join(s.root, 'overlay2', 'l'), { recursive: true });
  writeFileSync(join(s.root, 'overlay2', 'l'), 'not a directory');
  ageTree(s.root);
  const opts: PruneOptions = { containers: true };
  const a = await alone(s.root, opts);
  const w = await duringWalk(s.root, opts);
  t.ok(a.plan.items.length > 0, 'items to decide');
  t.same(w.plan, a.plan);
});

/** A plan without its items' `modified` (what df's audit and metrics never show). */
const undated = (p: PrunePlan) => ({ ...p, items: p.items.map(({ modified: _m, ...i }) => i), tooRecent: p.tooRecent.map(({ modified: _m, ...i }) => i) });

t.test('stampModified false (df --audit, --prometheus): the same decisions and bytes as alone, in every case', async (t) => {
  const cases: Array<{ name: string; touch: (s: SampleStore) => void; opts: PruneOptions; check: (s: SampleStore, p: PrunePlan) => boolean }> = [
    { name: 'an old store', touch: () => {}, opts: { containers: true }, check: (_s, p) => p.items.length >= 4 && p.tooRecent.length === 0 },
    {
      name: 'everything within --min-age (a store just made)',
      touch: (s) => ageTree(s.root, Date.now() / 1000),
      opts: { containers: true },
      check: (_s, p) => p.items.length === 0 && p.tooRecent.length >= 4,
    },
    {
      name: 'an entry inside an item written within --min-age',
      touch: (s) => utimesSync(join(home(s, s.layers.K1.cacheId), 'diff'), Date.now() / 1000, Date.now() / 1000),
      opts: { containers: true },
      check: (s, p) => p.tooRecent.some((i) => i.id === s.images.x) && !p.items.some((i) => i.id === s.images.x),
    },
    {
      name: '--filter until on an mtime the walk raises',
      touch: (s) => utimesSync(join(home(s, s.layers.Z.cacheId), 'diff'), Date.now() / 1000, Date.now() / 1000),
      opts: { containers: true, minAgeMs: 0, until: Date.now() - 3600_000 },
      check: (s, p) => !p.items.some((i) => i.id === s.layers.Z.chainId) && p.items.length > 0,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const s = store(t.testdir());
      c.touch(s);
      const a = await alone(s.root, c.opts);
      t.ok(c.check(s, a.plan), 'the case is what it says');
      const w = await duringWalk(s.root, { ...c.opts, stampModified: false });
      t.same(undated(w.plan), undated(a.plan), 'the same items, bytes and kinds');
      t.equal(w.plan.bytes, a.plan.bytes, 'the same total');
    });
  }
});
