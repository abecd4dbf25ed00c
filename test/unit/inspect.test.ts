// docker inspect's objects built from synthetic stores: Go's JSON bytes, docker 20.10's field order and
// omitempty rules, the re-marshalled container.Config, GraphDriver.Data, Mounts and NetworkSettings from a
// container's own files, and which object a ref names.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { executeTemplate, parseTemplate } from '../../cli/go-template.js';
import { openDriver } from '../../drivers/index.js';
import { MetadataReader } from '../../inspect/docker/files.js';
import { readStore } from '../../inspect/docker/read-store.js';
import {
  buildContainerInspect,
  buildImageInspect,
  containerConfigOf,
  dockerInspectText,
  findInspectTarget,
  goIndentedJson,
  goTime,
  goTimeString,
  invalidReferenceReason,
} from '../../inspect/docker-inspect.js';
import { StoreBuilder } from '../helpers/synthetic-store.js';

function patchJson(file: string, patch: (c: Record<string, any>) => void): void {
  const c = JSON.parse(readFileSync(file, 'utf8'));
  patch(c);
  writeFileSync(file, JSON.stringify(c));
}

/** An image config written as given (so tests choose every key), returning its id. */
function rawImage(b: StoreBuilder, config: unknown): string {
  const bytes = JSON.stringify(config);
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(b.meta, 'imagedb', 'content', 'sha256', hex), bytes);
  return `sha256:${hex}`;
}

const J = (v: unknown) => JSON.parse(goIndentedJson(v));

t.test("Go's indented JSON as docker prints it", async (t) => {
  t.equal(dockerInspectText([]), '[]\n');
  t.equal(goIndentedJson({ a: [], b: {}, c: [1, 'x'], d: null, e: true }), '{\n    "a": [],\n    "b": {},\n    "c": [\n        1,\n        "x"\n    ],\n    "d": null,\n    "e": true\n}');
  t.equal(goIndentedJson('<a href="x">&</a>'), '"<a href=\\"x\\">&</a>"', 'no HTML escaping: the daemon turns it off');
  t.equal(goIndentedJson('a\nb\tc\u0001\u007f\u2028\\'), '"a\\nb\\tc\\u0001\u007f\\u2028\\\\"');
  t.equal(goIndentedJson('x\ud800y'), '"x\ufffdy"', 'a lone surrogate is no UTF-8: U+FFFD');
  t.equal(goIndentedJson('😀'), '"😀"');
  t.equal(goIndentedJson({ b: 1, a: 2 }), '{\n    "b": 1,\n    "a": 2\n}', 'a struct keeps its field order');
  t.equal(goIndentedJson({ '9': 'a', '10': 'b', x: 'c' }), '{\n    "10": "b",\n    "9": "a",\n    "x": "c"\n}', 'a map with array-index keys is sorted bytewise, as Go sorts map keys');
  t.equal(goIndentedJson({ a: undefined, b: 1 }), '{\n    "b": 1\n}', 'an omitted field is left out');
});

t.test('times as Go prints a time.Time', async (t) => {
  t.equal(goTime('2024-02-01T10:00:00.500000000Z'), '2024-02-01T10:00:00.5Z');
  t.equal(goTime('2024-02-01T10:00:00.000Z'), '2024-02-01T10:00:00Z');
  t.equal(goTime('2024-02-01T10:00:00.1234567891Z'), '2024-02-01T10:00:00.123456789Z');
  t.equal(goTime('2024-02-01T10:00:00+00:00'), '2024-02-01T10:00:00Z');
  t.equal(goTime('2024-02-01T10:00:00.25+02:00'), '2024-02-01T10:00:00.25+02:00');
  t.equal(goTime(undefined), '0001-01-01T00:00:00Z', 'absent is the zero time');
  t.equal(goTime('yesterday'), 'yesterday');
  t.equal(goTimeString('2026-12-01T23:57:31.780105966Z'), '2026-12-01 23:57:31.780105966 +0000 UTC');
  t.equal(goTimeString('2024-02-01T10:00:00+02:00'), '2024-02-01 10:00:00 +0200');
});

