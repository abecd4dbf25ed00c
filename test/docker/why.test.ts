// strata why against a real dockerd 20.10: on one small store (an imported base with two tags, a legacy
// build chain with untagged intermediates, a child image, an image in two repositories, a running, an
// exited and a created container, an unrelated image), `strata why --json` names the same tags, child
// images and containers docker reports, and its `commands`, run with the real docker CLI, remove the
// target: every command succeeds and the image (or layer's images) is gone afterwards, the rest stays.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCKER_CLIENT, startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { BUSYBOX } from '../helpers/scenario.js';

const DIST = fileURLToPath(new URL('../../dist/strata.js', import.meta.url));
const SOURCE = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
const CLI_ARGS = process.env.STRATA_TEST_CLI === 'dist' ? [DIST] : ['--import=tsx', SOURCE];

interface WhyJson {
  target: { kind: string; id: string; matched: string };
  tags: string[];
  children: Array<{ id: string }>;
  images: Array<{ id: string }>;
  containers: Array<{ id: string; name: string; state: string }>;
  unknown: unknown[];
  freedIfRemoved: { bytes: number; images: string[]; layers: string[] };
  commands: string[];
  rmiCheck: { lines: string[]; errors: unknown[] } | null;
}

function rootfsTar(work: string, name: string, extra: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'dev', 'proc', 'sys']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const a of ['sh', 'echo', 'sleep', 'true']) symlinkSync('busybox', join(dir, 'bin', a));
  for (const [rel, content] of Object.entries(extra)) writeFileSync(join(dir, rel), content);
  const tar = join(work, `${name}.tar`);
  const r = spawnSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', dir, '-cf', tar, '.']);
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  return tar;
}

