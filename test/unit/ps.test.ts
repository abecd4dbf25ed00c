// strata ps on synthetic stores: which containers a listing shows (-a, -n, -l, every filter as dockerd
// combines them), newest first; docker's columns; "(daemon not running)" for a container recorded as up.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { goQuote } from '../../cli/go-fmt.js';
import { displayablePorts, imageColumn, psFormat, psRow, templateUsesSize } from '../../cli/commands/ps.js';
import { dockerEllipsis } from '../../cli/docker-format.js';
import { containerStatusText, listContainers, parsePsFilters, timeNanos } from '../../inspect/containers-list.js';
import { readStore } from '../../inspect/docker/read-store.js';
import type { Container } from '../../inspect/model.js';
import { runCli } from '../helpers/run-cli.js';
import { StoreBuilder } from '../helpers/synthetic-store.js';

/** Rewrites fields of a container's config.v2.json (the builder writes the common ones). */
function patchContainer(root: string, id: string, patch: (c: Record<string, any>) => void): void {
  const file = join(root, 'containers', id, 'config.v2.json');
  const c = JSON.parse(readFileSync(file, 'utf8'));
  patch(c);
  writeFileSync(file, JSON.stringify(c));
}

function buildStore(root: string) {
  const b = new StoreBuilder(root, 'overlay2');
  const [l1] = b.chain(1, () => ({ 'bin/sh': 'x'.repeat(1000) }));
  const l2 = b.layer(l1, { 'app/a': 'y'.repeat(200) });
  const base = b.image({ layers: [l1], tags: ['base:1'] });
  const app = b.image({ layers: [l1, l2], tags: ['app:1'], parent: base });
  const other = b.image({ layers: [l1], tags: ['other:1'], digests: [`other@sha256:${'c'.repeat(64)}`] });
  const ids: Record<string, string> = {};
  const created = (n: number) => `2024-02-01T10:00:0${n}.${n}00000001Z`;
  ids.created = b.container({ image: app, name: 'c-created', imageRef: 'app:1' });
  ids.exited = b.container({ image: app, name: 'c-exited', state: 'exited', files: { 'new.txt': '1234567' }, imageRef: 'app:1' });
  ids.running = b.container({ image: base, name: 'c-running', state: 'running', imageRef: 'base:1' });
  ids.paused = b.container({ image: other, name: 'c-paused', state: 'paused', imageRef: `docker.io/library/other:1@sha256:${'c'.repeat(64)}` });
  ids.dead = b.container({ image: other, name: 'c-dead', state: 'dead', imageRef: other });
  const order = ['created', 'exited', 'running', 'paused', 'dead'];
  order.forEach((k, i) => patchContainer(root, ids[k], (c) => (c.Created = created(i))));
  patchContainer(root, ids.exited, (c) => {
    c.Config.Labels = { 'org.example.tier': 'gold', 'org.example.role': 'db' };
    c.State.ExitCode = 3;
    c.Path = 'sh';
    c.Args = ['-c', 'echo "hi there" && sleep 1000'];
    c.MountPoints = {
      '/data': { Type: 'volume', Name: 'vol-data', Source: '/var/lib/docker/volumes/vol-data/_data', Destination: '/data', Driver: 'local', RW: true },
      '/host': { Type: 'bind', Source: '/srv/a-long-host-directory', Destination: '/host', RW: true },
    };
    c.NetworkSettings = { Networks: { none: { NetworkID: 'n1' }, gone: null }, Ports: {} };
  });
  patchContainer(root, ids.running, (c) => {
    c.Config.Labels = { 'org.example.tier': 'silver' };
    c.State.StartedAt = '2024-02-01T10:00:00Z';
    c.NetworkSettings = {
      Networks: { bridge: {} },
      Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '81/tcp': null, '82/tcp': null, '53/udp': [{ HostIp: '127.0.0.1', HostPort: '53' }] },
    };
    c.State.Health = { Status: 'healthy' };
  });
  return { b, base, app, other, ids };
}

const names = (l: ReturnType<typeof listContainers>) => l.map((x) => x.container.name);

t.test('ps: default, -a, -n, newest first', async (t) => {
  const s = buildStore(t.testdir());
  const model = readStore({ root: s.b.root, driver: 'overlay2' });
  t.same(names(listContainers(model)), ['c-paused', 'c-running'], 'without -a only containers that are up');
  t.same(names(listContainers(model, { all: true })), ['c-dead', 'c-paused', 'c-running', 'c-exited', 'c-created']);
  t.same(names(listContainers(model, { limit: 2 })), ['c-dead', 'c-paused'], '-n includes every state');
  t.same(names(listContainers(model, { limit: -1 })), ['c-paused', 'c-running'], '-n -1 is no limit');
});