t.test('container.Config re-marshalled as docker 20.10 does', async (t) => {
  // BuildKit writes the OCI field order; docker shows container.Config's.
  const oci = {
    User: 'nobody',
    ExposedPorts: { '80/tcp': {}, '53/udp': { junk: 1 } },
    Env: ['A=1'],
    Entrypoint: ['/bin/sh'],
    Cmd: 'echo hi',
    Volumes: { '/vol': {} },
    WorkingDir: '/w',
    Labels: { b: '2', a: '1', '10': 'ten', '9': 'nine' },
    StopSignal: 'SIGINT',
    Healthcheck: { Test: ['CMD', 'true'], Interval: 1000000000 },
  };
  const typed = containerConfigOf(oci);
  const c = J(typed);
  t.same(Object.keys(c), [
    'Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty', 'OpenStdin', 'StdinOnce',
    'Env', 'Cmd', 'Healthcheck', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'OnBuild', 'Labels', 'StopSignal',
  ]);
  t.same(c.ExposedPorts, { '53/udp': {}, '80/tcp': {} }, 'a PortSet: sorted, values empty structs');
  t.same(c.Cmd, ['echo hi'], 'a StrSlice given as one string');
  t.equal(c.OnBuild, null);
  t.same(c.Healthcheck, { Test: ['CMD', 'true'], Interval: 1000000000 });
  t.equal(goIndentedJson(typed.Labels), '{\n    "10": "ten",\n    "9": "nine",\n    "a": "1",\n    "b": "2"\n}');
  t.equal(typed.ArgsEscaped, false, 'an empty omitempty field still holds its zero value (templates see it)');
  t.notOk(Object.keys(c).includes('ArgsEscaped'), 'but JSON leaves it out');

  const empty = J(containerConfigOf(undefined));
  t.same(empty, {
    Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, StdinOnce: false,
    Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null,
  }, "a BuildKit image's missing container_config: every non-omitempty field at its zero value");
  t.same(containerConfigOf({ env: ['lower=1'], Env: ['later=2'] }).Env, ['later=2'], "keys match case-insensitively, the last one wins, as Go's decoder");
  t.same(containerConfigOf({ StopTimeout: 0, Shell: [] }).StopTimeout, 0, 'a pointer field is shown whenever it is recorded, even 0');
  t.notOk('Shell' in JSON.parse(goIndentedJson(containerConfigOf({ Shell: [] }))), 'an empty Shell is omitted');
});

t.test('references docker refuses, in its words', async (t) => {
  t.equal(invalidReferenceReason('base:1'), null);
  t.equal(invalidReferenceReason('a'.repeat(64)), null);
  t.equal(invalidReferenceReason('UPPER'), 'invalid reference format: repository name must be lowercase');
  t.equal(invalidReferenceReason('Example.com/x:1'), null, 'a domain may have capitals');
  t.equal(invalidReferenceReason('a@b'), 'invalid reference format');
});

