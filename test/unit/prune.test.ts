// strata prune on synthetic stores: every kind of item, what stays unknown, too recent or protected, the
// filters, --containers, and --apply removing exactly what --dry-run listed and nothing else.
import { createHash } from 'node:crypto';
import { existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDriver } from '../../drivers/index.js';
import { startMeasuringDataRoot } from '../../inspect/df.js';
import { readStore } from '../../inspect/docker/read-store.js';
import { parseFilterFlags } from '../../inspect/filter-args.js';
import { goDurationString, parseGoDuration, parseUntil, planPrune, pruneFilters, pruneLabelsMatch, type PruneOptions, type PrunePlan } from '../../inspect/prune.js';
import type { Warning } from '../../inspect/warnings.js';
import { measureTree } from '../../snapshots/measure.js';
import { runCli } from '../helpers/run-cli.js';
import { ageTree, OLD } from '../helpers/age-tree.js';
import { buildSampleStore, type SampleStore } from '../helpers/sample-store.js';


function sample(dir: string): SampleStore {
  const s = buildSampleStore(dir);
  ageTree(s.root);
  return s;
}

async function plan(root: string, opts: PruneOptions = {}): Promise<{ plan: PrunePlan; warnings: Warning[] }> {
  const model = readStore({ root, driver: 'overlay2' });
  const warnings: Warning[] = [...model.warnings];
  return { plan: await planPrune(model, openDriver('overlay2', root), { minAgeMs: 0, ...opts }, warnings), warnings };
}

const kindsAndIds = (p: PrunePlan) => p.items.map((i) => `${i.kind} ${i.id}`).sort();
const meta = (s: SampleStore) => join(s.root, 'image', 'overlay2');
const layerEntry = (s: SampleStore, chainId: string) => join(meta(s), 'layerdb', 'sha256', chainId.slice(7));
const home = (s: SampleStore, id: string) => join(s.root, 'overlay2', id);

/** An image config with labels (the builder's have none), tagged or not; returns its id. */
function labelledImage(s: SampleStore, layers: SampleStore['layers'][keyof SampleStore['layers']][], labels: Record<string, string>, created: string): string {
  const bytes = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created,
    config: { Cmd: ['sh'], Labels: labels },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created_by: 'test' })),
  });
  const hex = createHash('sha256').update(bytes).digest('hex');
  const file = join(meta(s), 'imagedb', 'content', 'sha256', hex);
  writeFileSync(file, bytes);
  utimesSync(file, OLD, OLD);
  return `sha256:${hex}`;
}

