// docker images' filters over the model: Go's path.Match, the CLI's -f parsing, the daemon's validation
// and its selection rules (moby daemon/images/images.go 20.10), on the shared sample store.
import t from 'tap';
import { readStore } from '../../inspect/docker/read-store.js';
import {
  BadPatternError,
  createdNanos,
  familiarPattern,
  imageFilters,
  labelsMatch,
  noSuchImageMessage,
  parseFilterFlags,
  pathMatch,
  referenceMatches,
  restrictTree,
  selectImages,
  NO_FILTERS,
  type FilterArgs,
} from '../../inspect/image-filter.js';
import { listImages } from '../../inspect/images.js';
import type { StoreModel } from '../../inspect/model.js';
import { buildImageTree, type TreeNode } from '../../inspect/tree.js';
import { buildSampleStore } from '../helpers/sample-store.js';

const s = buildSampleStore(t.testdir());
const model = readStore({ root: s.root, driver: 'overlay2' });
const I = s.images;

const filtersOf = (...flags: string[]) => imageFilters(parseFilterFlags(flags));
const select = (flags: string[], all = false, m: StoreModel = model) => selectImages(m, filtersOf(...flags), { all });
const ids = (list: { id: string }[]) => list.map((i) => i.id).sort();
const tagsOf = (list: { repoTags: string[] }[]) => list.flatMap((i) => i.repoTags).sort();

t.test("Go's path.Match, case by case (Go's own table)", async (t) => {
  const cases: Array<[string, string, boolean | 'bad']> = [
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abc', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['a[^a][^a][^a]b', 'a☺b', false],
    ['[a-ζ]*', 'α', true],
    ['*[a-ζ]', 'A', false],
    ['a?b', 'a/b', false],
    ['a*b', 'a/b', false],
    ['[\\]a]', ']', true],
    ['[\\-]', '-', true],
    ['[x\\-]', 'x', true],
    ['[x\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[\\-x]', 'x', true],
    ['[\\-x]', '-', true],
    ['[\\-x]', 'a', false],
    ['[]a]', ']', 'bad'],
    ['[-]', '-', 'bad'],
    ['[x-]', 'x', 'bad'],
    ['[x-]', '-', 'bad'],
    ['[x-]', 'z', 'bad'],
    ['[-x]', 'x', 'bad'],
    ['[-x]', '-', 'bad'],
    ['[-x]', 'a', 'bad'],
    ['\\', 'a', 'bad'],
    ['[a-b-c]', 'a', 'bad'],
    ['[', 'a', 'bad'],
    ['[^', 'a', 'bad'],
    ['[^bc', 'a', 'bad'],
    ['a[', 'a', 'bad'],
    ['a[', 'ab', 'bad'],
    ['a[', 'x', 'bad'],
    ['a/b[', 'x', 'bad'],
    ['*x', 'xxx', true],
    ['x*y[', 'xzz', 'bad'],
  ];
  for (const [pattern, name, want] of cases) {
    if (want === 'bad') t.throws(() => pathMatch(pattern, name), BadPatternError, `${pattern} is malformed (against ${name})`);
    else t.equal(pathMatch(pattern, name), want, `${pattern} ${want ? 'matches' : 'does not match'} ${name}`);
  }
  t.throws(() => pathMatch('x[', 'y'), /^syntax error in pattern$/, "Go's words");
});

t.test('-f flags as the docker CLI reads them', async (t) => {
  const args = parseFilterFlags([' Dangling = true ', 'label=a=b=c', 'label=a=b=c', '', 'reference=x']);
  t.same([...args], [['dangling', ['true']], ['label', ['a=b=c']], ['reference', ['x']]], 'name lowercased, both sides trimmed, values once, empty flag ignored');
  t.throws(() => parseFilterFlags(['nofmt']), /^invalid argument "nofmt" for "-f, --filter" flag: bad format of filter \(expected name=value\)$/);
});

t.test("the daemon's validation, in its words", async (t) => {
  t.throws(() => filtersOf('foo=bar'), /^Invalid filter 'foo'$/);
  t.throws(() => filtersOf('dangling=maybe'), /^Invalid filter 'dangling=\[maybe\]'$/);
  t.throws(() => filtersOf('dangling=TRUE'), /^Invalid filter 'dangling=\[TRUE\]'$/, 'the value is case-sensitive');
  t.equal(filtersOf('dangling=true', 'dangling=maybe').danglingOnly, true, 'true among the values wins, as ExactMatch does');
  t.equal(filtersOf('dangling=false').noDangling, true);
  const f = filtersOf('before=a:1', 'before=b:1', 'label=k', 'label=k2=v');
  t.equal(f.before, 'b:1', 'of several before= values the last given counts (docker picks one of them)');
  t.same(f.labels, ['k', 'k2=v']);
  t.equal(f.references, null);
});