function buildStore(root: string, driver: 'overlay2' | 'vfs') {
  const b = new StoreBuilder(root, driver);
  const l1 = b.layer(null, { 'bin/sh': 'x'.repeat(1000) });
  const l2 = b.layer(l1, { 'app/a': 'y'.repeat(200) });
  const base = b.image({ layers: [l1], tags: ['base:1', 'example.com/team/base:v1', 'base:latest'], created: '2024-01-01T00:00:00.100Z' });
  const app = b.image({ layers: [l1, l2], tags: ['app:1'], digests: [`app@sha256:${'e'.repeat(64)}`], parent: base });
  const lastUpdated = join(b.meta, 'imagedb', 'metadata', 'sha256', app.slice(7));
  mkdirSync(lastUpdated, { recursive: true });
  writeFileSync(join(lastUpdated, 'lastUpdated'), '2024-03-01T12:00:00.123456700Z');
  // A BuildKit-like config: no container_config, no comment of its own, the OCI key order, no os.
  const bk = rawImage(b, {
    architecture: 'arm64',
    variant: 'v8',
    config: { Labels: { 'k<>': 'v&' }, Cmd: ['run'] },
    created: '2024-01-05T00:00:00Z',
    history: [{ created_by: 'x', comment: 'buildkit.dockerfile.v0' }],
    rootfs: { type: 'layers', diff_ids: [l1.diffId] },
  });
  b.tag('bk:1', bk);
  const empty = rawImage(b, { rootfs: { type: 'layers', diff_ids: [] }, created: '2024-01-06T00:00:00Z' });

  const running = b.container({ image: app, name: 'web', state: 'running', imageRef: 'app:1', files: { 'tmp/x': '12345' } });
  const created = b.container({ image: base, name: 'idle', imageRef: 'base:1' });
  const paused = b.container({ image: base, name: 'frozen', state: 'paused', imageRef: 'base:1' });
  const dir = (id: string) => join(root, 'containers', id);
  patchJson(join(dir(running), 'config.v2.json'), (c) => {
    c.OS = 'linux';
    c.LogPath = `${dir(running)}/${running}-json.log`;
    c.ResolvConfPath = `${dir(running)}/resolv.conf`;
    c.State.Pid = 4242;
    c.State.Health = { Status: 'healthy', FailingStreak: 0, Log: [{ Start: '2024-02-01T10:00:01.000000100Z', End: '2024-02-01T10:00:01.5Z', ExitCode: 0, Output: 'ok\n' }] };
    c.Config = { Hostname: 'abc', Env: ['A=<b>'], Cmd: ['sh'], Image: 'app:1', Labels: { z: '1', a: '2' }, Volumes: { '/data': {} } };
    c.MountPoints = {
      '/data': { Source: '', Destination: '/data', RW: true, Name: 'vol1', Driver: 'local', Type: 'volume', Relabel: 'z', Spec: {} },
      '/anon': { Source: '', Destination: '/anon', RW: true, Name: 'f'.repeat(64), Driver: 'local', Type: 'volume', Spec: {} },
      '/host': { Source: '/srv/host', Destination: '/host', RW: false, Type: 'bind', Propagation: 'rprivate', Spec: {} },
    };
    c.NetworkSettings = {
      Bridge: '',
      SandboxID: 'sb',
      Networks: {
        bridge: { IPAMConfig: null, Links: null, Aliases: null, NetworkID: 'n1', EndpointID: 'e1', Gateway: '172.17.0.1', IPAddress: '172.17.0.2', IPPrefixLen: 16, MacAddress: '02:42', DriverOpts: null, IPAMOperational: false },
      },
      Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '53/udp': null },
      SandboxKey: '/var/run/docker/netns/sb',
    };
  });
  writeFileSync(join(dir(running), 'hostconfig.json'), JSON.stringify({ Binds: ['vol1:/data'], LogConfig: { Type: 'json-file', Config: {} }, NetworkMode: 'default', Memory: 0, Ulimits: [{ Name: 'nofile', Hard: 2, Soft: 1 }] }));
  return { b, images: { base, app, bk, empty }, containers: { running, created, paused }, layers: { l1, l2 } };
}