t.test('every kind: dangling images with the layers they free, leaked layers, orphan directories, write-sets, leftover mounts', async (t) => {
  const s = buildSampleStore(t.testdir());
  const b = s.builder;
  const goneId = s.containers.c3;
  const gone = readStore({ root: s.root, driver: 'overlay2' }).containers.find((c) => c.id === goneId)!;
  rmSync(join(s.root, 'containers', goneId), { recursive: true });
  const writeSet = join(meta(s), 'layerdb', 'tmp', 'write-set-424242');
  mkdirSync(writeSet, { recursive: true });
  writeFileSync(join(writeSet, 'partial'), 'w'.repeat(300));
  const staleTemp = join(meta(s), 'layerdb', 'tmp', '.strata-tmp-999999-00000000-0123abcd-write-set');
  mkdirSync(staleTemp);
  b.driverDir('e'.repeat(64) + '-init', null, { '.dockerenv': '' });
  ageTree(s.root);

  const { plan: p, warnings } = await plan(s.root);
  t.same(warnings, []);
  t.same(
    kindsAndIds(p),
    [
      `dangling-image ${s.images.x}`,
      `leftover-mount ${goneId}`,
      `orphan-directory ${'e'.repeat(64)}-init`,
      `orphan-directory ${'f'.repeat(64)}`,
      `unused-layer ${s.layers.Z.chainId}`,
      'write-set .strata-tmp-999999-00000000-0123abcd-write-set',
      'write-set write-set-424242',
    ].sort(),
  );
  const by = new Map(p.items.map((i) => [`${i.kind} ${i.id}`, i]));
  const x = by.get(`dangling-image ${s.images.x}`)!;
  t.same(x.images, [s.images.x]);
  t.same(x.layers, [s.layers.K1.chainId], 'x frees its only layer (LayerRefs.release)');
  t.same(x.untag, [`tool@sha256:${'d'.repeat(64)}`], 'its digest reference goes with it, as docker image prune does');
  t.same(x.paths, [join(meta(s), 'imagedb', 'content', 'sha256', s.images.x.slice(7)), layerEntry(s, s.layers.K1.chainId), join(s.root, 'overlay2', 'l', readFileSync(join(home(s, s.layers.K1.cacheId), 'link'), 'utf8')), home(s, s.layers.K1.cacheId)], 'image config, then layerdb entry, then short link and driver directory');
  const leftover = by.get(`leftover-mount ${goneId}`)!;
  t.equal(leftover.path, join(meta(s), 'layerdb', 'mounts', goneId));
  t.equal(leftover.paths[0], leftover.path, 'the record first');
  t.ok(leftover.paths.includes(home(s, gone.mountId!)) && leftover.paths.includes(home(s, gone.initId!)), 'with its rw and init directories');
  t.notOk(p.items.some((i) => i.kind === 'orphan-directory' && (i.id === gone.mountId || i.id === gone.initId)), 'which are not listed twice as orphans');
  t.same(leftover.layers, undefined, 'base:1 still holds its layer');
  t.same(by.get(`unused-layer ${s.layers.Z.chainId}`)!.paths.filter((x) => !x.includes('/l/')), [layerEntry(s, s.layers.Z.chainId), home(s, s.layers.Z.cacheId)]);
  t.ok(by.get(`orphan-directory ${'f'.repeat(64)}`)!.bytes >= 50, 'bytes on disk');
  t.equal(p.bytes, p.items.reduce((n, i) => n + i.bytes, 0), 'bytes is the sum of the items');
  for (const i of p.items) t.ok(i.reason.length > 0 && i.bytes > 0, `${i.kind} has a reason and bytes`);
  t.same([p.unknown, p.tooRecent, p.protected], [[], [], []]);
  t.notOk(p.items.some((i) => i.id === s.images.old), 'old is used by a stopped container: not without --containers');
});

t.test("items measured from df's data-root walk: the same bytes as measuring each item in turn, hardlinks shared between items too", async (t) => {
  const s = buildSampleStore(t.testdir());
  const b = s.builder;
  const goneId = s.containers.c3;
  rmSync(join(s.root, 'containers', goneId), { recursive: true });
  const writeSet = join(meta(s), 'layerdb', 'tmp', 'write-set-424242');
  mkdirSync(join(writeSet, 'deeper'), { recursive: true });
  writeFileSync(join(writeSet, 'deeper', 'partial'), 'w'.repeat(300));
  b.driverDir('e'.repeat(64) + '-init', null, { '.dockerenv': '' });
  // One file hardlinked into three items (the dangling image's layer, the leaked layer, the orphan), and
  // one twice within the leaked layer: each item counts it once, the plan once (the orphan alone, as df).
  const shared = join(home(s, s.layers.K1.cacheId), 'diff', 'shared');
  writeFileSync(shared, 's'.repeat(4000));
  linkSync(shared, join(home(s, s.layers.Z.cacheId), 'diff', 'shared'));
  linkSync(shared, join(s.root, 'overlay2', 'f'.repeat(64), 'shared'));
  writeFileSync(join(home(s, s.layers.Z.cacheId), 'diff', 'twice'), 't'.repeat(700));
  linkSync(join(home(s, s.layers.Z.cacheId), 'diff', 'twice'), join(home(s, s.layers.Z.cacheId), 'diff', 'again'));
  ageTree(s.root);

  const opts: PruneOptions = { minAgeMs: 0, containers: true };
  const alone = await plan(s.root, opts);
  const walkWarnings: Warning[] = [];
  const walk = startMeasuringDataRoot(s.root, walkWarnings);
  const model = readStore({ root: s.root, driver: 'overlay2' });
  const warnings: Warning[] = [...model.warnings];
  const fromWalk = await planPrune(model, openDriver('overlay2', s.root), { ...opts, sizes: walk.entries }, warnings);
  await walk.result;
  t.same(fromWalk, alone.plan, 'the same plan, bytes and all');
  t.same([warnings, walkWarnings], [alone.warnings, []]);
  t.ok((await walk.entries).get(home(s, s.layers.Z.cacheId)), "the leaked layer's directory came from the walk");
  const saved = process.env.STRATA_NATIVE;
  process.env.STRATA_NATIVE = '0';
  try {
    t.same((await plan(s.root, opts)).plan, alone.plan, 'without the native helpers: the same plan, mtimes and bytes');
  } finally {
    if (saved === undefined) delete process.env.STRATA_NATIVE;
    else process.env.STRATA_NATIVE = saved;
  }

  // What measuring every item in turn gives (one set of seen inodes; an orphan directory alone, as df measures it).
  const seen = new Set<number>();
  const expected = alone.plan.items.map((i) => i.paths.reduce((n, p) => n + (i.kind === 'orphan-directory' && p === i.path ? measureTree(p) : measureTree(p, { seenInodes: seen })).apparentBytes, 0));
  t.same(alone.plan.items.map((i) => i.bytes), expected, 'each item in turn');
  const by = new Map(alone.plan.items.map((i) => [`${i.kind} ${i.id}`, i]));
  const z = by.get(`unused-layer ${s.layers.Z.chainId}`)!;
  const x = by.get(`dangling-image ${s.images.x}`)!;
  t.ok(alone.plan.items.indexOf(x) < alone.plan.items.indexOf(z), 'the dangling image comes first');
  t.equal(z.bytes, z.paths.reduce((n, p) => n + measureTree(p).apparentBytes, 0) - 4000, 'the leaked layer: the shared file counted in the image before it, its own twice-linked file once');
  t.ok(by.get(`orphan-directory ${'f'.repeat(64)}`)!.bytes >= 4000, 'the orphan, measured alone, counts it again');
  t.ok(by.get('write-set write-set-424242')!.bytes >= 300, 'a write-set with a directory inside');
});

