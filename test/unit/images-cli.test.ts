// strata images as docker images prints it: REPO[:TAG], filters, -q, --digests, --no-trunc, --format with
// docker's image fields, the choice of template, --tree's conflicts and its restriction, --json.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import t from 'tap';
import { dockerImageRows, IMAGE_HEADERS, imagesTemplate, renderImages } from '../../cli/commands/images.js';
import { renderFormat } from '../../cli/docker-format.js';
import { listImages } from '../../inspect/images.js';
import { readStore } from '../../inspect/docker/read-store.js';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore } from '../helpers/sample-store.js';

const s = buildSampleStore(t.testdir());
const I = s.images;
const L = s.layers;

// A labelled image written as dockerd writes one, on top of python:3's layers.
const labelledConfig = JSON.stringify({
  architecture: 'amd64',
  os: 'linux',
  created: '2024-02-01T00:00:00.5Z',
  config: { Cmd: ['sh'], Labels: { 'org.example.team': 'storage', 'org.example.tier': 'gold', 'org.example.empty': '' } },
  rootfs: { type: 'layers', diff_ids: [L.M1.diffId, L.L5.diffId] },
  history: [{ created_by: 'a' }, { created_by: 'b' }],
});
const labelledHex = createHash('sha256').update(labelledConfig).digest('hex');
writeFileSync(join(s.builder.meta, 'imagedb', 'content', 'sha256', labelledHex), labelledConfig);
s.builder.tag('labelled:1', `sha256:${labelledHex}`);
const labelled = `sha256:${labelledHex}`;

const strata = (...args: string[]) => runCli(['--root', s.root, 'images', ...args]);
const short = (id: string) => id.slice(7, 19);
const lines = (text: string) => text.split('\n').filter(Boolean);

t.test('the default table: one row per tag, <none> rows, newest first', async (t) => {
  const r = strata();
  t.equal(r.status, 0);
  t.equal(r.stderr, '');
  const rows = lines(r.stdout);
  t.match(rows[0], /^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$/);
  const cells = rows.slice(1).map((l) => l.split(/ {2,}/));
  t.same(
    cells.map((c) => `${c[0]}:${c[1]} ${c[2]}`),
    [
      `labelled:1 ${short(labelled)}`,
      `app:1 ${short(I.app)}`,
      `example.com/team/app:1 ${short(I.app)}`.replace('app:1', 'app:v1'),
      `<none>:<none> ${short(I.old)}`,
      `base:1 ${short(I.base)}`,
      `base:latest ${short(I.base)}`,
      `ruby:3 ${short(I.p3)}`,
      `python:3-full ${short(I.p2)}`,
      `python:3 ${short(I.p1)}`,
      `tool:<none> ${short(I.x)}`,
    ],
  );
  t.match(cells[1][3], / ago$/);
  t.equal(cells[1][4], '1.23kB');
});

t.test('REPO[:TAG] as docker matches it, docker.io/library/ spelled or not', async (t) => {
  const tags = (...args: string[]) => lines(strata('--format', '{{.Repository}}:{{.Tag}}', ...args).stdout);
  t.same(tags('app'), ['app:1'], 'app is not example.com/team/app');
  t.same(tags('app:1'), ['app:1']);
  t.same(tags('docker.io/library/app:1'), ['app:1']);
  t.same(tags('example.com/team/app'), ['example.com/team/app:v1']);
  t.same(tags('localhost/app'), []);
  t.same(tags('python:3*'), ['python:3-full', 'python:3']);
  t.same(tags('base', '-f', 'reference=ruby'), ['base:1', 'base:latest', 'ruby:3'], 'the argument is one more reference filter');
  const none = strata('nothing');
  t.equal(none.stdout, 'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n', 'no match: the header alone');
  t.equal(strata('a', 'b').status, 2, 'one REPOSITORY at most');
});

t.test('filters on the command line', async (t) => {
  const ids = (...args: string[]) => [...new Set(lines(strata('-q', '--no-trunc', ...args).stdout))].sort();
  t.same(ids('-f', 'dangling=true'), [I.old, I.x].sort());
  t.same(ids('-f', 'label=org.example.team'), [labelled]);
  t.same(ids('-f', 'label=org.example.tier=gold', '-f', 'label=org.example.empty='), [labelled]);
  t.same(ids('-f', 'label=org.example.tier=silver'), []);
  t.same(ids('-f', 'before=base:1', '-f', 'since=python:3'), [I.p2, I.p3].sort());
  t.same(ids('--filter', 'reference=*:1', '-a'), [I.app, I.base, labelled].sort());
  const bad = strata('-f', 'foo=bar');
  t.same([bad.status, bad.stdout, bad.stderr], [1, '', "strata: error: Invalid filter 'foo'\n"]);
  const dangling = strata('-f', 'dangling=yes');
  t.same([dangling.status, dangling.stderr], [1, "strata: error: Invalid filter 'dangling=[yes]'\n"]);
  const missing = strata('-f', 'since=nothere');
  t.same([missing.status, missing.stderr], [1, 'strata: error: No such image: nothere:latest\n']);
  const glob = strata('app[');
  t.same([glob.status, glob.stderr], [1, 'strata: error: syntax error in pattern\n']);
  const format = strata('-f', 'nofmt');
  t.equal(format.status, 2, 'a filter without = is a usage error');
  t.match(format.stderr, /^strata: error: invalid argument "nofmt" for "-f, --filter" flag: bad format of filter \(expected name=value\)\n/);
});

