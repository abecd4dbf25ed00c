import { rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { humanSizeSpaced } from '../../cli/format.js';
import { readStore } from '../../inspect/docker/read-store.js';
import { buildImageTree, renderTreeDot, renderTreeText, type TreeNode } from '../../inspect/tree.js';
import { runCli } from '../helpers/run-cli.js';
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

t.test('an image whose recorded parent is missing from imagedb stays, with everything below it', async (t) => {
  const s = buildSampleStore(t.testdir());
  const I = s.images;
  const meta = join(s.root, 'image', 'overlay2', 'imagedb');
  rmSync(join(meta, 'content', 'sha256', I.i1.slice(7)));
  const parentFile = join(meta, 'metadata', 'sha256', I.i2.slice(7), 'parent');

  const text = runCli(['--root', s.root, 'images', '--tree']);
  t.equal(text.status, 0);
  // i2 no longer hangs under i1: it hangs under the deepest layer it shares (base's only layer), with its children.
  const expected = [
    `├─${short(I.x)} Virtual Size: 9 B`,
    `├─[layer ${short(s.layers.M1.chainId)}] Virtual Size: 5 kB Shared by: 3 images`,
    `│ ├─${short(I.p1)} Virtual Size: 5.6 kB Tags: python:3`,
    `│ │ └─${short(I.p2)} Virtual Size: 5.67 kB Tags: python:3-full`,
    `│ └─${short(I.p3)} Virtual Size: 5.008 kB Tags: ruby:3`,
    `└─${short(I.base)} Virtual Size: 1 kB Tags: base:1, base:latest`,
    `  └─${short(I.i2)} Virtual Size: 1.2 kB`,
    `    ├─${short(I.old)} Virtual Size: 1.204 kB`,
    `    └─${short(I.app)} Virtual Size: 1.23 kB Tags: app:1, example.com/team/app:v1`,
  ];
  t.equal(text.stdout, expected.map((l) => l + '\n').join(''));
  t.equal(text.stderr, `strata: warning: ${parentFile}: parent image ${I.i1} is missing from imagedb\n`, 'the warning names the parent file');

  const json = runCli(['--root', s.root, 'images', '--tree', '--json']);
  t.equal(json.status, 0);
  const find = (nodes: TreeNode[], id: string): TreeNode | undefined => {
    for (const n of nodes) {
      if (n.kind === 'image' && n.id === id) return n;
      const below = find(n.children, id);
      if (below) return below;
    }
    return undefined;
  };
  const tree = JSON.parse(json.stdout) as TreeNode[];
  const i2 = find(tree, I.i2);
  t.ok(i2, 'the image with the missing parent is in the tree');
  t.same(i2!.children.map((n) => (n.kind === 'image' ? n.id : n.chainId)), [I.old, I.app], 'with its children below it');
  t.same(find(tree, I.base)!.children.map((n) => (n.kind === 'image' ? n.id : n.chainId)), [I.i2]);
  t.match(json.stderr, `${parentFile}: parent image ${I.i1} is missing from imagedb`);
});