t.test('a removal cut short after any path leaves only what prune lists again: nothing half-removed looks alive', async (t) => {
  for (const [label, pick, opts] of [
    ['dangling image x', (s: SampleStore) => s.images.x, {}],
    ['leftover mount', (s: SampleStore) => s.containers.c3, {}],
    ['container old-job', (s: SampleStore) => s.containers.c2, { containers: true }],
  ] as const) {
    const probe = sample(t.testdir());
    if (label === 'leftover mount') rmSync(join(probe.root, 'containers', probe.containers.c3), { recursive: true });
    const first = (await plan(probe.root, opts)).plan.items.find((i) => i.id === pick(probe))!;
    for (let k = 1; k < first.paths.length; k++) {
      const s = sample(join(t.testdirName, `${label.replace(/ /g, '-')}-${k}`));
      if (label === 'leftover mount') rmSync(join(s.root, 'containers', s.containers.c3), { recursive: true });
      const item = (await plan(s.root, opts)).plan.items.find((i) => i.id === pick(s))!;
      // What the first k renames took away (removeGroups renames in this order).
      for (const path of item.paths.slice(0, k)) rmSync(path, { recursive: true, force: true });
      const { plan: after } = await plan(s.root, opts);
      const listed = new Set(after.items.flatMap((i) => i.paths));
      const rest = item.paths.slice(k).filter((p) => existsSync(p) || lstatExists(p));
      t.same(rest.filter((p) => !listed.has(p)), [], `${label}, cut after ${k} of ${item.paths.length}: the rest is listed again`);
      t.same(after.unknown, [], 'and nothing is unknown');
    }
  }
});

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

t.test('a stale strata trash directory (an interrupted prune) and other stale temp entries are write-sets', async (t) => {
  const s = sample(t.testdir());
  const trash = join(s.root, '.strata-tmp-999999-00000000-0123abcd-trash');
  mkdirSync(join(trash, '0'), { recursive: true });
  writeFileSync(join(trash, '0', 'x'), 'x'.repeat(100));
  const mine = join(s.root, `.strata-tmp-${process.pid}-${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').replace(/-/g, '').slice(0, 8)}-0123abcd-trash`);
  mkdirSync(mine);
  ageTree(s.root);
  const { plan: p } = await plan(s.root);
  t.same(p.items.filter((i) => i.kind === 'write-set').map((i) => i.path), [trash], "the stale one; not this process's own");
  t.match(p.items.find((i) => i.path === trash)!.reason, /interrupted strata write \(its writer, pid 999999, is gone\)/);
});

