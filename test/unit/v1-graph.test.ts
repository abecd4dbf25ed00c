// The legacy v1 graph/ layout (Docker < 1.10), read into the same model as the modern one: stores made at
// run time with the real aufs and vfs drivers applying each layer's tar (tar-data.json.gz recorded as
// that era's daemon did), then asked what a user asks of a modern store.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cliJson, runCli } from '../helpers/run-cli.js';
import { makeV1Store, type BuiltV1Image, type V1ImageSpec } from '../helpers/v1-store.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const SPECS: Array<[string, V1ImageSpec]> = [
  ['base', { parent: null, created: '2014-01-01T00:00:00.000000001Z', files: [{ name: 'bin', dir: true }, { name: 'bin/sh', content: 'x'.repeat(1000) }, { name: 'bin/ls', content: 'l'.repeat(300) }] }],
  ['mid', { parent: 'base', created: '2014-02-01T00:00:00Z', files: [{ name: 'etc', dir: true }, { name: 'etc/os', content: 'ubuntu 13.10\n' }], tags: ['ubuntu:13.10', 'ubuntu:saucy'] }],
  ['app', { parent: 'mid', created: '2014-03-01T00:00:00Z', files: [{ name: 'app', dir: true }, { name: 'app/run', content: 'y'.repeat(5000) }, { name: 'bin/.wh.ls', marker: true }], tags: ['app:1', 'example.com:5000/team/app:2'] }],
  ['other', { parent: 'base', created: '2014-04-01T00:00:00Z', files: [{ name: 'opt', dir: true }, { name: 'opt/x', content: 'o' }] }],
];

const short = (b: BuiltV1Image) => b.id.slice(0, 12);

/** A stopped container of that era on `image`: containers/<id>/config.json, its rw and -init layers in the driver. */
function addContainer(root: string, driver: 'aufs' | 'vfs', image: BuiltV1Image, chain: BuiltV1Image[], name: string): string {
  const id = randomBytes(32).toString('hex');
  mkdirSync(join(root, 'containers', id), { recursive: true });
  const rw = driver === 'aufs' ? join(root, 'aufs', 'diff', id) : join(root, 'vfs', 'dir', id);
  if (driver === 'aufs') {
    mkdirSync(rw, { recursive: true });
    mkdirSync(`${rw}-init`, { recursive: true });
  } else {
    // vfs keeps full copies: the init layer copies the image's, the container's copies the init layer.
    for (const [from, to] of [[join(root, 'vfs', 'dir', image.id), `${rw}-init`], [`${rw}-init`, rw]]) {
      const cp = spawnSync('cp', ['-a', from, to]);
      if (cp.status !== 0) throw new Error(`cp -a ${from} ${to}: ${cp.stderr}`);
    }
  }
  writeFileSync(join(rw, 'hello'), 'changed in the container\n');
  if (driver === 'aufs') {
    // aufs/layers/<id>: every ancestor, nearest first.
    const below = chain.map((b) => `${b.id}\n`).join('');
    writeFileSync(join(root, 'aufs', 'layers', `${id}-init`), below);
    writeFileSync(join(root, 'aufs', 'layers', id), `${id}-init\n${below}`);
  }
  writeFileSync(
    join(root, 'containers', id, 'config.json'),
    JSON.stringify({
      ID: id,
      Created: '2015-01-01T00:00:00Z',
      Path: '/bin/sh',
      Args: ['-c', 'echo hi'],
      Config: { Image: 'app:1', Cmd: ['/bin/sh', '-c', 'echo hi'] },
      State: { Running: false, ExitCode: 3, StartedAt: '2015-01-01T00:00:01Z', FinishedAt: '2015-01-01T00:00:02Z' },
      Image: image.id,
      Name: `/${name}`,
      Driver: driver,
    }),
  );
  return id;
}

