// strata why on synthetic stores: what keeps an image or a layer alive, what each blocker pins, what the
// removal frees (LayerRefs), the docker commands in dockerd 20.10's order, and what could not be read.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDriver } from '../../drivers/index.js';
import { containerSizes } from '../../inspect/df.js';
import { readStore } from '../../inspect/docker/read-store.js';
import type { StoreModel } from '../../inspect/model.js';
import { LayerRefs } from '../../inspect/layer-refs.js';
import { resolveWhyTarget, why, type WhyReport } from '../../inspect/why.js';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore, type SampleStore } from '../helpers/sample-store.js';

const short = (id: string) => id.slice(7, 19);

function ask(s: SampleStore, ref: string, sizes = true): { r: WhyReport; model: StoreModel } {
  const model = readStore({ root: s.root, driver: 'overlay2' });
  const driver = openDriver('overlay2', s.root);
  const r = why(model, ref, sizes ? { rwSize: (c) => containerSizes(model, driver, c, []).sizeRw } : {});
  // why and rmi --dry-run never disagree: the suggested rmi succeeds on the store without the containers
  // removed before it, and deletes exactly the images and layers why says are freed.
  if (r.rmiCheck) {
    t.same(r.rmiCheck.errors, [], `rmi ${r.rmiCheck.args.join(' ')} succeeds as rmi --dry-run predicts it`);
    t.same(new Set(r.rmiCheck.deletedImages), new Set(r.freedIfRemoved.images), 'the same images go');
    const leaked = r.target.leaked ? [r.target.id, ...r.layersAbove] : [];
    t.same(new Set([...r.rmiCheck.deletedLayers, ...leaked]), new Set(r.freedIfRemoved.layers), 'the same layers go');
  } else t.same(r.freedIfRemoved.images, [], 'no rmi, no image removed');
  return { r, model };
}

const byName = (r: WhyReport) => Object.fromEntries(r.containers.map((c) => [c.name || c.id, c]));

t.test('an image with two tags, a running container and shared layers', async (t) => {
  const s = buildSampleStore(t.testdir());
  const { r } = ask(s, 'app:1');
  t.same([r.target.kind, r.target.id, r.target.matched, r.target.size], ['image', s.images.app, 'reference', 1230]);
  t.same(r.tags, ['app:1', 'example.com/team/app:v1']);
  t.same(r.children, []);
  t.same(r.containers.map((c) => [c.name, c.state, c.rwBytes, c.pinnedBytes]), [['web', 'running', 10, 40]], 'web pins its 10 rw bytes and L3 (30)');
  // old (L1 L2 L4), i1/i2 (L1 L2) and base (L1) share app's lower layers.
  t.same(
    r.sharedWith.map((x) => [x.id, x.layers.length, x.bytes]),
    [
      ...[s.images.i1, s.images.i2, s.images.old].sort().map((id) => [id, 2, 1200]),
      [s.images.base, 1, 1000],
    ],
  );
  t.same(r.freedIfRemoved, { bytes: 40, layerBytes: 30, rwBytes: 10, layers: [s.layers.L3.chainId], images: [s.images.app], containers: [s.containers.c1] });
  t.same(r.pinned.map((p) => [p.kind, p.name, p.bytes]), [['tag', 'app:1', 30], ['tag', 'example.com/team/app:v1', 30], ['container', 'web', 40]], 'a tag alone keeps the image: L3');
  // Two repositories: rmi by tag only untags, by id it must be forced.
  t.same(r.commands, ['docker stop web', 'docker rm web', `docker rmi -f ${short(s.images.app)}`]);
  t.same(r.unknown, []);
});

