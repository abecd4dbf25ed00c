// strata df --prometheus: the text exposition format (HELP, TYPE, escaping, one family and one series
// each), the figures equal df's own, promtool accepts the output (when /usr/bin/promtool is there: CI
// installs Debian's prometheus), and -o writes as every strata output does: a regular file replaced by
// renaming a complete temporary file (never left behind), a device written through, never replaced.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDriver } from '../../drivers/index.js';
import { dfAudit, RECLAIM_KINDS } from '../../inspect/df-audit.js';
import { diskUsage } from '../../inspect/df.js';
import { readStore } from '../../inspect/docker/read-store.js';
import { dfMetrics, escapeHelp, escapeLabelValue, exposition, type MetricFamily } from '../../inspect/prometheus.js';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore } from '../helpers/sample-store.js';

const PROMTOOL = '/usr/bin/promtool';

/** promtool check metrics on `text`: its exit code and what it said (nothing when all is well). */
function promtool(text: string): { status: number | null; said: string } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, said: `${r.stdout}${r.stderr}`.trim() };
}

/** Samples of the exposition text: "name{labels}" → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

t.test('the text format: HELP and TYPE before each family, labels quoted and escaped', async (t) => {
  t.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  t.equal(escapeHelp('back\\slash "quoted"\nnext'), 'back\\\\slash "quoted"\\nnext', 'HELP escapes backslash and line feed only');
  const families: MetricFamily[] = [
    { name: 'x_bytes', help: 'Some bytes.', type: 'gauge', samples: [{ labels: {}, value: 3 }] },
    { name: 'y_bytes', help: 'Two\nlines.', type: 'gauge', samples: [{ labels: { id: 'a', tag: 'q"\\\n' }, value: 1.5 }, { labels: { id: 'b', tag: '<none>' }, value: 0 }] },
    { name: 'z', help: 'None yet.', type: 'gauge', samples: [] },
  ];
  t.equal(
    exposition(families),
    [
      '# HELP x_bytes Some bytes.',
      '# TYPE x_bytes gauge',
      'x_bytes 3',
      '# HELP y_bytes Two\\nlines.',
      '# TYPE y_bytes gauge',
      'y_bytes{id="a",tag="q\\"\\\\\\n"} 1.5',
      'y_bytes{id="b",tag="<none>"} 0',
      '# HELP z None yet.',
      '# TYPE z gauge',
      '',
    ].join('\n'),
  );
  t.throws(() => exposition([families[0], families[0]]), /x_bytes twice/, 'a family once');
  t.throws(() => exposition([{ ...families[1], samples: [families[1].samples[0], families[1].samples[0]] }]), /twice/, 'a series once');
  t.throws(() => exposition([{ ...families[0], name: 'bad-name' }]), /invalid metric name/);
  // One label set shared by several families (an image's id and tags), written once per family each.
  const shared = { id: 'sha256:1', tag: 'a:b' };
  t.equal(
    exposition([
      { name: 'p', help: 'P.', type: 'gauge', samples: [{ labels: shared, value: 1 }] },
      { name: 'q', help: 'Q.', type: 'gauge', samples: [{ labels: shared, value: 2 }, { labels: { id: 'sha256:2', tag: 'a:b' }, value: 3 }] },
    ]),
    '# HELP p P.\n# TYPE p gauge\np{id="sha256:1",tag="a:b"} 1\n# HELP q Q.\n# TYPE q gauge\nq{id="sha256:1",tag="a:b"} 2\nq{id="sha256:2",tag="a:b"} 3\n',
  );
  t.throws(() => exposition([{ name: 'p', help: 'P.', type: 'gauge', samples: [{ labels: shared, value: 1 }, { labels: { ...shared }, value: 2 }] }]), /series p\{id="sha256:1",tag="a:b"\} twice/, 'the same labels in another object: still one series');
  t.throws(() => exposition([{ name: 'p', help: 'P.', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }]), /invalid label name bad-label in p/);
  if (existsSync(PROMTOOL)) t.same(promtool(exposition(families)), { status: 0, said: '' }, 'promtool accepts the escapes');
});

t.test("df's figures as metrics: the same numbers, every family once, one series per image and container", async (t) => {
  const s = buildSampleStore(t.testdir());
  const model = readStore({ root: s.root, driver: 'overlay2', layerFields: 'usage' });
  const warnings = [...model.warnings];
  const report = await diskUsage(model, openDriver('overlay2', s.root), warnings);
  const plan = { items: [{ kind: 'orphan-directory', path: s.orphanDir, id: 'f'.repeat(64), bytes: 4150 }, { kind: 'unused-layer', path: '/x', id: 'z', bytes: 77 }], tooRecent: [{ kind: 'write-set', bytes: 5 }], unknown: [], protected: [] };
  const families = dfMetrics({ report, audit: dfAudit(report, model, plan), errors: 2, now: 1_700_000_000_123, durationMs: 456 });
  const names = families.map((f) => f.name);
  t.same(names, [...new Set(names)], 'no family twice');
  t.ok(names.every((n) => /^strata_[a-z_]+$/.test(n)), 'all strata_');
  const m = samples(exposition(families));
  t.equal(m.get('strata_layers_size_bytes'), 6921, "docker's LayersSize");
  t.equal(m.get('strata_scrape_errors'), 2);
  t.equal(m.get('strata_scrape_timestamp_seconds'), 1_700_000_000.123);
  t.equal(m.get('strata_scrape_duration_seconds'), 0.456);
  t.equal(m.get('strata_images'), 7);
  const app = `id="${s.images.app}",tag="app:1",tags="app:1,example.com/team/app:v1"`;
  t.same([m.get(`strata_image_size_bytes{${app}}`), m.get(`strata_image_shared_size_bytes{${app}}`), m.get(`strata_image_unique_size_bytes{${app}}`), m.get(`strata_image_containers{${app}}`)], [1230, 1200, 30, 1]);
  const untagged = `id="${s.images.old}",tag="<none>",tags=""`;
  t.equal(m.get(`strata_image_size_bytes{${untagged}}`), 1204, 'an untagged image: tag <none>');
  t.equal([...m.keys()].filter((k) => k.startsWith('strata_image_size_bytes{')).length, 7, 'one series per image');
  const web = report.containers.find((c) => c.name === 'web')!;
  t.equal(m.get(`strata_container_rw_bytes{id="${web.id}",name="web",image="app:1",state="running"}`), 10);
  t.equal([...m.keys()].filter((k) => k.startsWith('strata_container_rw_bytes{')).length, 3);
  t.same(RECLAIM_KINDS.map((k) => m.get(`strata_reclaimable_bytes{kind="${k}"}`)), [0, 77, 4150, 0, 0, 0], 'reclaimable bytes, every kind');
  t.equal(m.get('strata_reclaimable_too_recent_bytes'), 5);
  t.equal(m.get('strata_orphan_directories'), 1);
  t.equal(m.get('strata_leaked_layers_bytes'), 77);
  t.equal(m.get(`strata_data_root_bytes{root="${s.root}"}`), report.dataRoot.apparentBytes);
  if (existsSync(PROMTOOL)) t.same(promtool(exposition(families)), { status: 0, said: '' }, 'promtool check metrics: no problem');
});

t.test('strata df --prometheus: promtool passes, labels escaped, -o replaces a regular file atomically', async (t) => {
  // A data-root whose path needs escaping in a label value.
  const base = t.testdir();
  const dir = join(base, 'odd "quoted" \\ root');
  const s = buildSampleStore(dir);
  const r = runCli(['--root', s.root, 'df', '--prometheus']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^# HELP strata_scrape_timestamp_seconds .*\n# TYPE strata_scrape_timestamp_seconds gauge\n/);
  t.ok(r.stdout.includes(`strata_data_root_bytes{root="${s.root.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"} `), 'the root label escaped');
  for (const line of r.stdout.split('\n')) if (line.startsWith('# TYPE ')) t.match(line, / gauge$/);
  const helps = r.stdout.split('\n').filter((l) => l.startsWith('# HELP ')).map((l) => l.split(' ')[2]);
  const types = r.stdout.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
  t.same(helps, types, 'HELP and TYPE for every family');
  t.same(helps, [...new Set(helps)], 'each family once');
  const sampleLines = r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  t.ok(sampleLines.every((l) => l.replace(/\{.*\}/, '').split(' ').length === 2), 'no sample carries a timestamp (the textfile collector refuses them)');
  if (existsSync(PROMTOOL)) t.same(promtool(r.stdout), { status: 0, said: '' }, 'promtool check metrics');
  else t.comment('no promtool here: skipped its check');

  const out = join(base, 'textfile');
  mkdirSync(out);
  const file = join(out, 'strata.prom');
  const o = runCli(['--root', s.root, 'df', '--prometheus', '-o', file]);
  t.equal(o.status, 0, o.stderr);
  t.equal(o.stdout, '', 'nothing on stdout with -o');
  const masked = (x: string) => x.replace(/^(strata_scrape_(?:timestamp|duration)_seconds) .*$/gm, '$1 X');
  t.equal(masked(readFileSync(file, 'utf8')), masked(r.stdout), 'the same text in the file');
  t.same(readdirSync(out), ['strata.prom'], 'no temporary file left');
  chmodSync(file, 0o640);
  const inode = lstatSync(file).ino;
  t.equal(runCli(['--root', s.root, 'df', '--prometheus', '-o', file]).status, 0);
  t.not(lstatSync(file).ino, inode, 'replaced by a rename, never rewritten in place');
  t.equal(lstatSync(file).mode & 0o777, 0o640, 'the mode of the file it replaces');
  t.same(readdirSync(out), ['strata.prom']);

  const refused = runCli(['--root', s.root, 'df', '--prometheus', '-o', out]);
  t.equal(refused.status, 1, 'a directory is refused');
  t.equal(refused.stderr, `strata: error: ${out}: is a directory: name a file to write\n`);
  symlinkSync(file, join(out, 'link.prom'));
  const link = runCli(['--root', s.root, 'df', '--prometheus', '-o', join(out, 'link.prom')]);
  t.equal(link.status, 1, 'a symbolic link is refused');
  t.ok(lstatSync(join(out, 'link.prom')).isSymbolicLink(), 'and stays one');
  const missing = runCli(['--root', s.root, 'df', '--prometheus', '-o', join(out, 'nowhere', 'x.prom')]);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /^strata: error: .*nowhere: no such directory\n$/);
  t.same(readdirSync(out).sort(), ['link.prom', 'strata.prom'], 'nothing left behind by refusals');
  writeFileSync(join(out, 'plain'), '');
  const noFlag = runCli(['--root', s.root, 'df', '-o', join(out, 'plain')]);
  t.same([noFlag.status, noFlag.stdout, noFlag.stderr.split('\n')[0]], [2, '', 'strata: error: -o/--output writes the metrics: it needs --prometheus'], '-o without --prometheus: a usage error, nothing read or written');
  t.equal(readFileSync(join(out, 'plain'), 'utf8'), '', 'the file untouched');
  const json = runCli(['--root', s.root, 'df', '--prometheus', '--json']);
  t.equal(json.status, 2, '--prometheus with --json: a usage error');

  // A device is written through and stays a device: a copy of /dev/null first, the real one only then.
  const dev = join(out, 'null');
  execFileSync('mknod', [dev, 'c', '1', '3']);
  t.equal(runCli(['--root', s.root, 'df', '--prometheus', '-o', dev]).status, 0);
  t.ok(lstatSync(dev).isCharacterDevice(), 'the device stays a device');
  t.same(readdirSync(out).sort(), ['link.prom', 'null', 'plain', 'strata.prom'], 'no temporary file beside it');
  if (lstatSync(dev).isCharacterDevice()) {
    t.equal(runCli(['--root', s.root, 'df', '--prometheus', '-o', '/dev/null']).status, 0);
    t.ok(lstatSync('/dev/null').isCharacterDevice(), '/dev/null is still a character device');
  }
});