for (const driver of ['aufs', 'vfs'] as const) {
  t.test(`a v1 store of the ${driver} driver`, async (t) => {
    const root = t.testdir({});
    const built = await makeV1Store(root, driver, SPECS);
    const [base, mid, app, other] = ['base', 'mid', 'app', 'other'].map((k) => built.get(k)!);
    const container = addContainer(root, driver, app, [app, mid, base], 'web');
    const R = ['--root', root];

    t.test('images: tagged and untagged leaves, intermediates only with -a, virtual sizes summed up the chain', async (t) => {
      const rows = cliJson<Array<{ id: string; repoTags: string[]; size: number; parent: string | null }>>([...R, 'images']);
      const byId = new Map(rows.map((r) => [r.id, r]));
      t.same([...byId.keys()].sort(), [app, mid, other].map((b) => `sha256:${b.id}`).sort(), 'base has children: hidden without -a');
      t.same(byId.get(`sha256:${app.id}`)!.repoTags, ['app:1', 'example.com:5000/team/app:2']);
      t.same(byId.get(`sha256:${mid.id}`)!.repoTags, ['ubuntu:13.10', 'ubuntu:saucy']);
      t.equal(byId.get(`sha256:${app.id}`)!.size, base.size + mid.size + app.size, 'virtual size: the layersizes up the parent chain');
      const all = cliJson<Array<{ id: string }>>([...R, 'images', '-a']);
      t.ok(all.some((r) => r.id === `sha256:${base.id}`), '-a lists the base');
      const text = runCli([...R, 'images']);
      t.equal(text.status, 0, text.stderr);
      const full = runCli([...R, 'images', '--no-trunc']);
      t.match(full.stdout, new RegExp(`^app +1 +${app.id} `, 'm'), '--no-trunc: the bare 64-hex v1 id, as Docker 1.9 printed it');
      t.match(text.stdout, new RegExp(`^ubuntu\\s+13\\.10\\s+${short(mid)}\\s`, 'm'), 'the v1 id is the IMAGE ID');
      t.equal(text.stderr, '');
    });

    t.test('images --tree: the old format, the parent graph as v1 recorded it', async (t) => {
      const r = runCli([...R, 'images', '--tree']);
      t.equal(r.status, 0, r.stderr);
      const kb = (n: number) => `${Number((n / 1000).toPrecision(4))} kB`;
      t.equal(
        r.stdout,
        [
          `└─${short(base)} Virtual Size: ${kb(base.size)}`,
          `  ├─${short(mid)} Virtual Size: ${kb(base.size + mid.size)} Tags: ubuntu:13.10, ubuntu:saucy`,
          `  │ └─${short(app)} Virtual Size: ${kb(base.size + mid.size + app.size)} Tags: app:1, example.com:5000/team/app:2`,
          `  └─${short(other)} Virtual Size: ${kb(base.size + other.size)}`,
          '',
        ].join('\n'),
      );
    });

    t.test('diff: each layer exactly as its tar-data.json.gz rebuilds it (sha256 = the DiffID)', async (t) => {
      for (const [n, b] of [base, mid, app].entries()) {
        const r = spawnBytes([...R, 'diff', 'app:1', '--layer', String(n + 1)]);
        t.equal(sha(r), b.diffId.slice(7), `layer ${n + 1}`);
      }
      t.equal(sha(spawnBytes([...R, 'diff', other.id.slice(0, 12)])), other.diffId.slice(7), 'a layer by its v1 id');
    });

    t.test('verify: every file against its tar-split record, the DiffID computed', async (t) => {
      const results = cliJson<Array<{ chainId: string; ok: boolean; actual: string }>>([...R, 'verify']);
      t.equal(results.length, 4);
      for (const b of built.values()) {
        const v = results.find((x) => x.chainId === `sha256:${b.id}`)!;
        t.equal(v.ok, true, b.key);
        t.equal(v.actual, b.diffId, `${b.key}: the computed DiffID is the tar's sha256`);
      }
    });

    t.test('layers, dangling, inspect, ps and df read the same model', async (t) => {
      const layers = cliJson<Array<{ chainId: string; diffId: string | null; size: number; parent: string | null }>>([...R, 'layers']);
      const appLayer = layers.find((l) => l.chainId === `sha256:${app.id}`)!;
      for (const b of built.values()) t.equal(layers.find((l) => l.chainId === `sha256:${b.id}`)?.diffId, b.diffId, `${b.key}: the DiffID computed from its content`);
      t.equal(appLayer.size, app.size, 'layersize');
      t.equal(appLayer.parent, `sha256:${mid.id}`);
      const dangling = cliJson<Array<{ id: string }>>([...R, 'dangling']);
      t.same(
        dangling.map((d) => d.id),
        [`sha256:${other.id}`],
        'the untagged leaf is dangling; the untagged base is an intermediate',
      );
      const [inspected] = cliJson<Array<Record<string, any>>>([...R, 'inspect', 'ubuntu:saucy']);
      t.equal(inspected.Id, `sha256:${mid.id}`);
      t.equal(inspected.Parent, `sha256:${base.id}`);
      t.equal(inspected.Created, '2014-02-01T00:00:00Z');
      t.same(inspected.Config.Cmd, ['/bin/sh']);
      t.same(inspected.RootFS, { Type: 'layers', Layers: [base.diffId, mid.diffId] }, 'RootFS as the 1.10 migration records it');
      const history = runCli([...R, 'history', 'app:1']);
      t.same(
        history.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s{2,}/)[0] + ' ' + l.split(/\s{2,}/)[2]),
        [app, mid, base].map((b) => `${short(b)} /bin/sh -c #(nop) ADD file:${b.key}`),
        'history: one step per ancestor, created_by from container_config.Cmd, as the 1.10 migration made it',
      );
      const [web] = cliJson<Array<Record<string, any>>>([...R, 'inspect', 'web']);
      t.equal(web.Name, '/web', 'container inspect from config.json');
      const ps = runCli([...R, 'ps', '-a']);
      t.match(ps.stdout, new RegExp(`${container.slice(0, 12)}\\s+app:1\\s+"/bin/sh -c 'echo hi'"`), ps.stderr);
      t.match(ps.stdout, /Exited \(3\)/);
      const changes = runCli([...R, 'changes', 'web']);
      t.equal(changes.stdout, 'A /hello\n', changes.stderr);
      const df = cliJson<{ images: Array<{ id: string; containers: number }>; containers: Array<{ id: string }> }>([...R, 'df']);
      t.equal(df.images.find((i) => i.id === `sha256:${app.id}`)?.containers, 1, "the container counts on its image");
      t.same(df.containers.map((c) => c.id), [container]);
    });

    t.test('writes are refused: strata writes only the modern layout', async (t) => {
      const p = runCli([...R, 'prune', '--dry-run']);
      t.equal(p.status, 1);
      t.match(p.stderr, /graph: a legacy v1 graph\/ store: strata prunes only the modern layout/, 'prune has no items on a v1 store: said in one line');
      const r = runCli([...R, 'rmi', 'ubuntu:saucy']);
      t.not(r.status, 0);
      t.match(r.stderr, /graph: holds a legacy v1 graph\/ store/);
      t.notMatch(r.stderr, /\n.+\n/, 'one line');
    });
  });
}