t.test('why --json on a real store: its listings match docker, its commands remove the target', { timeout: 240_000 }, async (t) => {
  const work = mkdtempSync('/tmp/why-helper-work-');
  let d: Dockerd | null = null;
  t.teardown(async () => {
    await d?.remove();
    rmSync(work, { recursive: true, force: true });
  });
  d = await startDockerd({ driver: 'overlay2' });
  const dk = d;
  const docker = (...args: string[]) => dk.docker(args);
  const strataWhy = (ref: string): WhyJson => {
    const r = spawnSync(process.execPath, [...CLI_ARGS, '--root', dk.root, 'why', '--json', ref], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`strata why ${ref}: ${r.status} ${r.stderr}`);
    return JSON.parse(r.stdout) as WhyJson;
  };
  const imageIds = async () => new Set((await docker('images', '-a', '-q', '--no-trunc')).split('\n').filter(Boolean));
  const parentOf = async (id: string) => (await docker('image', 'inspect', '--format', '{{.Parent}}', id)).trim();
  /** Descendants by docker's own parent records. */
  const descendants = async (id: string) => {
    const all = [...(await imageIds())];
    const parents = new Map(await Promise.all(all.map(async (i) => [i, await parentOf(i)] as const)));
    const out = new Set<string>();
    for (let grew = true; grew; ) {
      grew = false;
      for (const [i, p] of parents) if (!out.has(i) && (p === id || out.has(p))) (out.add(i), (grew = true));
    }
    return out;
  };
  const containersOf = async (id: string) => (await docker('ps', '-a', '--no-trunc', '--filter', `ancestor=${id}`, '--format', '{{.ID}} {{.Names}} {{.State}}')).split('\n').filter(Boolean).sort();
  const run = (command: string) => {
    const argv = command.split(' ');
    t.equal(argv[0], 'docker', `a docker command: ${command}`);
    const r = spawnSync(DOCKER_CLIENT, ['-H', `unix://${dk.sock}`, ...argv.slice(1)], { encoding: 'utf8', env: { ...process.env, DOCKER_CONFIG: join(dk.execRoot, 'client') } });
    t.equal(r.status, 0, `${command} succeeds${r.status ? `: ${r.stderr}` : ''}`);
    return r.stdout.split('\n').filter(Boolean);
  };
  /** Runs why's commands; docker's rmi prints the lines strata rmi --dry-run predicted for it. */
  const runAll = (r: WhyJson) => {
    for (const c of r.commands) {
      const out = run(c);
      if (c.startsWith('docker rmi ')) t.same(out, r.rmiCheck?.lines, `${c}: docker's lines as predicted`);
    }
    t.same(r.rmiCheck?.errors ?? [], []);
  };

  // --- the store ---------------------------------------------------------------------------------
  const base = (await docker('import', rootfsTar(work, 'base', { 'etc/os-release': 'NAME=why-base\n' }), 'base:1')).trim();
  await docker('tag', 'base:1', 'base:latest');
  const solo = (await docker('import', rootfsTar(work, 'solo', { 'solo.txt': 'only in solo\n' }), 'solo:1')).trim();
  const ctx = join(work, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM base:1\nRUN echo a > /a.txt\nRUN echo b > /b.txt\n');
  await dk.docker(['build', '--network', 'none', '-t', 'app:1', ctx], { env: { DOCKER_BUILDKIT: '0' } });
  await docker('tag', 'app:1', 'example.com/other/app:1');
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM app:1\nRUN echo c > /c.txt\n');
  await dk.docker(['build', '--network', 'none', '-t', 'app:2', ctx], { env: { DOCKER_BUILDKIT: '0' } });
  const app1 = (await docker('image', 'inspect', '--format', '{{.Id}}', 'app:1')).trim();
  const app2 = (await docker('image', 'inspect', '--format', '{{.Id}}', 'app:2')).trim();
  const mid = await parentOf(app1); // the first RUN step: untagged, the parent of app:1
  const firstStep = await parentOf(mid) === base ? mid : await parentOf(mid);
  const net = ['--network', 'none', '--pull', 'never'];
  await docker('run', '-d', ...net, '--stop-timeout', '1', '--name', 'web', 'app:1', 'sleep', '100000');
  await docker('run', ...net, '--name', 'job', 'app:2', 'sh', '-c', 'echo done > /done.txt');
  await docker('create', ...net, '--name', 'idle', 'base:1', 'true');

  // --- 1. an untagged intermediate: children, containers of descendants, rmi prunes it ------------
  {
    const r = strataWhy(firstStep.slice(7, 19));
    t.same([r.target.kind, r.target.id, r.target.matched], ['image', firstStep, 'id-prefix']);
    t.same(r.tags, []);
    t.same(new Set(r.children.map((c) => c.id)), await descendants(firstStep), 'child images as docker records them');
    t.ok(r.children.some((c) => c.id === app2), 'grandchildren too');
    const mine = r.containers.map((c) => `${c.id} ${c.name} ${c.state}`).sort();
    t.same(mine, await containersOf(firstStep), 'containers as docker ps -a --filter ancestor= lists them');
    t.same(r.containers.map((c) => c.name).sort(), ['job', 'web']);
    t.same(r.unknown, []);
    t.notOk(r.commands.join(' ').includes(firstStep.slice(7, 19)), 'the intermediate goes with app:1 (rmi prunes untagged parents)');
    const gone = new Set(r.freedIfRemoved.images);
    runAll(r);
    const left = await imageIds();
    for (const id of [firstStep, mid, app1, app2]) t.notOk(left.has(id), `${id.slice(7, 19)} is gone`);
    t.same(new Set([...gone].filter((id) => left.has(id))), new Set(), 'every image why said would go is gone');
    t.ok(left.has(base) && left.has(solo), 'base and solo stay');
    t.same((await docker('ps', '-a', '--format', '{{.Names}}')).split('\n').filter(Boolean), ['idle']);
  }

  // --- 2. an image with two tags and a created container -------------------------------------------
  {
    const r = strataWhy('base');
    t.same([r.target.id, r.target.matched], [base, 'reference']);
    const tags = JSON.parse(await docker('image', 'inspect', '--format', '{{json .RepoTags}}', base)) as string[];
    t.same(r.tags, [...tags].sort());
    t.same(r.children, []);
    t.same(r.containers.map((c) => `${c.id} ${c.name} ${c.state}`).sort(), await containersOf(base));
    t.same(r.commands, ['docker rm idle', `docker rmi -f ${base.slice(7, 19)}`], 'two tags: by id, forced');
    runAll(r);
    t.notOk((await imageIds()).has(base), 'base is gone');
  }

  // --- 3. a layer by its ChainID prefix: the images holding it go -------------------------------------
  {
    const top = (JSON.parse(await docker('image', 'inspect', '--format', '{{json .RootFS.Layers}}', 'solo:1')) as string[]).at(-1)!;
    const r = strataWhy(top.slice(7, 23)); // one layer: its ChainID is its DiffID
    t.same([r.target.kind, r.target.id, r.target.matched], ['layer', top, 'chain-id']);
    t.same(r.images.map((i) => i.id), [solo]);
    t.same(r.freedIfRemoved.layers, [top]);
    t.same(r.commands, ['docker rmi solo:1']);
    runAll(r);
    t.same([...(await imageIds())], [], 'no image left');
  }
});