t.test('ps: nanosecond creation times sort as numbers, not strings', async (t) => {
  t.ok(timeNanos('2024-01-01T00:00:00.49Z') < timeNanos('2024-01-01T00:00:00.491Z'));
  t.equal(timeNanos('2024-01-01T00:00:01.000000001Z') - timeNanos('2024-01-01T00:00:01Z'), 1n);
});

t.test('ps filters as dockerd combines them', async (t) => {
  const s = buildStore(t.testdir());
  const model = readStore({ root: s.b.root, driver: 'overlay2' });
  const ls = (...f: string[]) => names(listContainers(model, { filters: parsePsFilters(f) }));
  const la = (...f: string[]) => names(listContainers(model, { all: true, filters: parsePsFilters(f) }));
  t.same(ls('status=exited'), ['c-exited'], 'a status filter lists stopped containers without -a');
  t.same(ls('status=exited', 'status=created'), ['c-exited', 'c-created'], 'values of one key: any');
  t.same(la('name=c-e'), ['c-exited'], 'name is a pattern');
  t.same(la('name=^c-(run|dead)'), ['c-dead', 'c-running'], 'matched with and without the leading slash');
  t.same(la('name=^/c-dead$'), ['c-dead']);
  t.same(la(`id=${s.ids.exited.slice(0, 6)}`), ['c-exited'], 'id by prefix');
  t.same(la('label=org.example.tier'), ['c-running', 'c-exited']);
  t.same(la('label=org.example.tier=gold'), ['c-exited']);
  t.same(la('label=org.example.tier', 'label=org.example.role'), ['c-exited'], 'label values must all hold');
  t.same(la('label=org.example.tier=gol'), [], 'label values are exact');
  t.same(la('exited=3'), ['c-exited']);
  t.same(la('exited=0'), ['c-dead'], 'a dead container that once started has an exit code; created and running ones none');
  t.same(la('ancestor=base:1'), ['c-running', 'c-exited', 'c-created'], 'the image and every image built on it');
  t.same(la('ancestor=app:1'), ['c-exited', 'c-created']);
  t.same(la('ancestor=nope:1'), [], 'an unknown ancestor matches nothing');
  t.same(la('before=c-running'), ['c-exited', 'c-created']);
  t.same(la('since=c-exited'), ['c-dead', 'c-paused', 'c-running']);
  t.same(la(`before=${s.ids.paused}`, 'since=c-created'), ['c-running', 'c-exited']);
  t.same(la('volume=vol-data'), ['c-exited']);
  t.same(la('volume=/host'), ['c-exited'], 'by destination');
  t.same(la('network=none'), ['c-exited']);
  t.same(la('network=gone'), [], 'a null network entry is no network');
  t.same(la('health=healthy'), ['c-running']);
  t.same(la('health=none').length, 4);
  t.same(la('status=running', 'label=org.example.tier'), ['c-running'], 'different keys: all');
  t.same(la('is-task=false').length, 5);
  t.same(names(listContainers(model, { limit: 1, filters: parsePsFilters(['status=exited']) })), ['c-exited'], '-n counts what passes the filters');

  const err = (f: string[], re: RegExp) => t.throws(() => listContainers(model, { filters: parsePsFilters(f) }), re);
  err(['foo=1'], /^Invalid filter 'foo'$/);
  err(['status=exit'], /^Invalid filter 'status=exit'$/);
  err(['exited=x'], /^strconv\.Atoi: parsing "x": invalid syntax$/);
  err(['before=nope'], /^no such container nope$/);
  err([`since=${s.ids.exited.slice(0, 12)}`], /^no such container /, 'before/since take a full id or a name');
  err(['is-task=maybe'], /^Invalid filter 'is-task=\[maybe\]'$/);
  err(['health=sick'], /^Unrecognised filter value for health: sick$/);
  err(['publish=80'], /not supported/);
  t.throws(() => parsePsFilters(['foo']), /bad format of filter \(expected name=value\)/);
  t.same([...parsePsFilters([' Name = c-x ', 'name=c-y', 'name=c-x']).entries()], [['name', ['c-x', 'c-y']]]);
});

