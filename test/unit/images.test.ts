import t from 'tap';
import { listImages } from '../../inspect/images.js';
import { readStore } from '../../inspect/docker/read-store.js';
import { resolveImageId } from '../../inspect/reference.js';
import { buildSampleStore } from '../helpers/sample-store.js';

const s = buildSampleStore(t.testdir());
const model = readStore({ root: s.root, driver: 'overlay2' });
const ids = (list: { id: string }[]) => list.map((i) => i.id).sort();
const I = s.images;

t.test('reads every image, layer, reference and container without warnings', async (t) => {
  t.same(model.warnings, []);
  t.equal(model.images.size, 9);
  t.equal(model.layers.size, 10);
  t.equal(model.containers.length, 3);
  t.same(model.images.get(I.app)!.chainIds, [s.layers.L1.chainId, s.layers.L2.chainId, s.layers.L3.chainId]);
});

t.test('images without -a: tagged images and untagged ones without children', async (t) => {
  t.same(ids(listImages(model)), [I.base, I.app, I.old, I.p1, I.p2, I.p3, I.x].sort());
});

t.test('images -a adds the intermediates', async (t) => {
  t.same(ids(listImages(model, { all: true })), Object.values(I).sort());
});

t.test('dangling: no tag and no child (a digest-only image counts, as in docker)', async (t) => {
  t.same(ids(listImages(model, { danglingOnly: true })), [I.old, I.x].sort());
});

t.test('summary fields', async (t) => {
  const app = listImages(model).find((i) => i.id === I.app)!;
  t.same(app.repoTags, ['app:1', 'example.com/team/app:v1'], 'sorted by the fully qualified name');
  t.equal(app.size, 1230);
  t.equal(app.parent, I.i2);
  t.equal(app.containers, 1);
  t.equal(app.dangling, false);
  const old = listImages(model).find((i) => i.id === I.old)!;
  t.equal(old.size, 1204);
  t.equal(old.containers, 1);
  t.equal(old.dangling, true);
  const x = listImages(model).find((i) => i.id === I.x)!;
  t.same(x.repoDigests, [`tool@sha256:${'d'.repeat(64)}`]);
  t.same(x.repoTags, []);
  const list = listImages(model, { all: true });
  t.same(list.map((i) => i.created), [...list.map((i) => i.created)].sort().reverse(), 'newest first');
});

t.test('references resolve like docker', async (t) => {
  t.equal(resolveImageId(model, 'app:1'), I.app);
  t.equal(resolveImageId(model, 'docker.io/library/app:1'), I.app);
  t.equal(resolveImageId(model, 'example.com/team/app:v1'), I.app);
  t.equal(resolveImageId(model, 'base'), I.base, 'a bare name means :latest');
  t.equal(resolveImageId(model, I.p1), I.p1);
  t.equal(resolveImageId(model, I.p1.slice(7)), I.p1);
  t.equal(resolveImageId(model, I.p1.slice(0, 7 + 12)), I.p1, 'sha256: and a prefix');
  t.equal(resolveImageId(model, `tool@sha256:${'d'.repeat(64)}`), I.x);
  t.throws(() => resolveImageId(model, 'app'), /No such image: app:latest[\s\S]*app:1/, 'app:latest does not exist; the error names the tags of app');
  t.throws(() => resolveImageId(model, 'nothing:1'), /No such image: nothing:1/);
  // Two ids sharing a first hex digit exist among nine images with high probability; find one.
  const firsts = Object.values(I).map((id) => id[7]);
  const shared = firsts.find((c, i) => firsts.indexOf(c) !== i);
  if (shared) t.throws(() => resolveImageId(model, shared), /ambiguous image id prefix[\s\S]*candidates/);
  const ambiguousModel = { ...model, images: new Map([...model.images].map(([id, img]) => [id, img])) };
  ambiguousModel.images.set('sha256:' + I.app.slice(7, 20) + '0'.repeat(51), model.images.get(I.app)!);
  t.throws(() => resolveImageId(ambiguousModel, I.app.slice(7, 20)), /ambiguous image id prefix .*: 2 images match/);
});
