// prune's plan made while df's data-root walk runs (df --audit, --prometheus): the walk's mtimes stand in
// for looking at each item's directory, decisions are made with each directory's own mtime first and
// checked once the walk is done; the plan must be the one planPrune makes on its own, to the byte,
// including when something modified within --min-age (or after --filter until) forces a second pass.
import { lstatSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDriver } from '../../drivers/index.js';
import { startMeasuringDataRoot } from '../../inspect/df.js';
import { readStore } from '../../inspect/docker/read-store.js';
import { newestMtime, planPrune, type PruneOptions, type PrunePlan } from '../../inspect/prune.js';
import type { Warning } from '../../inspect/warnings.js';
import { nativeHelpers } from '../../native/index.js';
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
  t.equal(r.newest(join(s.root, 'image', 'overlay2', 'layerdb', 'sha256', s.layers.K1.chainId.slice(7))), undefined, 'what the walk was not asked about: not known (looked at)');
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