t.test('status in docker words, and honest offline', async (t) => {
  const now = Date.parse('2024-02-01T12:00:00Z');
  const base: Container = {
    id: 'x', name: 'x', imageId: '', imageRef: '', state: 'running', exitCode: 0, startedAt: '2024-02-01T10:00:00Z', finishedAt: '0001-01-01T00:00:00Z', created: '',
    driver: null, command: '', mountId: null, initId: null, parentChainId: null, labels: {}, mountPoints: [], ports: {}, config: {},
  };
  const hd = (ms: number) => `${Math.round(ms / 3_600_000)} hours`;
  t.equal(containerStatusText(base, now, true, hd), 'Up 2 hours');
  t.equal(containerStatusText(base, now, false, hd), 'Up 2 hours (daemon not running)');
  t.equal(containerStatusText({ ...base, health: 'starting' }, now, true, hd), 'Up 2 hours (health: starting)');
  t.equal(containerStatusText({ ...base, state: 'paused' }, now, false, hd), 'Up 2 hours (Paused) (daemon not running)');
  t.equal(containerStatusText({ ...base, state: 'restarting', exitCode: 1, finishedAt: '2024-02-01T11:00:00Z' }, now, true, hd), 'Restarting (1) 1 hours ago');
  t.equal(containerStatusText({ ...base, state: 'exited', exitCode: 137, finishedAt: '2024-02-01T10:00:00Z' }, now, false, hd), 'Exited (137) 2 hours ago');
  t.equal(containerStatusText({ ...base, state: 'created' }, now, false, hd), 'Created');
  t.equal(containerStatusText({ ...base, state: 'dead' }, now, false, hd), 'Dead');
  t.equal(containerStatusText({ ...base, state: 'removing' }, now, false, hd), 'Removal In Progress');
});

t.test("docker's column helpers", async (t) => {
  t.equal(dockerEllipsis('sh -c dd if=/dev/zero of=/x', 20), 'sh -c dd if=/dev/ze…');
  t.equal(dockerEllipsis('short', 20), 'short');
  t.equal(dockerEllipsis('日本語の文字列です', 10), '日本語の…', 'wide runes count two columns');
  t.equal(goQuote(`sh -c 'echo "hi"'\n\x01é`), `"sh -c 'echo \\"hi\\"'\\n\\x01é"`);
  t.equal(
    displayablePorts([
      { privatePort: 82, publicPort: null, type: 'tcp', ip: '' },
      { privatePort: 81, publicPort: null, type: 'tcp', ip: '' },
      { privatePort: 80, publicPort: 8080, type: 'tcp', ip: '0.0.0.0' },
      { privatePort: 53, publicPort: 53, type: 'udp', ip: '127.0.0.1' },
    ]),
    '127.0.0.1:53->53/udp, 81-82/tcp, 0.0.0.0:8080->80/tcp',
  );
  const id = `sha256:${'ab'.repeat(32)}`;
  t.equal(imageColumn(id, id, true), 'abababababab');
  t.equal(imageColumn(id, id, false), id);
  t.equal(imageColumn(`docker.io/library/other:1@sha256:${'c'.repeat(64)}`, id, true), 'other:1', 'a digest is dropped when cut');
  t.equal(imageColumn(`example.com/x@sha256:${'c'.repeat(64)}`, id, true), 'example.com/x');
  t.equal(imageColumn('', id, true), '<no image>');
  t.equal(psFormat(undefined, true, true), '{{.ID}}');
  t.match(psFormat(undefined, false, true), /\{\{\.Names\}\}\t\{\{\.Size\}\}$/);
  t.equal(psFormat('{{.Names}}', true, false), '{{.Names}}', '-q does not override a custom format');
  t.ok(templateUsesSize('{{json .}}'), '{{json .}} reads Size, so docker measures');
  t.ok(templateUsesSize('table {{.Names}}\t{{.Size}}'));
  t.notOk(templateUsesSize('{{.Names}} {{.Label "a"}}'));
});

