// strata inspect as a user runs it on a synthetic store: Docker's JSON array by default and with --json,
// --format one line per object, refs that name nothing reported as docker reports them (after the objects
// found, exit 1), template errors in docker's words, --pretty, and a recorded running state on a root no
// daemon runs on.
import t from 'tap';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore } from '../helpers/sample-store.js';

const s = buildSampleStore(t.testdir());
const strata = (...args: string[]) => runCli(['--root', s.root, 'inspect', ...args]);

t.test("Docker's JSON array, by default and with --json", async (t) => {
  const r = strata('app:1', 'web');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^\[\n    \{\n        "Id": "sha256:/, "docker's indentation: four spaces");
  t.ok(r.stdout.endsWith('\n    }\n]\n'));
  const [image, container] = JSON.parse(r.stdout);
  t.equal(image.Id, s.images.app);
  t.same(image.RepoTags, ['app:1', 'example.com/team/app:v1']);
  t.equal(container.Id, s.containers.c1);
  t.equal(container.Name, '/web');
  t.equal(strata('app:1', 'web', '--json').stdout, r.stdout, '--json prints the same bytes');
});

t.test('refs that name nothing: the others still print, then docker\'s line, exit 1', async (t) => {
  const r = strata('nope', 'base:1', 'idle');
  t.equal(r.status, 1);
  t.same(JSON.parse(r.stdout).map((o: { Id: string }) => o.Id), [s.images.base, s.containers.c3]);
  t.equal(r.stderr.trim().split('\n').at(-1), 'Error: No such object: nope');
  const none = strata('nope');
  t.equal(none.stdout, '[]\n');
  t.equal(strata('--type', 'container', 'base:1').stderr.trim().split('\n').at(-1), 'Error: No such container: base:1');
  t.equal(strata('--type', 'image', 'web').stderr.trim().split('\n').at(-1), 'Error: No such image: web');
  const bad = strata('--type', 'bogus', 'x');
  t.equal(bad.status, 1);
  t.match(bad.stderr, /"bogus" is not a valid value for --type/);
});

t.test('--format: one line per object, over docker\'s object', async (t) => {
  const r = strata('-f', '{{.Id}} {{json .Config.Cmd}} {{range .RootFS.Layers}}{{.}},{{end}}', 'base:1', 'app:1');
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, `${s.images.base} ["sh"] ${s.layers.L1.diffId},\n${s.images.app} ["sh"] ${s.layers.L1.diffId},${s.layers.L2.diffId},${s.layers.L3.diffId},\n`);
  t.equal(strata('--format', '{{.State.Status}} {{.Name}}', 'web', 'old-job').stdout, 'running /web\nexited /old-job\n');
  t.equal(strata('-f', '{{.Id}}', 'nope').stdout, '\n', 'nothing found: an empty line, as docker prints');
});

t.test('template errors in docker\'s words', async (t) => {
  const parse = strata('-f', '{{.Id', 'base:1');
  t.equal(parse.status, 2, 'a template that does not parse is a usage error, as in every command');
  t.equal(parse.stdout, '');
  t.equal(parse.stderr, 'strata: error: template parsing error: template: :1: unclosed action\n');
  const exec = strata('-f', '{{.Metadata.LastTagTime}}', 'web', 'base:1');
  t.equal(exec.status, 1);
  t.equal(exec.stdout, '0001-01-01 00:00:00 +0000 UTC\n', "the image still prints (a time as Go's Time.String())");
  t.equal(exec.stderr.trim().split('\n').at(-1), 'strata: error: template parsing error: template: :1:11: executing "" at <.Metadata.LastTagTime>: map has no entry for key "Metadata"', "docker's words: the retry over the raw JSON fails too");
});

t.test('--pretty: the readable views', async (t) => {
  const r = strata('--pretty', 'app:1', 'web');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^ID: +sha256:/);
  t.match(r.stdout, /Layers:\n +1\. sha256:/);
  t.match(r.stdout, /Children: +<none>/);
  t.match(r.stdout, /\nName: +web\n/);
  t.match(r.stdout, /State: +running/);
  const both = strata('--pretty', '--format', '{{.Id}}', 'app:1');
  t.not(both.status, 0, '--pretty and --format exclude each other');
  t.match(both.stderr, /mutually exclusive|conflict/i);
});

t.test('a container recorded as running on a root no dockerd runs on', async (t) => {
  const r = strata('web');
  t.equal(JSON.parse(r.stdout)[0].State.Running, true, 'printed as recorded, as docker would print it');
  t.match(r.stderr, /container web is recorded as running, but no dockerd is running on /);
  t.notMatch(strata('old-job').stderr, /recorded as/, 'an exited one needs no warning');
});

t.test('--size', async (t) => {
  const r = strata('-s', '-f', '{{.SizeRw}} {{.SizeRootFs}}', 'web');
  t.equal(r.stdout, `10 ${10 + 1000 + 200 + 30}\n`);
  t.match(strata('-s', 'base:1').stderr, /^WARNING: --size ignored for image$/m);
});

t.test('--help shows the flags and examples', async (t) => {
  const r = runCli(['inspect', '--help']);
  for (const flag of ['--type', '--format', '--size', '--pretty', '--json']) t.match(r.stdout, flag);
  t.ok((r.stdout.match(/strata inspect /g) ?? []).length >= 3, 'examples');
});