t.test('no filter lists what listImages lists', async (t) => {
  t.same(ids(selectImages(model, NO_FILTERS)), ids(listImages(model)));
  t.same(ids(selectImages(model, NO_FILTERS, { all: true })), ids(listImages(model, { all: true })));
  const list = selectImages(model, NO_FILTERS, { all: true });
  t.same(list.map((i) => i.created), [...list.map((i) => i.created)].sort().reverse(), 'newest first');
});

t.test('reference: globs against the familiar name and name:tag; only matching tags are kept', async (t) => {
  const app = select(['reference=app']);
  t.same(ids(app), [I.app]);
  t.same(app[0].repoTags, ['app:1'], "example.com/team/app:v1 is another repository: the image lists app's tags only");
  t.same(tagsOf(select(['reference=*:1'])), ['app:1', 'base:1']);
  t.same(tagsOf(select(['reference=example.com/*/*'])), ['example.com/team/app:v1']);
  t.same(tagsOf(select(['reference=*'])), ['app:1', 'base:1', 'base:latest', 'python:3', 'python:3-full', 'ruby:3'], "'*' never crosses a '/'");
  t.same(tagsOf(select(['reference=python:3*'])), ['python:3', 'python:3-full']);
  t.same(tagsOf(select(['reference=python:3', 'reference=ruby'])), ['python:3', 'ruby:3'], 'several patterns: any may match');
  t.same(select(['reference=tool']).map((i) => i.repoDigests), [[`tool@sha256:${'d'.repeat(64)}`]], 'a digest-only reference matches by its name');
  t.same(select(['reference=nothing']), []);
  t.same(select(['reference=app'], true).map((i) => i.id), [I.app], '-a with a reference filter: untagged images are left out');
  t.throws(() => select(['reference=app[']), /^syntax error in pattern$/);
});

t.test('names: docker.io/library/x is x; localhost/x is a repository of its own', async (t) => {
  t.equal(familiarPattern('docker.io/library/app:1'), 'app:1');
  t.equal(familiarPattern('index.docker.io/library/app'), 'app');
  t.equal(familiarPattern('library/app'), 'app');
  t.equal(familiarPattern('docker.io/team/app'), 'team/app');
  t.equal(familiarPattern('library/a/b'), null, 'library/a/b is a familiar name as it is');
  t.equal(familiarPattern('localhost/app'), null);
  t.equal(familiarPattern('example.com/app'), null);
  t.same(tagsOf(select(['reference=docker.io/library/app'])), ['app:1']);
  t.same(tagsOf(select(['reference=docker.io/library/base:latest'])), ['base:latest']);
  t.same(tagsOf(select(['reference=docker.io/library/*:1'])), ['app:1', 'base:1']);
  t.same(select(['reference=localhost/app']), []);
  t.ok(referenceMatches(['localhost/app'], 'localhost/app:1'));
  t.notOk(referenceMatches(['app'], 'localhost/app:1'));
  t.notOk(referenceMatches(['docker.io/library/app'], 'localhost/app:1'));
});

t.test('dangling', async (t) => {
  t.same(ids(select(['dangling=true'])), [I.old, I.x].sort(), 'untagged without children; a digest-only image counts, as in docker');
  t.same(ids(select(['dangling=true'], true)), [I.old, I.x].sort(), '-a adds no intermediate: they have children');
  t.same(ids(select(['dangling=false'])), [I.base, I.app, I.p1, I.p2, I.p3, I.x].sort(), 'dangling=false: every referenced image (digest-only too)');
  t.same(ids(select(['dangling=false'], true)), [I.base, I.app, I.p1, I.p2, I.p3, I.x].sort(), 'with -a too: no untagged image at all');
  t.same(ids(select(['dangling=true', 'reference=*'])), [I.x], 'dangling=true and a reference: <none> images are left out, digest-only ones match by name');
  t.same(ids(select(['dangling=true', 'reference=tool'])), [I.x]);
});