t.test('rows as docker formats them', async (t) => {
  const s = buildStore(t.testdir());
  const model = readStore({ root: s.b.root, driver: 'overlay2' });
  const listed = listContainers(model, { all: true });
  const now = Date.parse('2024-02-01T12:00:00Z');
  const row = (name: string, trunc = true) => psRow(listed.find((l) => l.container.name === name)!, { trunc, now, daemonRunning: false });
  const exited = row('c-exited');
  t.equal(exited.Command, `"sh -c 'echo \\"hi the…"`);
  t.equal(exited.Labels, 'org.example.role=db,org.example.tier=gold');
  t.equal((exited.Label as (k: string) => string)('org.example.tier'), 'gold');
  t.equal(exited.Mounts, 'vol-data,/srv/a-long-ho…');
  t.equal(exited.LocalVolumes, '1');
  t.equal(exited.Networks, 'none');
  t.equal(exited.Image, 'app:1');
  t.equal(exited.RunningFor, '2 hours ago');
  t.equal(exited.State, 'exited');
  t.match(exited.Status as string, /^Exited \(3\) /);
  t.equal(exited.ID, s.ids.exited.slice(0, 12));
  t.notOk(Object.keys(exited).includes('Label'), 'Label is a method, not a JSON field');
  t.same(Object.keys(exited), ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Ports', 'RunningFor', 'Size', 'State', 'Status']);
  const running = row('c-running');
  t.equal(running.Ports, '127.0.0.1:53->53/udp, 81-82/tcp, 0.0.0.0:8080->80/tcp');
  t.equal(running.Status, 'Up 2 hours (healthy) (daemon not running)');
  t.equal(row('c-dead').Image, s.other.slice(7, 19), 'created from an id: the short id');
  t.equal(row('c-paused').Image, 'other:1', 'created by name:tag@digest, shown without the digest');
  t.equal(row('c-exited', false).Mounts, 'vol-data,/srv/a-long-host-directory');
});

t.test('strata ps on the command line', async (t) => {
  const s = buildStore(t.testdir());
  const root = s.b.root;
  const run = (...args: string[]) => runCli(['ps', ...args, '--root', root], { TZ: 'UTC' });
  const def = run();
  t.equal(def.status, 0, def.stderr);
  const lines = def.stdout.trimEnd().split('\n');
  t.match(lines[0], /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
  t.match(lines[1], /Up .* \(Paused\) \(daemon not running\)\s+c-paused$/);
  t.match(lines[2], /Up .* \(healthy\) \(daemon not running\)\s+.*c-running$/);
  t.equal(lines.length, 3);
  t.equal(run('-aq').stdout.split('\n').filter(Boolean).length, 5);
  t.equal(run('-q', '--no-trunc', '-f', 'name=c-running').stdout, `${s.ids.running}\n`);
  t.equal(run('-l', '--format', '{{.Names}}').stdout, 'c-dead\n');
  const sized = run('-a', '-s', '--format', '{{.Names}} {{.Size}}');
  t.equal(sized.status, 0, sized.stderr);
  t.match(sized.stdout, /^c-exited 7B \(virtual 1\.21kB\)$/m, 'the read-write layer measured, plus the image');
  t.match(sized.stdout, /^c-running 0B \(virtual 1kB\)$/m);
  const auto = run('-a', '--format', '{{.Names}}={{.Size}}', '-f', 'name=c-exited');
  t.equal(auto.stdout, 'c-exited=7B (virtual 1.21kB)\n', '.Size in a template measures without -s');
  const json = JSON.parse(run('-a', '--json').stdout);
  t.equal(json.length, 5);
  t.equal(json.find((c: { name: string }) => c.name === 'c-running').daemonRunning, false);
  t.equal(json.find((c: { name: string }) => c.name === 'c-running').status.endsWith('(daemon not running)'), true);
  const dj = run('-a', '-f', 'name=c-exited', '--format', '{{json .}}');
  const djRow = JSON.parse(dj.stdout);
  t.same(Object.keys(djRow), ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Ports', 'RunningFor', 'Size', 'State', 'Status']);
  t.equal(djRow.Command, `"sh -c 'echo \\"hi the…"`);
  t.equal(djRow.Size, '7B (virtual 1.21kB)', '{{json .}} measures, as docker does');
  t.equal(djRow.CreatedAt, '2024-02-01 10:00:01 +0000 UTC', 'whole seconds, as Go prints a time');
  const bad = run('-f', 'status=nope');
  t.equal(bad.status, 1);
  t.equal(bad.stderr, "strata: error: Invalid filter 'status=nope'\n");
  const badFmt = run('-f', 'nope');
  t.equal(badFmt.status, 2, 'a filter without = is a usage error, as in images');
  t.match(badFmt.stderr, /bad format of filter \(expected name=value\)/);
});