for (const driverName of ['overlay2', 'vfs'] as const) {
  t.test(`images and containers on ${driverName}`, async (t) => {
    const root = t.testdir();
    const s = buildStore(root, driverName);
    const model = readStore({ root, driver: driverName });
    const driver = openDriver(driverName, root);
    const r = new MetadataReader();
    const img = (id: string) => JSON.parse(goIndentedJson(buildImageInspect(model, driver, r, model.images.get(id)!)));

    const typedApp = buildImageInspect(model, driver, r, model.images.get(s.images.app)!);
    const app = J(typedApp);
    t.same(Object.keys(app), [
      'Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'Container', 'ContainerConfig', 'DockerVersion', 'Author', 'Config',
      'Architecture', 'Os', 'Size', 'VirtualSize', 'GraphDriver', 'RootFS', 'Metadata',
    ]);
    t.same(app.RepoDigests, [`app@sha256:${'e'.repeat(64)}`]);
    t.equal(app.Parent, s.images.base);
    t.equal(app.Size, s.layers.l1.size + s.layers.l2.size, 'Size counts the whole chain');
    t.equal(app.VirtualSize, app.Size);
    t.same(app.Metadata, { LastTagTime: '2024-03-01T12:00:00.1234567Z' }, "imagedb's lastUpdated, as Go prints a time");
    const base = img(s.images.base);
    t.same(base.RepoTags, ['base:1', 'base:latest', 'example.com/team/base:v1'], 'sorted by the fully qualified name');
    t.equal(base.Parent, '');
    t.equal(base.Created, '2024-01-01T00:00:00.1Z');
    t.equal(base.Metadata.LastTagTime, '0001-01-01T00:00:00Z', 'never tagged: the zero time');

    const bk = img(s.images.bk);
    t.equal(bk.Comment, 'buildkit.dockerfile.v0', "no comment of its own: its last history step's");
    t.equal(bk.Variant, 'v8');
    t.equal(bk.Os, 'linux', "no os recorded: Go's runtime.GOOS");
    t.same(bk.ContainerConfig.Env, null);
    t.same(Object.keys(bk.Config), Object.keys(J(containerConfigOf({}))));
    t.equal(bk.Container, '');
    t.same(bk.RootFS, { Type: 'layers', Layers: [s.layers.l1.diffId] });
    const empty = img(s.images.empty);
    t.same(empty.RootFS, { Type: 'layers' }, 'no layers: Layers omitted');
    t.equal(empty.Config, null, 'no config recorded: null');
    t.same(empty.GraphDriver, { Data: null, Name: driverName });
    t.equal(empty.Size, 0);

    const running = buildContainerInspect(model, driver, r, model.containers.find((c) => c.id === s.containers.running)!, true);
    t.same(Object.keys(J(running)), [
      'Id', 'Created', 'Path', 'Args', 'State', 'Image', 'ResolvConfPath', 'HostnamePath', 'HostsPath', 'LogPath', 'Name', 'RestartCount',
      'Driver', 'Platform', 'MountLabel', 'ProcessLabel', 'AppArmorProfile', 'ExecIDs', 'HostConfig', 'GraphDriver', 'SizeRw', 'SizeRootFs',
      'Mounts', 'Config', 'NetworkSettings',
    ]);
    const c = JSON.parse(goIndentedJson(running));
    t.equal(c.Name, '/web');
    t.equal(c.Platform, 'linux');
    t.equal(c.ExecIDs, null);
    t.same(c.State, {
      Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 4242, ExitCode: 0, Error: '',
      StartedAt: '2024-02-01T10:00:00.5Z', FinishedAt: '0001-01-01T00:00:00Z',
      Health: { Status: 'healthy', FailingStreak: 0, Log: [{ Start: '2024-02-01T10:00:01.0000001Z', End: '2024-02-01T10:00:01.5Z', ExitCode: 0, Output: 'ok\n' }] },
    });
    t.same(c.HostConfig, { Binds: ['vol1:/data'], LogConfig: { Type: 'json-file', Config: {} }, NetworkMode: 'default', Memory: 0, Ulimits: [{ Name: 'nofile', Hard: 2, Soft: 1 }] }, 'hostconfig.json as dockerd wrote it');
    t.equal(c.SizeRw, 5, "--size: the read-write layer's own bytes");
    t.equal(c.SizeRootFs, 5 + s.layers.l1.size + s.layers.l2.size, "--size: and the image's");
    t.same(c.Mounts, [
      { Type: 'volume', Name: 'f'.repeat(64), Source: join(root, 'volumes', 'f'.repeat(64), '_data'), Destination: '/anon', Driver: 'local', Mode: '', RW: true, Propagation: '' },
      { Type: 'volume', Name: 'vol1', Source: join(root, 'volumes', 'vol1', '_data'), Destination: '/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
      { Type: 'bind', Source: '/srv/host', Destination: '/host', Mode: '', RW: false, Propagation: 'rprivate' },
    ], "volumes at their _data directory, Mode from the stored Relabel, binds without Name and Driver");
    t.same(c.Config.Labels, { a: '2', z: '1' });
    t.equal(c.Config.Image, 'app:1');
    t.same(c.NetworkSettings.Ports, { '53/udp': null, '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] });
    t.equal(c.NetworkSettings.IPAddress, '172.17.0.2', "the bridge network's address as the default one");
    t.equal(c.NetworkSettings.MacAddress, '02:42');
    t.notOk('IPAMOperational' in c.NetworkSettings.Networks.bridge, 'what dockerd stores beside an endpoint is not shown');
    t.equal(c.NetworkSettings.SecondaryIPAddresses, null);

    const mountId = model.mounts.get(s.containers.running)!.mountId!;
    if (driverName === 'overlay2') {
      const o = join(root, 'overlay2');
      t.same(c.GraphDriver.Data, {
        LowerDir: [`${o}/${mountId}-init/diff`, `${o}/${s.layers.l2.cacheId}/diff`, `${o}/${s.layers.l1.cacheId}/diff`].join(':'),
        MergedDir: `${o}/${mountId}/merged`,
        UpperDir: `${o}/${mountId}/diff`,
        WorkDir: `${o}/${mountId}/work`,
      }, 'the -init layer first, then the image, nearest first');
      const baseData = img(s.images.base).GraphDriver.Data;
      t.same(Object.keys(baseData), ['MergedDir', 'UpperDir', 'WorkDir'], 'a base layer has no LowerDir');
      t.equal(baseData.UpperDir, `${o}/${s.layers.l1.cacheId}/diff`);
    } else {
      t.same(c.GraphDriver, { Data: null, Name: 'vfs' }, 'vfs reports no directories');
    }

    const created = JSON.parse(goIndentedJson(buildContainerInspect(model, driver, r, model.containers.find((x) => x.id === s.containers.created)!, false)));
    t.equal(created.State.Status, 'created');
    t.notOk('SizeRw' in created, 'no sizes without --size');
    t.equal(created.HostConfig, null, 'no hostconfig.json: null, with a warning');
    t.match(r.warnings.at(-1)?.file, /hostconfig\.json$/);
    t.same(created.Mounts, []);
    t.same(created.NetworkSettings.Ports, {}, 'no ports recorded: an empty map, as docker shows');
    t.same(created.NetworkSettings.Networks, {});
    const paused = JSON.parse(goIndentedJson(buildContainerInspect(model, driver, r, model.containers.find((x) => x.id === s.containers.paused)!, false)));
    t.equal(paused.State.Status, 'paused');

    // Templates see docker's typed objects: every field exists, maps read as maps.
    const tpl = (text: string, obj: unknown) => executeTemplate(parseTemplate(text), obj);
    t.equal(tpl('{{.Variant}}|{{.Config.Image}}|{{index .Config.Env 0}}', typedApp), '||PATH=/bin', 'Variant is empty, not missing');
    t.equal(tpl('{{.Metadata.LastTagTime}}', typedApp), '2024-03-01 12:00:00.1234567 +0000 UTC', "a time prints as Go's Time.String()");
    t.equal(tpl('{{.Config.Volumes}} {{.Config.Entrypoint}} {{.Config.Healthcheck}} {{.RootFS}}', typedApp), `map[] [] <nil> {layers [${s.layers.l1.diffId} ${s.layers.l2.diffId}] }`, 'typed nils print as Go prints them, omitted fields still in a struct');
    t.equal(tpl('{{json .Metadata}}', typedApp), '{"LastTagTime":"2024-03-01T12:00:00.1234567Z"}');
    t.equal(tpl('{{.Config.Env}} {{index .Config.Labels "z"}} {{.State.Health.Status}} {{range .Mounts}}{{.Destination}} {{end}}', running), '[A=<b>] 1 healthy /anon /data /host ');
    t.equal(tpl('{{json .Config.Labels}}', running), '{"a":"2","z":"1"}');
    t.equal(tpl('{{.Config.ArgsEscaped}} {{.Config.StopSignal}}.', running), 'false .', 'omitempty fields read as their zero value');
  });
}

t.test('which object a ref names', async (t) => {
  const root = t.testdir();
  const s = buildStore(root, 'overlay2');
  const model = readStore({ root, driver: 'overlay2' });
  const find = (ref: string, type?: 'container' | 'image') => {
    const f = findInspectTarget(model, ref, type);
    return f.kind === 'container' ? `container ${f.container.id}` : f.kind === 'image' ? `image ${f.image.id}` : f.kind === 'miss' ? f.message : f.kind;
  };
  const { running } = s.containers;
  t.equal(find('web'), `container ${running}`);
  t.equal(find('/web'), `container ${running}`, 'a name with its slash');
  t.equal(find(running), `container ${running}`);
  t.equal(find(running.slice(0, 5)), `container ${running}`, 'a unique id prefix');
  t.equal(find('app:1'), `image ${s.images.app}`);
  t.equal(find('docker.io/library/app:1'), `image ${s.images.app}`);
  t.equal(find(s.images.app.slice(7, 15)), `image ${s.images.app}`);
  t.equal(find(s.images.app), `image ${s.images.app}`);
  t.equal(find('web', 'image'), 'Error: No such image: web');
  t.equal(find('app:1', 'container'), 'Error: No such container: app:1');
  t.equal(find('nope'), 'Error: No such object: nope');
  t.equal(find(''), 'Error: No such object: ');
  t.equal(find('UPPER'), 'Error: No such object: UPPER', 'an invalid reference is just not found without --type');
  t.equal(find('UPPER', 'image'), 'Error response from daemon: no such image: UPPER: invalid reference format: repository name must be lowercase');

  // A container named like an image, and a container id prefix shared with an image id: containers first.
  const b = s.b;
  const twin = b.container({ image: s.images.base, name: 'app:1' });
  const withTwin = readStore({ root, driver: 'overlay2' });
  const f = findInspectTarget(withTwin, 'app:1');
  t.equal(f.kind === 'container' && f.container.id, twin, 'docker inspect tries containers before images');
  const g = findInspectTarget(withTwin, 'app:1', 'image');
  t.equal(g.kind === 'image' && g.image.id, s.images.app);

  // Two containers sharing a prefix.
  const ids = withTwin.containers.map((c) => c.id);
  let shared = '';
  for (let n = 1; n < 64 && !shared; n++) {
    const prefixes = ids.map((id) => id.slice(0, n));
    shared = prefixes.find((p, i) => prefixes.indexOf(p) !== i) ?? '';
  }
  if (shared) t.equal(findInspectTarget(withTwin, shared).kind === 'miss' && (findInspectTarget(withTwin, shared) as { message: string }).message, `Error response from daemon: Multiple IDs found with provided prefix: ${shared}`);
  const byHand = { ...withTwin, containers: [...withTwin.containers, { ...withTwin.containers[0], id: `${ids[0].slice(0, 6)}${'0'.repeat(58)}`, name: 'other' }] };
  t.equal((findInspectTarget(byHand, ids[0].slice(0, 6)) as { message?: string }).message, `Error response from daemon: Multiple IDs found with provided prefix: ${ids[0].slice(0, 6)}`);
});

t.test('what cannot be read is named, never shown as absent', async (t) => {
  const root = t.testdir();
  const s = buildStore(root, 'overlay2');
  writeFileSync(join(root, 'containers', s.containers.created, 'config.v2.json'), '{not json');
  const model = readStore({ root, driver: 'overlay2' });
  const target = findInspectTarget(model, s.containers.created.slice(0, 10));
  t.equal(target.kind, 'unreadable-container', 'an id prefix of a container whose config is corrupt');
  t.match(target.kind === 'unreadable-container' && target.reason, /corrupt JSON/);
  t.equal(findInspectTarget(model, 'idle').kind, 'miss', 'its name is unknown: not found by name');

  // A lower link of the image's top layer that points elsewhere: docker's inspect of it fails, and so does strata's.
  const driver = openDriver('overlay2', root);
  const link = readFileSync(join(root, 'overlay2', s.layers.l1.cacheId, 'link'), 'utf8').trim();
  const linkPath = join(root, 'overlay2', 'l', link);
  rmSync(linkPath);
  symlinkSync('/etc', linkPath);
  const r = new MetadataReader();
  t.throws(() => buildImageInspect(model, driver, r, model.images.get(s.images.app)!), { name: 'StrataError', message: new RegExp(`^${linkPath}: `) });
  t.doesNotThrow(() => buildImageInspect(model, driver, r, model.images.get(s.images.base)!), 'a base layer has no lower links to follow');
});