t.test('-q, --no-trunc, --digests', async (t) => {
  const q = lines(strata('-q').stdout);
  t.equal(q.filter((id) => id === short(I.base)).length, 2, '-q prints a line per row, as docker does: base has two tags');
  t.ok(q.every((id) => /^[0-9a-f]{12}$/.test(id)));
  t.ok(lines(strata('-q', '--no-trunc').stdout).every((id) => /^sha256:[0-9a-f]{64}$/.test(id)));
  const wide = lines(strata('--no-trunc', 'app').stdout);
  t.match(wide[1], new RegExp(`^app +1 +${I.app} `));
  const d = lines(strata('--digests').stdout);
  t.match(d[0], /^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE$/);
  t.ok(d.some((l) => new RegExp(`^tool +<none> +sha256:${'d'.repeat(64)} +${short(I.x)} `).test(l)), 'a digest-only reference: its digest');
  t.ok(d.some((l) => /^app +1 +<none> +/.test(l)), 'a tag without a digest: <none>');
  t.ok(d.some((l) => /^<none> +<none> +<none> +/.test(l)), 'a dangling image: <none> thrice');
});

t.test('--format: the image fields, as docker prints them', async (t) => {
  const json = lines(strata('--format', '{{json .}}', '-a').stdout).map((l) => JSON.parse(l));
  const old = json.find((o) => o.ID === short(I.old));
  t.same(Object.keys(old), ['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']);
  t.match(old, {
    Containers: 'N/A',
    CreatedAt: /^2024-01-0[23] \d\d:00:00 [+-]\d{4} \w+$/,
    CreatedSince: /ago$/,
    Digest: '<none>',
    Repository: '<none>',
    SharedSize: 'N/A',
    Size: '1.2kB',
    Tag: '<none>',
    UniqueSize: 'N/A',
    VirtualSize: '1.204kB',
  });
  t.ok(lines(strata('--format', '{{json .}}').stdout)[0].includes('"Digest":"\\u003cnone\\u003e"'), "Go's JSON escaping");
  const digest = lines(strata('--format', '{{.Repository}} {{.Digest}}').stdout);
  t.ok(digest.includes('tool '), 'a digest-only row without --digests has an empty Digest');
  t.ok(digest.includes('app <none>'));
  t.same(lines(strata('-f', 'reference=tool', '--format', '{{.Repository}} {{.Digest}}', '--digests').stdout), [`tool sha256:${'d'.repeat(64)}`]);
  const table = strata('--format', 'table {{.Repository}}\t{{.VirtualSize}}', 'python');
  t.equal(table.stdout, 'REPOSITORY   SIZE\npython       5.67kB\npython       5.6kB\n');
  t.match(lines(strata('--format', 'table {{.Repository}}', '--digests', 'app').stdout)[0], /^REPOSITORY +DIGEST$/, 'a table format gets DIGEST with --digests');
  t.same(lines(strata('-q', '--format', '{{.Repository}}', 'app').stdout), ['app'], '--format wins over -q');
  t.same(lines(strata('-q', '--format', 'table', 'app').stdout), [short(I.app)], '-q with --format table: ids');
  t.equal(
    strata('--format', 'raw', 'ruby').stdout,
    `repository: ruby\ntag: 3\nimage_id: ${short(I.p3)}\ncreated_at: ${lines(strata('--format', '{{.CreatedAt}}', 'ruby').stdout)[0]}\nvirtual_size: 5.01kB\n\n`,
  );
  const unknown = strata('--format', '{{.Nope}}');
  t.equal(unknown.status, 1);
  t.match(unknown.stderr, /^strata: error: template parsing error: template: .*can't evaluate field Nope in type \*formatter\.imageContext\n$/);
});

t.test('the choice of template, as docker/cli makes it', async (t) => {
  t.match(imagesTemplate(undefined, false, false), /^table \{\{\.Repository\}\}\t\{\{\.Tag\}\}\t\{\{\.ID\}\}/);
  t.equal(imagesTemplate(undefined, true, true), '{{.ID}}');
  t.match(imagesTemplate('table', false, true), /\{\{\.Digest\}\}\t\{\{\.ID\}\}/);
  t.equal(imagesTemplate('table {{.ID}}', false, true), 'table {{.ID}}\t{{.Digest}}');
  t.equal(imagesTemplate('table {{.Digest}}', false, true), 'table {{.Digest}}');
  t.equal(imagesTemplate('{{.ID}}', true, true), '{{.ID}}');
  t.equal(imagesTemplate('raw', true, false), 'image_id: {{.ID}}');
});

t.test('rows: tags grouped by repository, digests per tag when shown', async (t) => {
  const img = {
    ...listImages(readStore({ root: s.root, driver: 'overlay2' })).find((i) => i.id === I.app)!,
    repoTags: ['app:1', 'app:2', 'example.com/x:v1'],
    repoDigests: [`app@sha256:${'a'.repeat(64)}`, `other@sha256:${'b'.repeat(64)}`],
  };
  const rows = (digests: boolean, template = '{{.ID}}') =>
    dockerImageRows([img], { noTrunc: false, digests, template, now: Date.now() }).map((r) => `${r.Repository} ${r.Tag} ${r.Digest}`);
  t.same(rows(false), ['app 1 <none>', 'app 2 <none>', 'example.com/x v1 <none>', 'other <none> ']);
  t.same(rows(true), [`app 1 sha256:${'a'.repeat(64)}`, `app 2 sha256:${'a'.repeat(64)}`, 'example.com/x v1 <none>', `other <none> sha256:${'b'.repeat(64)}`]);
  t.same(rows(false, '{{.Digest}}'), [`app 1 sha256:${'a'.repeat(64)}`, `app 2 sha256:${'a'.repeat(64)}`, 'example.com/x v1 <none>', 'other <none> '], 'a template showing digests gives tagged rows theirs');
});

t.test("docker's default templates printed without the engine: the engine's very text", async (t) => {
  const list = listImages(readStore({ root: s.root, driver: 'overlay2' }), { all: true });
  for (const [quiet, digests, noTrunc] of [[false, false, false], [false, true, false], [true, false, false], [false, true, true], [true, false, true]]) {
    const template = imagesTemplate(undefined, quiet, digests);
    const rows = dockerImageRows(list, { noTrunc, digests, template, now: Date.now() });
    t.equal(renderImages(template, rows), renderFormat(template, rows, IMAGE_HEADERS, { typeName: '*formatter.imageContext' }), template);
  }
});

t.test('--tree keeps its own format: what it cannot honour is refused', async (t) => {
  for (const flags of [['--format', '{{.ID}}'], ['-q'], ['--digests']]) {
    for (const tree of ['--tree', '--dot']) {
      const r = strata(tree, ...flags);
      t.equal(r.status, 2, `${tree} ${flags.join(' ')}: a usage error`);
      t.equal(r.stdout, '');
      const flag = flags[0] === '-q' ? 'quiet' : flags[0].slice(2);
      t.match(r.stderr, new RegExp(`^strata: error: Arguments ${tree.slice(2)} and ${flag} are mutually exclusive\n`), 'names both flags');
    }
  }
  const json = strata('--json', '--format', '{{.ID}}');
  t.equal(json.status, 2, '--json and --format are two shapes: refused');
});

t.test('--tree with REPO or filters keeps the branches leading to the images they select', async (t) => {
  const all = strata('--tree').stdout;
  const app = strata('--tree', 'app');
  t.equal(app.status, 0);
  t.match(app.stdout, new RegExp(short(I.app)));
  t.match(app.stdout, new RegExp(short(I.base)), 'the ancestors stay');
  t.notMatch(app.stdout, new RegExp(short(I.p1)), 'python is another branch');
  t.notMatch(app.stdout, new RegExp(short(I.old)));
  t.ok(all.includes(short(I.p1)));
  const dot = strata('--tree', '--dot', '-f', 'reference=ruby');
  t.match(dot.stdout, new RegExp(short(I.p3)));
  t.notMatch(dot.stdout, new RegExp(short(I.app)));
  const json = JSON.parse(strata('--tree', '--json', '-f', 'dangling=true').stdout);
  const idsIn = (nodes: any[]): string[] => nodes.flatMap((n) => [...(n.kind === 'image' ? [n.id] : []), ...idsIn(n.children)]);
  t.ok(idsIn(json).includes(I.old) && idsIn(json).includes(I.x) && !idsIn(json).includes(I.p3), '--tree --json restricted too');
});

t.test('--json: strata shape, filtered', async (t) => {
  const r = strata('--json', '-f', 'reference=app*');
  t.equal(r.status, 0);
  const list = JSON.parse(r.stdout);
  t.same(list.map((i: any) => i.id), [I.app]);
  t.same(list[0].repoTags, ['app:1'], 'the references the filter kept');
  t.match(list[0], { size: 1230, containers: 1, dangling: false, parent: I.i2 });
  t.same(JSON.parse(strata('--json').stdout).map((i: any) => i.id).sort(), [...listImages(readStore({ root: s.root, driver: 'overlay2' })).map((i) => i.id)].sort());
});

t.test('--help shows the flags and examples', async (t) => {
  const r = strata('--help');
  for (const flag of ['--filter', '--format', '--digests', '--no-trunc', '--quiet', '--all', '--tree']) t.match(r.stdout, flag);
  t.ok((r.stdout.match(/strata images/g) ?? []).length >= 3, 'examples');
});