t.test('an unreadable image config elsewhere: a dangling image whose layers it might share is unknown', async (t) => {
  const s = sample(t.testdir());
  const configFile = join(meta(s), 'imagedb', 'content', 'sha256', s.images.p3.slice(7));
  writeFileSync(configFile, '{"tampered": true}');
  utimesSync(configFile, OLD, OLD);
  const { plan: p } = await plan(s.root);
  t.same(kindsAndIds(p), [`orphan-directory ${'f'.repeat(64)}`], 'an image config names no driver directory: the orphan stays an item');
  const x = p.unknown.find((u) => u.id === s.images.x)!;
  t.equal(x.kind, 'dangling-image');
  t.ok(x.unreadable.some((u) => u.file === configFile), 'x is unknown, naming the config');
  t.ok(p.unknown.some((u) => u.id === s.layers.Z.chainId && u.kind === 'layer'), "Z is unknown (df's classification)");
});

t.test('vfs: the same items, with vfs directories', async (t) => {
  const s = buildSampleStore(t.testdir(), 'vfs');
  ageTree(s.root);
  const model = readStore({ root: s.root, driver: 'vfs' });
  const p = await planPrune(model, openDriver('vfs', s.root), { minAgeMs: 0 }, []);
  t.same(kindsAndIds(p), [`dangling-image ${s.images.x}`, `orphan-directory ${'f'.repeat(64)}`, `unused-layer ${s.layers.Z.chainId}`].sort());
  t.same(p.items.find((i) => i.kind === 'unused-layer')!.paths, [join(s.root, 'image', 'vfs', 'layerdb', 'sha256', s.layers.Z.chainId.slice(7)), join(s.root, 'vfs', 'dir', s.layers.Z.cacheId)]);
});

t.test('--containers: stopped containers as docker container prune, then the images only they used', async (t) => {
  const s = sample(t.testdir());
  const { plan: p } = await plan(s.root, { containers: true });
  const model = readStore({ root: s.root, driver: 'overlay2' });
  const c2 = model.containers.find((c) => c.name === 'old-job')!;
  t.same(
    kindsAndIds(p),
    [`container ${s.containers.c2}`, `container ${s.containers.c3}`, `dangling-image ${s.images.old}`, `dangling-image ${s.images.x}`, `orphan-directory ${'f'.repeat(64)}`, `unused-layer ${s.layers.Z.chainId}`].sort(),
  );
  t.notOk(p.items.some((i) => i.id === s.containers.c1), 'the running container stays');
  const item = p.items.find((i) => i.id === s.containers.c2)!;
  t.same(item.paths.slice(0, 2), [join(s.root, 'containers', c2.id), join(meta(s), 'layerdb', 'mounts', c2.id)], 'containers/<id>, then the rw record');
  t.ok(item.paths.includes(home(s, c2.mountId!)) && item.paths.includes(home(s, c2.initId!)));
  t.same(p.items.find((i) => i.id === s.images.old)!.layers, [s.layers.L4.chainId], 'old (used only by old-job) frees L4; its parent i2 still has app');
  t.ok(p.items.findIndex((i) => i.kind === 'container') < p.items.findIndex((i) => i.kind === 'dangling-image'), 'containers come first, as docker system prune');
});

t.test('a dangling image takes its untagged parents without other children along, as docker prune does', async (t) => {
  const s = buildSampleStore(t.testdir());
  const b = s.builder;
  const top = b.layer(s.layers.K1, { more: 'm' }, 'more');
  const child = b.image({ layers: [s.layers.K1, top], parent: s.images.x, created: '2023-02-01T00:00:00Z' });
  // x now has a child: not dangling itself; the child is, and x is untagged (a digest only)...
  let r = (await plan(s.root, { minAgeMs: 0, now: Date.now() + 3600_000 })).plan;
  const item = r.items.find((i) => i.id === child)!;
  t.same(item.images, [child], 'x has a digest reference: it stays, as dockerd keeps a referenced parent');
  t.same(item.layers, [top.chainId]);
  // ...and without the digest reference, x goes with its child.
  const file = join(meta(s), 'repositories.json');
  const data = JSON.parse(readFileSync(file, 'utf8'));
  delete data.Repositories.tool;
  writeFileSync(file, JSON.stringify(data));
  r = (await plan(s.root, { minAgeMs: 0, now: Date.now() + 3600_000 })).plan;
  t.same(r.items.find((i) => i.id === child)!.images, [child, s.images.x]);
  t.same(r.items.find((i) => i.id === child)!.layers, [top.chainId, s.layers.K1.chainId]);
  t.notOk(r.items.some((i) => i.id === s.images.x && i.kind === 'dangling-image'), 'x is not an item of its own');
});