t.test('bad input: named warnings, partial answers', async (t) => {
  const root = t.testdir({});
  const built = await makeV1Store(root, 'vfs', SPECS);
  const [base, mid, app, other] = ['base', 'mid', 'app', 'other'].map((k) => built.get(k)!);
  writeFileSync(join(root, 'graph', other.id, 'json'), '{"id": ');
  writeFileSync(join(root, 'graph', mid.id, 'layersize'), 'lots');
  const r = runCli(['--root', root, 'images', '-a', '--json']);
  t.equal(r.status, 0, r.stderr);
  const ids = JSON.parse(r.stdout).map((i: { id: string }) => i.id);
  t.same(ids.sort(), [base, mid, app].map((b) => `sha256:${b.id}`).sort(), 'the unreadable image is left out, the rest listed');
  t.match(r.stderr, new RegExp(`graph/${other.id}/json: corrupt JSON`));
  t.match(r.stderr, new RegExp(`graph/${mid.id}/layersize: not a number`));

  const loop = t.testdir({});
  const b2 = await makeV1Store(loop, 'vfs', SPECS.slice(0, 2));
  const [l1, l2] = ['base', 'mid'].map((k) => b2.get(k)!);
  writeFileSync(join(loop, 'graph', l1.id, 'json'), JSON.stringify({ id: l1.id, parent: l2.id, created: '2014-01-01T00:00:00Z' }));
  const rl = runCli(['--root', loop, 'images', '-a', '--json']);
  t.equal(rl.status, 0, rl.stderr);
  t.match(rl.stderr, /parent chain loops back to/);

  const missing = t.testdir({});
  const b3 = await makeV1Store(missing, 'vfs', SPECS.slice(0, 2));
  writeFileSync(join(missing, 'graph', b3.get('mid')!.id, 'json'), JSON.stringify({ id: b3.get('mid')!.id, parent: 'f'.repeat(64), created: '2014-01-01T00:00:00Z' }));
  const rm = runCli(['--root', missing, 'images', '-a', '--json']);
  t.equal(rm.status, 0, rm.stderr);
  t.match(rm.stderr, /parent ffffffffffff is missing from graph\//);
});

t.test('a root Docker 1.10 migrated (graph/ beside image/<driver>/) is read as the modern store', async (t) => {
  const root = t.testdir({ graph: { ['a'.repeat(64)]: { json: '{}' } }, image: { vfs: { imagedb: { content: { sha256: {} } }, layerdb: { sha256: {} } } }, vfs: { dir: {} } });
  const r = runCli(['--root', root, 'images', '-a', '--json']);
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), []);
});

function spawnBytes(args: string[]): Buffer {
  // runCli decodes as UTF-8; a tar must stay bytes.
  const r = spawnSync(process.execPath, ['--import=tsx', new URL('../../cli/index.ts', import.meta.url).pathname, ...args], { maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`strata ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