t.test('before and since: strictly older or newer, to the nanosecond', async (t) => {
  t.same(ids(select(['before=app:1'])), [I.base, I.old, I.p1, I.p2, I.p3, I.x].sort());
  t.same(ids(select(['since=base:1'])), [I.app, I.old].sort(), 'intermediates stay hidden without -a');
  t.same(ids(select(['since=base:1'], true)), [I.i1, I.i2, I.app, I.old].sort());
  t.same(ids(select(['since=python:3', 'before=base'])), [I.p2, I.p3].sort(), 'both bound the range');
  t.same(ids(select([`before=${I.p1.slice(7, 19)}`])), [I.x], 'an id prefix names the image');
  t.throws(() => select(['since=nothere']), /^No such image: nothere:latest$/);
  t.throws(() => select(['before=Nope']), /^invalid reference format: repository name must be lowercase$/);
  t.throws(() => select(['before=a b']), /^invalid reference format$/);
  t.equal(noSuchImageMessage('f'.repeat(64)), `No such image: sha256:${'f'.repeat(64)}`);
  t.equal(noSuchImageMessage(`x@sha256:${'a'.repeat(64)}`), `No such image: x@sha256:${'a'.repeat(64)}`);
  t.equal(createdNanos('2024-01-01T00:00:00.123456789Z')! - createdNanos('2024-01-01T00:00:00.123456788Z')!, 1n);
  t.equal(createdNanos('2024-01-01T01:00:00+01:00'), createdNanos('2024-01-01T00:00:00Z'));
  t.equal(createdNanos('yesterday'), null);
});

t.test('labels: every label=k and label=k=v must hold', async (t) => {
  t.ok(labelsMatch(['a'], { a: '1' }));
  t.ok(labelsMatch(['a=1', 'b'], { a: '1', b: '' }));
  t.notOk(labelsMatch(['a=2'], { a: '1' }));
  t.notOk(labelsMatch(['a', 'c'], { a: '1' }), 'all of them, not any');
  t.ok(labelsMatch(['e='], { e: '' }), 'k= asks for an empty value');
  t.notOk(labelsMatch(['e='], { e: 'x' }));
  t.notOk(labelsMatch(['toString'], {}), 'no inherited property counts as a label');
  t.ok(labelsMatch(['m=a b=c'], { m: 'a b=c' }), 'the value is everything after the first =');
  t.notOk(labelsMatch(['a'], null));

  // Labels on a copy of the model: app carries two, python:3 one; base has no Config at all.
  const labelled: StoreModel = { ...model, images: new Map(model.images) };
  const withConfig = (id: string, config: Record<string, unknown> | null) =>
    labelled.images.set(id, { ...model.images.get(id)!, config: { ...model.images.get(id)!.config, config } });
  withConfig(I.app, { Labels: { 'org.example.step': 'env', 'org.example.version': '1' } });
  withConfig(I.p1, { Labels: { 'org.example.version': '3' } });
  withConfig(I.base, null);
  t.same(ids(select(['label=org.example.version'], false, labelled)), [I.app, I.p1].sort());
  t.same(ids(select(['label=org.example.version=1'], false, labelled)), [I.app]);
  t.same(ids(select(['label=org.example.version', 'label=org.example.step'], false, labelled)), [I.app], 'two labels: both required');
  t.same(ids(select(['label=org.example.version=1', 'label=org.example.version=3'], false, labelled)), [], 'two values of one label cannot both hold');
  t.same(ids(select(['label=org.example.version', 'reference=python*'], false, labelled)), [I.p1], 'different keys: all must hold');
});

t.test('tree restricted to the selected images and the branches leading to them', async (t) => {
  const flat = (nodes: TreeNode[]): string[] => nodes.flatMap((n) => [n.kind === 'image' ? n.id : `layer:${n.chainId}`, ...flat(n.children)]);
  const tree = buildImageTree(model);
  const keep = new Set(select(['reference=app'], true).map((i) => i.id));
  const cut = restrictTree(tree, keep);
  const imagesIn = flat(cut).filter((id) => !id.startsWith('layer:'));
  t.same(imagesIn.sort(), [I.base, I.i1, I.i2, I.app].sort(), 'app and its ancestors');
  t.same(restrictTree(tree, new Set()), []);
  t.same(flat(restrictTree(tree, new Set(Object.values(I)))).sort(), flat(tree).sort(), 'everything kept when everything is selected');
});

t.test('a store whose tags cannot be read has no known dangling image', async (t) => {
  const blind: StoreModel = {
    ...model,
    unreadable: { ...model.unreadable, parts: [{ part: 'references', file: 'repositories.json', reason: 'permission denied' }] },
  };
  t.same(select(['dangling=true'], false, blind), []);
  const args: FilterArgs = new Map();
  t.same(ids(selectImages(blind, imageFilters(args))), ids(listImages(blind)));
});