t.test('unknown: an unreadable container config, a layerdb entry missing its cache-id', async (t) => {
  const s = sample(t.testdir());
  const model0 = readStore({ root: s.root, driver: 'overlay2' });
  const c2 = model0.containers.find((c) => c.name === 'old-job')!;
  const config = join(s.root, 'containers', c2.id, 'config.v2.json');
  writeFileSync(config, '{"not": a config');
  utimesSync(config, OLD, OLD);
  let { plan: p } = await plan(s.root, { containers: true });
  const unknown = new Map(p.unknown.map((u) => [u.id, u]));
  for (const id of [c2.mountId!, c2.initId!]) t.same(unknown.get(id)?.unreadable.map((u) => u.file), [config], `its ${id.endsWith('-init') ? 'init' : 'rw'} directory is unknown, naming the config`);
  t.equal(unknown.get(c2.id)?.kind, 'container', 'with --containers the container itself is unknown');
  t.equal(unknown.get(s.images.old)?.kind, 'dangling-image', 'old might be used by it: unknown, not dangling');
  t.notOk(p.items.some((i) => i.paths.some((x) => x.includes(c2.id) || x.includes(c2.mountId!))), 'no item touches it');
  t.ok(p.items.some((i) => i.id === s.images.x), 'x is not what the unreadable container uses (its rw record names another top layer)');

  writeFileSync(config, readFileSync(config, 'utf8').replace('{"not": a config', '{}'));
  rmSync(config);
  const cacheId = join(layerEntry(s, s.layers.L1.chainId), 'cache-id');
  rmSync(cacheId);
  ({ plan: p } = await plan(s.root));
  t.notOk(p.items.some((i) => i.kind === 'orphan-directory'), 'no directory is an orphan while a cache-id is missing');
  const orphan = p.unknown.find((u) => u.id === 'f'.repeat(64))!;
  t.equal(orphan.kind, 'directory');
  t.ok(orphan.unreadable.some((u) => u.file === cacheId), 'the unknown directory names the missing cache-id');
});

t.test('--min-age: what was modified lately is too recent, listed apart, never an item', async (t) => {
  const s = sample(t.testdir());
  const leftover = join(home(s, 'f'.repeat(64)), 'diff', 'leftover');
  writeFileSync(join(home(s, 'f'.repeat(64)), 'diff', 'new'), 'n'); // diff/'s mtime is now: an immediate entry of the top directory
  let { plan: p } = await plan(s.root, { minAgeMs: 10 * 60_000 });
  t.notOk(p.items.some((i) => i.kind === 'orphan-directory'));
  t.same(p.tooRecent.map((i) => i.kind), ['orphan-directory']);
  t.ok(Date.now() - Date.parse(p.tooRecent[0].modified) < 60_000, 'its modification time is shown');
  t.ok(p.items.some((i) => i.kind === 'unused-layer'), 'older items are items');
  ageTree(s.root);
  utimesSync(leftover, Date.now() / 1000, Date.now() / 1000);
  ({ plan: p } = await plan(s.root, { minAgeMs: 10 * 60_000 }));
  t.ok(p.items.some((i) => i.kind === 'orphan-directory'), 'a file below the immediate entries does not count (documented choice)');
  ({ plan: p } = await plan(s.root, { minAgeMs: 48 * 3600_000 }));
  t.same(p.items, [], 'with --min-age 48h everything a day old is too recent');
  t.equal(p.tooRecent.length, 3);
});

t.test('a leaked layer under a too recent leaked layer stays, listed as kept', async (t) => {
  const s = sample(t.testdir());
  const above = s.builder.layer(s.layers.Z, { above: 'a' }, 'above');
  const { plan: p } = await plan(s.root, { minAgeMs: 10 * 60_000 });
  t.same(p.tooRecent.map((i) => [i.kind, i.id]).sort(), [['unused-layer', above.chainId], ['unused-layer', s.layers.Z.chainId]].sort());
  t.match(p.tooRecent.find((i) => i.id === s.layers.Z.chainId)!.reason, /kept while layer .* above it stays/);
  ageTree(s.root);
  const again = (await plan(s.root, { minAgeMs: 10 * 60_000 })).plan;
  t.same(again.items.filter((i) => i.kind === 'unused-layer').map((i) => i.id), [above.chainId, s.layers.Z.chainId], 'top first');
});

