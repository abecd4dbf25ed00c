import t from 'tap';
import { humanSizeSpaced } from '../../cli/format.js';
import { readStore } from '../../inspect/read-store.js';
import { buildImageTree, renderTreeDot, renderTreeText } from '../../inspect/tree.js';
import { buildSampleStore } from '../helpers/sample-store.js';

const s = buildSampleStore(t.testdir());
const model = readStore({ root: s.root, driver: 'overlay2' });
const short = (id: string) => id.slice(7, 19);
const I = s.images;

t.test('recorded parents nest; pulled images hang under the deepest shared layer', async (t) => {
  const expected = [
    `├─${short(I.x)} Virtual Size: 9 B`,
    `├─[layer ${short(s.layers.M1.chainId)}] Virtual Size: 5 kB Shared by: 3 images`,
    `│ ├─${short(I.p1)} Virtual Size: 5.6 kB Tags: python:3`,
    `│ │ └─${short(I.p2)} Virtual Size: 5.67 kB Tags: python:3-full`,
    `│ └─${short(I.p3)} Virtual Size: 5.008 kB Tags: ruby:3`,
    `└─${short(I.base)} Virtual Size: 1 kB Tags: base:1, base:latest`,
    `  └─${short(I.i1)} Virtual Size: 1.2 kB`,
    `    └─${short(I.i2)} Virtual Size: 1.2 kB`,
    `      ├─${short(I.old)} Virtual Size: 1.204 kB`,
    `      └─${short(I.app)} Virtual Size: 1.23 kB Tags: app:1, example.com/team/app:v1`,
  ];
  t.equal(renderTreeText(buildImageTree(model), { humanSize: humanSizeSpaced }), expected.map((l) => l + '\n').join(''));
});

t.test('every image appears exactly once', async (t) => {
  const seen: string[] = [];
  const walk = (nodes: ReturnType<typeof buildImageTree>) =>
    nodes.forEach((n) => {
      if (n.kind === 'image') seen.push(n.id);
      walk(n.children);
    });
  walk(buildImageTree(model));
  t.same(seen.sort(), Object.values(I).sort());
});

t.test('an image that is the only one at a shared layer stands for that layer', async (t) => {
  const tree = buildImageTree(model);
  const layerNode = tree.find((n) => n.kind === 'layer')!;
  t.equal(layerNode.kind === 'layer' && layerNode.images, 3);
  const p1 = layerNode.children.find((n) => n.kind === 'image' && n.id === I.p1)!;
  t.same(p1.children.map((n) => (n.kind === 'image' ? n.id : n.chainId)), [I.p2], 'python:3-full extends python:3 and hangs under it');
});

t.test('--dot draws the same edges', async (t) => {
  const dot = renderTreeDot(buildImageTree(model), { humanSize: humanSizeSpaced });
  t.match(dot, /^digraph strata \{/);
  t.match(dot, new RegExp(`"${short(I.i2)}" -> "${short(I.app)}";`));
  t.match(dot, new RegExp(`"layer ${short(s.layers.M1.chainId)}" -> "${short(I.p3)}";`));
  t.notMatch(dot, new RegExp(`-> "${short(I.base)}"`), 'base is a root');
  t.equal((dot.match(/->/g) ?? []).length, 7, 'nine images and one layer node, three roots');
});