t.test('a parent image: every descendant, containers of all of them, children first, untagged parents left to rmi', async (t) => {
  const s = buildSampleStore(t.testdir());
  const I = s.images;
  const { r } = ask(s, 'base');
  t.equal(r.target.id, I.base);
  t.same(new Set(r.children.map((c) => c.id)), new Set([I.i1, I.i2, I.old, I.app]), 'all descendants');
  t.same(r.children.slice(0, 2).map((c) => c.id), [I.i1, I.i2], 'nearest first');
  t.same(Object.fromEntries(r.children.map((c) => [c.id, c.uniqueBytes])), { [I.i1]: 0, [I.i2]: 0, [I.old]: 4, [I.app]: 30 });
  const c = byName(r);
  t.same(Object.keys(c).sort(), ['idle', 'old-job', 'web']);
  t.same([c.idle.state, c['old-job'].state, c.web.state], ['created', 'exited', 'running']);
  t.same([c['old-job'].rwBytes, c['old-job'].pinnedBytes], [100, 100 + 1204], 'old-job keeps L4 L2 L1');
  // L1 L2 L3 L4 and the three read-write layers (10 + 100 + 0).
  t.same([r.freedIfRemoved.layerBytes, r.freedIfRemoved.rwBytes, r.freedIfRemoved.bytes], [1234, 110, 1344]);
  t.same(new Set(r.freedIfRemoved.layers), new Set([s.layers.L1, s.layers.L2, s.layers.L3, s.layers.L4].map((l) => l.chainId)));
  t.same(new Set(r.freedIfRemoved.images), new Set([I.base, I.i1, I.i2, I.old, I.app]));
  t.equal(r.commands[0], 'docker stop web');
  t.match(r.commands[1], /^docker rm (idle|web|old-job) (idle|web|old-job) (idle|web|old-job)$/);
  // old and app by id (old is untagged; app has two repositories), base by id (two tags): -f. i1 and i2
  // are never named: rmi deletes them as untagged parents once app, their last child, goes.
  const rmi = r.commands[2].split(' ');
  t.same(rmi.slice(0, 3), ['docker', 'rmi', '-f']);
  t.same(new Set(rmi.slice(3, 5)), new Set([short(I.old), short(I.app)]));
  t.equal(rmi[5], short(I.base), 'the parent last');
  t.equal(rmi.length, 6);
  t.same(r.pinned.filter((p) => p.kind === 'tag').map((p) => p.bytes), [1000, 1000], "a tag alone keeps base's own layer L1, not its children's");
});

t.test('an untagged intermediate: rmi deletes it with its last child, and its untagged parent too', async (t) => {
  const s = buildSampleStore(t.testdir());
  const I = s.images;
  const { r } = ask(s, short(I.i2));
  t.same([r.target.id, r.target.matched], [I.i2, 'id-prefix']);
  t.same(new Set(r.children.map((c) => c.id)), new Set([I.old, I.app]));
  t.same(r.alsoRemoved, [I.i1], 'i1 goes as an untagged parent; base keeps its tags');
  t.notOk(r.commands.at(-1)!.includes(short(I.i2)), 'naming i2 after app would fail with No such image');
  t.same(new Set(r.freedIfRemoved.images), new Set([I.old, I.app, I.i2, I.i1]));
  t.same(new Set(r.freedIfRemoved.layers), new Set([s.layers.L2, s.layers.L3, s.layers.L4].map((l) => l.chainId)), 'L1 stays for base');
});

t.test('pulled images: layers only shared, a digest-only image by id without -f, one tag by name', async (t) => {
  const s = buildSampleStore(t.testdir());
  const I = s.images;
  let { r } = ask(s, 'python:3');
  t.same(r.freedIfRemoved.bytes, 0, 'python:3-full holds both its layers');
  t.same(r.sharedWith.map((x) => [x.id, x.bytes]), [[I.p2, 5600], [I.p3, 5000]]);
  t.same(r.commands, ['docker rmi python:3']);
  ({ r } = ask(s, 'python:3-full'));
  t.same([r.freedIfRemoved.bytes, r.commands], [70, ['docker rmi python:3-full']]);
  ({ r } = ask(s, `tool@sha256:${'d'.repeat(64)}`));
  t.same(r.tags, [`tool@sha256:${'d'.repeat(64)}`]);
  t.same(r.commands, [`docker rmi ${short(I.x)}`], 'one repository: by id, rmi untags and deletes');
  t.same(r.freedIfRemoved.bytes, 9);
});