t.test("a migration's journal: what it names is protected; an unreadable journal protects everything", async (t) => {
  const s = sample(t.testdir());
  const journalDir = join(s.root, '.strata-migrate');
  mkdirSync(journalDir);
  writeFileSync(join(journalDir, 'journal.json'), JSON.stringify({ version: 1, command: 'migrate', from: 'aufs', to: 'overlay2', directories: [`overlay2/${'f'.repeat(64)}`] }));
  let { plan: p, warnings } = await plan(s.root);
  t.notOk(p.items.some((i) => i.id === 'f'.repeat(64)), 'the directory the migration uses is not an item');
  t.same(p.protected.map((x) => x.path), [journalDir, home(s, 'f'.repeat(64)), home(s, 'f'.repeat(64))], 'the journal, the directory it names, and the item it kept');
  t.ok(p.items.length > 0, 'other items stay items');
  t.same(warnings, []);
  writeFileSync(join(journalDir, 'journal.json'), '{"version": 1, "directories": [');
  ({ plan: p, warnings } = await plan(s.root));
  t.same(p.items, [], 'prune removes nothing at all');
  t.equal(p.bytes, 0);
  t.match(p.protected[0], { path: join(journalDir, 'journal.json'), reason: /unreadable \(corrupt JSON.*prune removes none/ });
  t.equal(p.protected.length, 4, 'and names every item it keeps');
  t.match(warnings.map((w) => w.message).join('\n'), /prune removes nothing/);
  writeFileSync(join(journalDir, 'journal.json'), JSON.stringify({ version: 1, directories: ['../../etc'] }));
  ({ plan: p } = await plan(s.root));
  t.same(p.items, [], 'a journal naming a path outside the root is unreadable too');
});

t.test('filters: until and label, as docker system prune reads them', async (t) => {
  const s = sample(t.testdir());
  const labelled = labelledImage(s, [s.layers.K1], { team: 'a', keep: 'no' }, '2023-03-01T00:00:00Z');
  const now = Date.now();
  const ids = async (opts: PruneOptions) => (await plan(s.root, { ...opts, now })).plan.items.filter((i) => i.kind === 'dangling-image' || i.kind === 'container').map((i) => i.id).sort();
  t.same(await ids({}), [labelled, s.images.x].sort());
  t.same(await ids({ until: Date.parse('2023-02-01T00:00:00Z') }), [s.images.x], 'until: only images created before (x: 2023-01-01)');
  t.same(await ids({ until: Date.parse('2022-01-01T00:00:00Z') }), []);
  t.same(await ids({ labels: ['label=team'] }), [labelled], 'label=k');
  t.same(await ids({ labels: ['label=team=b'] }), [], 'label=k=v');
  t.same(await ids({ labels: ['label!=keep=no'] }), [s.images.x], 'label!=k=v');
  t.same(await ids({ labels: ['label=team', 'label!=keep'] }), []);
  const leftovers = (await plan(s.root, { labels: ['label=team'], now })).plan.items.filter((i) => i.kind === 'orphan-directory');
  t.same(leftovers, [], 'leftovers carry no labels: label= leaves them out');
  t.equal((await plan(s.root, { until: now - 3600_000 * 48, now })).plan.items.filter((i) => i.kind === 'orphan-directory').length, 0, 'until: leftovers by their mtime (a day old, not two)');
  // containers: labels from Config.Labels
  const cfgFile = join(s.root, 'containers', s.containers.c3, 'config.v2.json');
  const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
  cfg.Config.Labels = { team: 'a' };
  writeFileSync(cfgFile, JSON.stringify(cfg));
  utimesSync(cfgFile, OLD, OLD);
  utimesSync(join(s.root, 'containers', s.containers.c3), OLD, OLD);
  t.same(await ids({ containers: true, labels: ['label=team=a'] }), [labelled, s.containers.c3].sort(), 'a container by its labels');
  const created = new Map(readStore({ root: s.root, driver: 'overlay2' }).containers.map((c) => [c.id, Date.parse(c.created)]));
  t.ok(created.get(s.containers.c2)! < created.get(s.containers.c3)!);
  t.same(
    await ids({ containers: true, until: created.get(s.containers.c2)! + 1 }),
    [labelled, s.images.x, s.images.old, s.containers.c2].sort(),
    'until: containers by Created (old-job before it, idle after); old, used only by old-job, is dangling then',
  );

  t.same(pruneFilters(parseFilterFlags(['until=24h', 'label=a=b', 'label!=c']), now), { until: now - 24 * 3600_000, labels: ['label=a=b', 'label!=c'] });
  t.throws(() => pruneFilters(parseFilterFlags(['dangling=true']), now), { message: "Invalid filter 'dangling'" });
  t.throws(() => pruneFilters(parseFilterFlags(['until=1h', 'until=2h']), now), { message: 'more than one until filter specified' });
  t.throws(() => pruneFilters(parseFilterFlags(['until=soon']), now), { message: 'failed to parse value as time or duration: "soon"' });
  t.equal(parseUntil('2023-01-02T03:04:05Z', now), Date.parse('2023-01-02T03:04:05Z'));
  t.equal(parseUntil('2023-01-02T03:04:05+02:00', now), Date.parse('2023-01-02T01:04:05Z'));
  t.equal(parseUntil('1700000000', now), 1_700_000_000_000, 'a Unix timestamp');
  t.equal(parseUntil('2023-01-02', now), new Date(2023, 0, 2).getTime(), 'a date without a zone is local');
  t.ok(pruneLabelsMatch(['label!=x', 'label!=y'], { x: '1' }), 'label! excludes only when every label! matches (moby)');
});

t.test('Go durations for --min-age', async (t) => {
  t.equal(parseGoDuration('10m'), 600_000);
  t.equal(parseGoDuration('1h30m'), 5_400_000);
  t.equal(parseGoDuration('1.5s'), 1500);
  t.equal(parseGoDuration('0s'), 0);
  t.equal(parseGoDuration('0'), 0);
  t.throws(() => parseGoDuration('10'), { message: 'time: missing unit in duration "10"' });
  t.throws(() => parseGoDuration('10x'), { message: 'time: unknown unit "x" in duration "10x"' });
  t.throws(() => parseGoDuration('ten'), { message: 'time: invalid duration "ten"' });
  t.equal(goDurationString(600_000), '10m0s');
  t.equal(goDurationString(5_400_000), '1h30m0s');
  t.equal(goDurationString(0), '0s');
});

/** What the read commands say about a store, for comparing before and after apply. */
function readings(root: string) {
  const json = (args: string[]) => {
    const r = runCli(['--root', root, ...args, '--json']);
    if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const df = json(['df', '-v']);
  return {
    images: json(['images', '-a']),
    layers: json(['layers']).map((l: { chainId: string; cacheId: string; size: number }) => [l.chainId, l.cacheId, l.size]),
    df: { images: df.images, containers: df.containers },
    verify: runCli(['--root', root, 'verify']).status,
  };
}

/** Every path under `dir` (bytes not needed: a removed path is gone, a kept one is there). */
function allPaths(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out.push(p);
    if (lstatSync(p).isDirectory()) allPaths(p, out);
  }
  return out;
}

t.test('--apply: refused without --yes when there is no terminal; then removes exactly the dry-run items', async (t) => {
  const s = sample(t.testdir());
  const before = allPaths(s.root);
  const refused = runCli(['--root', s.root, 'prune', '--apply', '--min-age', '0s']);
  t.equal(refused.status, 1);
  t.equal(refused.stderr, 'strata: error: prune --apply removes files and there is no terminal to ask on: add --yes to confirm\n');
  t.equal(refused.stdout, '', 'nothing printed before the refusal');
  t.same(allPaths(s.root), before, 'nothing changed');

  const dry = runCli(['--root', s.root, 'prune', '--dry-run', '--json', '--min-age', '0s']);
  t.equal(dry.status, 0, dry.stderr);
  const listed = JSON.parse(dry.stdout) as PrunePlan;
  t.same(Object.keys(listed), ['items', 'bytes', 'unknown', 'tooRecent', 'protected']);
  t.same(allPaths(s.root), before, 'a dry-run changes nothing');
  const text = runCli(['--root', s.root, 'prune', '--min-age', '0s']);
  t.match(text.stdout, /^KIND\s+ID\s+SIZE\s+REASON\s+PATH\n/);
  t.match(text.stdout, /\nTotal: 3 items, [\d.]+kB reclaimable/);
  t.equal(text.stderr, '');
  // docker system prune -f removes: strata's -f alone is still a dry run, and says so.
  const forced = runCli(['--root', s.root, 'prune', '-f', '--min-age', '0s']);
  t.equal(forced.status, 0);
  t.equal(forced.stdout, text.stdout, 'the same listing');
  t.equal(forced.stderr, 'strata: note: -f/--yes without --apply: a dry run, nothing was removed (add --apply to remove)\n');
  t.same(allPaths(s.root), before, 'nothing removed');

  const readBefore = readings(s.root);
  // docker prune's -f (--force) is strata's --yes.
  const applied = runCli(['--root', s.root, 'prune', '--apply', '-f', '--min-age', '0s']);
  t.equal(applied.status, 0, applied.stderr);
  t.equal(applied.stderr, '');
  t.match(applied.stdout, new RegExp(`^Deleted Images:\\nuntagged: tool@sha256:d{64}\\ndeleted: ${s.images.x}\\ndeleted: ${s.layers.K1.chainId}\\n\\nDeleted Leftovers:\\nunused-layer ${s.layers.Z.chainId}\\norphan-directory f{64}\\n\\nTotal reclaimed space: [\\d.]+kB\\n$`));
  const removed = listed.items.flatMap((i) => i.paths);
  const gone = (p: string) => removed.some((r) => p === r || p.startsWith(`${r}/`));
  const after = allPaths(s.root);
  t.same(after, before.filter((p) => !gone(p)), 'exactly the listed paths went (no trash, no lock left)');
  t.notOk(readFileSync(join(meta(s), 'repositories.json'), 'utf8').includes('tool@'), 'the digest reference is gone from repositories.json');

  const readAfter = readings(s.root);
  t.same(readAfter.images, readBefore.images.filter((i: { id: string }) => i.id !== s.images.x), 'strata images -a: the same but x');
  t.same(readAfter.layers, readBefore.layers.filter((l: string[]) => l[0] !== s.layers.Z.chainId && l[0] !== s.layers.K1.chainId), 'strata layers: the same but Z and K1');
  t.same(readAfter.df, { images: readBefore.df.images.filter((i: { id: string }) => i.id !== s.images.x), containers: readBefore.df.containers }, 'strata df -v: images and containers the same');
  t.equal(readAfter.verify, readBefore.verify, 'strata verify answers the same');
  t.same((await plan(s.root)).plan.items, [], 'nothing left to prune');
  t.notOk(existsSync(join(s.root, '.strata-write.lock')));
});

t.test('--apply --json: what was removed, and the bytes', async (t) => {
  const s = sample(t.testdir());
  const c2 = readStore({ root: s.root, driver: 'overlay2' }).containers.find((c) => c.id === s.containers.c2)!;
  const until = new Date(Date.parse(c2.created) + 1).toISOString();
  const r = runCli(['--root', s.root, 'prune', '--apply', '--yes', '--json', '--min-age', '0s', '--containers', '--filter', `until=${until}`]);
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.same(Object.keys(out), ['removed', 'failed', 'skipped', 'bytes']);
  t.same(
    out.removed.map((i: { kind: string; id: string }) => `${i.kind} ${i.id}`).sort(),
    [`container ${s.containers.c2}`, `dangling-image ${s.images.old}`, `dangling-image ${s.images.x}`].sort(),
    'until also leaves out the leftovers modified after it (all of them: a day ago)',
  );
  t.ok(out.bytes > 0);
  t.notOk(existsSync(join(s.root, 'containers', s.containers.c2)));
  t.ok(existsSync(join(s.root, 'containers', s.containers.c3)), 'c3 was created after until');
  const bad = runCli(['--root', s.root, 'prune', '--filter', 'foo=bar']);
  t.same([bad.status, bad.stderr], [1, "strata: error: Invalid filter 'foo'\n"]);
  const badAge = runCli(['--root', s.root, 'prune', '--min-age', 'soon']);
  t.same([badAge.status, badAge.stderr], [2, 'strata: error: invalid argument "soon" for "--min-age" flag: time: invalid duration "soon"\n']);
});

t.test("a filter without '=' is docker prune's usage error, naming the flag as prune spells it (-f is --force there)", async (t) => {
  const s = sample(t.testdir());
  const r = runCli(['--root', s.root, 'prune', '--filter', 'foo']);
  t.equal(r.status, 2);
  t.equal(r.stderr.split('\n')[0], 'strata: error: invalid argument "foo" for "--filter" flag: bad format of filter (expected name=value)');
});