t.test('a layer by ChainID, DiffID or cache id, with images, layers above and containers on it', async (t) => {
  const s = buildSampleStore(t.testdir());
  const { L2, L3, L5 } = s.layers;
  const model = readStore({ root: s.root, driver: 'overlay2' });
  t.same(resolveWhyTarget(model, L2.chainId.slice(7, 17)), { kind: 'layer', id: L2.chainId, matched: 'chain-id' });
  t.same(resolveWhyTarget(model, L3.diffId), { kind: 'layer', id: L3.chainId, matched: 'diff-id' });
  t.same(resolveWhyTarget(model, `sha256:${L5.cacheId.slice(0, 16)}`), { kind: 'layer', id: L5.chainId, matched: 'cache-id' });
  t.same(resolveWhyTarget(model, L5.cacheId), { kind: 'layer', id: L5.chainId, matched: 'cache-id' });

  const { r } = ask(s, L2.chainId);
  const I = s.images;
  t.same([r.target.kind, r.target.leaked, r.target.cacheId, r.target.size], ['layer', false, L2.cacheId, 200]);
  t.same(r.images.map((i) => [i.id, i.top]), [[I.i1, true], [I.i2, true], [I.old, false], [I.app, false]].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  t.same(new Set(r.layersAbove), new Set([s.layers.L3.chainId, s.layers.L4.chainId]));
  t.same(r.containers.map((c) => c.name).sort(), ['old-job', 'web']);
  t.same(new Set(r.freedIfRemoved.layers), new Set([L2, s.layers.L3, s.layers.L4].map((l) => l.chainId)));
  t.same(r.freedIfRemoved.bytes, 234 + 110);
  t.equal(r.commands[0], 'docker stop web');
  t.match(r.commands[1], /^docker rm (web old-job|old-job web)$/);
  t.match(r.commands[2], new RegExp(`^docker rmi -f (${short(I.old)} ${short(I.app)}|${short(I.app)} ${short(I.old)})$`));

  const py = ask(s, L5.diffId).r;
  t.same(py.images.map((i) => i.id).sort(), [I.p1, I.p2].sort());
  t.equal(py.commands.length, 1, 'one rmi');
  t.match(py.commands[0], /^docker rmi (python:3-full python:3|python:3 python:3-full)$/);
  t.same(py.freedIfRemoved.bytes, 670);
});

t.test('a leaked layer: nothing holds it, no docker command removes it', async (t) => {
  const s = buildSampleStore(t.testdir());
  const { r } = ask(s, s.layers.Z.chainId.slice(7));
  t.same([r.target.kind, r.target.leaked, r.images, r.containers, r.commands], ['layer', true, [], [], []]);
  t.same(r.freedIfRemoved.layers, [s.layers.Z.chainId]);
  t.equal(r.freedIfRemoved.bytes, 77);
  t.match(r.notes.join('\n'), /strata prune --apply removes it with dockerd stopped, once older than its --min-age \(10m\)/, 'prune keeps what is newer than --min-age: the note says when');
});

t.test('a left-over read-write record keeps layers rmi would free', async (t) => {
  const s = buildSampleStore(t.testdir());
  const gone = s.builder.container({ image: s.images.p3, name: 'deleted-by-hand', state: 'exited' });
  rmSync(join(s.root, 'containers', gone), { recursive: true });
  const { r } = ask(s, 'ruby:3');
  t.same(r.containers.map((c) => [c.id, c.state, c.leftOver, c.pinnedBytes]), [[gone, 'left over', true, 8]], 'it keeps L7 (8)');
  t.same(r.freedIfRemoved.bytes, 0);
  t.same(r.commands, ['docker rmi ruby:3'], 'docker cannot remove the record');
  t.match(r.notes.join('\n'), /left-over .*strata prune --apply/);
  const layer = ask(s, s.layers.L7.chainId).r;
  t.same(layer.containers.map((c) => [c.id, c.state]), [[gone, 'left over']]);
  t.same(layer.target.leaked, false);
});

t.test('an unreadable container is unknown, named with its file, and its record keeps the layers', async (t) => {
  const s = buildSampleStore(t.testdir());
  const bad = s.builder.container({ image: s.images.app, name: 'broken', state: 'exited' });
  const file = join(s.root, 'containers', bad, 'config.v2.json');
  writeFileSync(file, '{ not json');
  const { r } = ask(s, 'app:1');
  t.same(r.unknown.map((u) => [u.kind, u.id, u.file]), [['container', bad, file]]);
  t.same(r.containers.map((c) => c.name), ['web'], 'not listed as a container docker knows');
  t.same(r.freedIfRemoved.layers, [], 'its record still holds L3');
  t.same(r.freedIfRemoved.bytes, 10);
  t.match(r.notes.join('\n'), /could not be read/);
  // One on another image's layers does not use app:1.
  const elsewhere = ask(s, 'ruby:3').r;
  t.same(elsewhere.unknown, []);
});

t.test('ambiguous and unknown arguments', async (t) => {
  const s = buildSampleStore(t.testdir());
  const model = readStore({ root: s.root, driver: 'overlay2' });
  const ids = [...model.images.keys(), ...[...model.layers.values()].flatMap((l) => [l.chainId, l.diffId!, `sha256:${l.cacheId}`])].map((x) => x.slice(7));
  // A one-character prefix more than one distinct image or layer starts with (there are more than 16).
  const counts = new Map<string, Set<string>>();
  for (const l of model.layers.values()) for (const x of [l.chainId.slice(7), l.diffId!.slice(7), l.cacheId!]) (counts.get(x[0]) ?? counts.set(x[0], new Set()).get(x[0])!).add(l.chainId);
  for (const id of model.images.keys()) (counts.get(id[7]) ?? counts.set(id[7], new Set()).get(id[7])!).add(id);
  const prefix = [...counts].find(([, v]) => v.size > 1)![0];
  t.ok(ids.length > 16);
  t.throws(() => resolveWhyTarget(model, prefix), /^ambiguous prefix .*: matches .*give more characters$/);
  t.throws(() => resolveWhyTarget(model, 'nope:1'), { message: 'No such image: nope:1' });
  t.throws(() => resolveWhyTarget(model, 'nope'), { message: 'No such image: nope:latest' });
  t.throws(() => resolveWhyTarget(model, 'Bad:Ref'), /invalid reference format/);
  t.throws(() => resolveWhyTarget(model, ''), { message: 'invalid reference format' });
  t.throws(() => resolveWhyTarget(model, 'f'.repeat(64)), { message: `No such image: ${'f'.repeat(64)}` });
});

t.test('the command: text sections, --json, --no-size, errors in one line', async (t) => {
  const s = buildSampleStore(t.testdir());
  const text = runCli(['--root', s.root, 'why', 'base:1']);
  t.equal(text.status, 0, text.stderr);
  for (const heading of ['Tags:', 'Child images (4, removed before it):', 'Containers (3):', 'Pinned by each', 'Freed if it all went:', 'To remove it:']) t.match(text.stdout, heading);
  t.match(text.stdout, /1\.34kB \(4 layer\(s\) 1\.23kB, 5 image\(s\), 3 container\(s\) 110B read-write\)/);
  t.match(text.stdout, /docker stop web && docker rm .* && docker rmi -f /);
  const json = runCli(['--root', s.root, 'why', '--json', '--no-size', 'app:1']);
  t.equal(json.status, 0);
  const r = JSON.parse(json.stdout) as WhyReport;
  t.same(Object.keys(r), ['target', 'tags', 'children', 'images', 'layersAbove', 'containers', 'sharedWith', 'unknown', 'pinned', 'freedIfRemoved', 'alsoRemoved', 'commands', 'rmiCheck', 'notes']);
  t.same([r.containers[0].rwBytes, r.freedIfRemoved.bytes], [null, 30], '--no-size measures nothing');
  const missing = runCli(['--root', s.root, 'why', 'nope:1']);
  t.same([missing.status, missing.stdout, missing.stderr], [1, '', 'strata: error: No such image: nope:1\n']);
});

t.test('LayerRefs.trial(): the same what-if as clone(), the original untouched', async (t) => {
  const s = buildSampleStore(t.testdir());
  const model = readStore({ root: s.root, driver: 'overlay2' });
  const refs = LayerRefs.of(model);
  const snapshot = (r: LayerRefs) => [...model.layers.keys()].sort().map((id) => [id, r.has(id), r.count(id), r.holdersOf(id)]);
  const before = snapshot(refs);
  for (const img of model.images.values()) {
    const top = img.chainIds.at(-1)!;
    const a = refs.clone();
    const b = refs.trial();
    t.same(b.release(top, { image: img.id }), a.release(top, { image: img.id }), `releasing ${short(img.id)}`);
    t.same(snapshot(b), snapshot(a));
    t.same(b.unheld().sort(), a.unheld().sort());
    t.same(snapshot(b.clone()), snapshot(a), 'a clone of a trial sees its changes');
  }
  const web = model.mounts.get(s.containers.c1)!;
  const app = model.images.get(s.images.app)!;
  const a = refs.clone();
  const b = refs.trial();
  for (const r of [a, b]) r.release(web.parentChainId!, { mount: web.containerId });
  t.same(b.release(app.chainIds.at(-1)!, { image: app.id }), a.release(app.chainIds.at(-1)!, { image: app.id }));
  t.same(b.drop(s.layers.Z.chainId), a.drop(s.layers.Z.chainId));
  t.same(snapshot(b), snapshot(a));
  t.same(snapshot(refs), before, 'the original is as it was');
});

t.test('a lookup that fails on a damaged store still prints the warning that says why', async (t) => {
  const s = buildSampleStore(t.testdir());
  const refs = join(s.root, 'image', 'overlay2', 'repositories.json');
  writeFileSync(refs, '{broken');
  const r = runCli(['--root', s.root, 'why', 'app:1']);
  t.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  t.equal(lines[0], 'strata: error: No such image: app:1');
  t.match(lines.slice(1).join('\n'), new RegExp(`^strata: warning: ${refs.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: corrupt JSON`, 'm'));
});
