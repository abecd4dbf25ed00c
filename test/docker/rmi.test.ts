// strata rmi against dockerd 20.10 itself, state by state: on one scenario store, each `docker rmi` is
// first predicted by `strata rmi --dry-run` (stdout, stderr, exit code, and which images and layers go),
// then run for real. Then the same sequence is carried out by strata's offline rmi on a copy of the store
// taken before it, and a dockerd started on that copy must list what docker's own removals left.
// Needs root and /usr/sbin/dockerd; fails (never skips) when the daemon cannot start.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCKER_CLIENT, startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { addDigestReferences, buildRmiScenario, DIGEST_1, DIGEST_2, type RmiScenario } from '../helpers/rmi-scenario.js';

const DIST = fileURLToPath(new URL('../../dist/strata.js', import.meta.url));
const SOURCE = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
const CLI_ARGS = process.env.STRATA_TEST_CLI === 'dist' ? [DIST] : ['--import=tsx', SOURCE];

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

function strata(args: string[]): Run {
  const r = spawnSync(process.execPath, [...CLI_ARGS, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status };
}

function dockerRmi(d: Dockerd, args: string[]): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: path.join(d.execRoot, 'client') };
  for (const k of ['DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_API_VERSION']) delete env[k];
  const r = spawnSync(DOCKER_CLIENT, ['-H', `unix://${d.sock}`, 'rmi', ...args], { encoding: 'utf8', env });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status };
}

/** Image ids in imagedb and ChainIDs in layerdb (entries being removed by dockerd carry a -removing suffix). */
async function onDisk(root: string): Promise<{ images: Set<string>; layers: Set<string> }> {
  const meta = path.join(root, 'image', 'overlay2');
  const hexes = async (dir: string) => new Set((await readdir(dir)).filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`));
  return { images: await hexes(path.join(meta, 'imagedb', 'content', 'sha256')), layers: await hexes(path.join(meta, 'layerdb', 'sha256')) };
}

const minus = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();
const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

interface Case {
  name: string;
  args: (s: RmiScenario) => string[];
  /** What the case is there to show, checked on docker's own answer (so the scenario cannot drift unnoticed). */
  shows: (r: Run, s: RmiScenario) => boolean;
}

const CASES: Case[] = [
  {
    name: 'a tag whose image a stopped container uses: the reference must be forced',
    args: () => ['stopped:1'],
    shows: (r) => r.code === 1 && r.stderr.includes('unable to remove repository reference "stopped:1" (must force)'),
  },
  {
    name: 'the same image by id prefix: the stopped container must be forced',
    args: (s) => [short(s.images.stopped)],
    shows: (r) => r.code === 1 && r.stderr.includes('(must be forced) - image is being used by stopped container'),
  },
  {
    name: 'a tag whose image a running container uses',
    args: () => ['running:1'],
    shows: (r) => r.code === 1 && r.stderr.includes('unable to remove repository reference "running:1"'),
  },
  {
    name: '-f by id while a container runs it: cannot be forced',
    args: (s) => ['-f', short(s.images.running)],
    shows: (r) => r.code === 1 && r.stderr.includes('(cannot be forced) - image is being used by running container'),
  },
  {
    name: '-f by tag while a container runs it: untagged only',
    args: () => ['-f', 'running:1'],
    shows: (r) => r.code === 0 && r.stdout === 'Untagged: running:1\n',
  },
  {
    name: 'one of two tags in one repository: untagged only',
    args: () => ['base:2'],
    shows: (r) => r.code === 0 && r.stdout === 'Untagged: base:2\n',
  },
  {
    name: 'a parent with children, by id',
    args: (s) => [short(s.images.base)],
    shows: (r) => r.code === 1 && r.stderr.includes('(cannot be forced) - image has dependent child images'),
  },
  {
    name: 'a parent with children, by its last tag: untagged, kept for its children',
    args: () => ['base:1'],
    shows: (r) => r.code === 0 && r.stdout === 'Untagged: base:1\n',
  },
  {
    name: 'an image in two repositories, by id',
    args: (s) => [short(s.images.multi)],
    shows: (r) => r.code === 1 && r.stderr.includes('(must be forced) - image is referenced in multiple repositories'),
  },
  {
    name: 'the same with -f: both untagged, then deleted',
    args: (s) => ['-f', `sha256:${short(s.images.multi)}`],
    shows: (r) => r.code === 0 && r.stdout.startsWith('Untagged: multi:1\nUntagged: example.com/team/multi:1\nDeleted: '),
  },
  {
    name: 'a built image: its untagged parent goes with it, its base stays for the other chain',
    args: () => ['chain:1'],
    shows: (r, s) => r.code === 0 && r.stdout.includes(`Deleted: ${s.images['chain-mid']}\n`) && !r.stdout.includes(s.images.base),
  },
  {
    name: '--no-prune: the parent stays',
    args: () => ['--no-prune', 'chain2:1'],
    shows: (r, s) => r.code === 0 && r.stdout.includes(`Deleted: ${s.images.chain2}\n`) && !r.stdout.includes(s.images['chain2-mid']),
  },
  {
    name: 'the dangling chain left, by full id: the untagged base goes with it',
    args: (s) => [s.images['chain2-mid']],
    shows: (r, s) => r.code === 0 && r.stdout.includes(`Deleted: ${s.images['chain2-mid']}\n`) && r.stdout.includes(`Deleted: ${s.images.base}\n`),
  },
  {
    name: '-f by tag with a stopped container: untagged and deleted, its layer kept for the container',
    args: () => ['-f', 'stopped:1'],
    shows: (r, s) => r.code === 0 && r.stdout === `Untagged: stopped:1\nDeleted: ${s.images.stopped}\n`,
  },
  {
    name: 'several REFs: each answered in turn, the errors after the lines',
    args: () => ['solo:1', 'missing:1', 'solo:1', 'solo2:1', 'Upper', 'sha256:'],
    shows: (r) => r.code === 1 && r.stderr.includes('Error: No such image: missing:1\n') && r.stderr.includes('repository name must be lowercase'),
  },
  {
    name: '-f with only missing images: the message, exit 0',
    args: () => ['-f', 'missing:2', 'nothing'],
    shows: (r) => r.code === 0 && r.stderr === 'Error: No such image: missing:2\nError: No such image: nothing\n',
  },
  {
    name: 'name:tag@digest: the digest goes, named with the tag as typed',
    args: () => [`dig:9@${DIGEST_1}`],
    shows: (r) => r.code === 0 && r.stdout === `Untagged: dig:9@${DIGEST_1}\n`,
  },
  {
    name: 'by id: a tag and a digest in another repository are two references',
    args: (s) => [short(s.images.dig)],
    shows: (r) => r.code === 1 && r.stderr.includes('image is referenced in multiple repositories'),
  },
  {
    name: 'the last tag while a digest of another repository stays: untagged only',
    args: () => ['dig:1'],
    shows: (r) => r.code === 0 && r.stdout === 'Untagged: dig:1\n',
  },
  {
    name: 'the last reference, a digest: untagged and deleted',
    args: () => [`other@${DIGEST_2}`],
    shows: (r, s) => r.code === 0 && r.stdout.startsWith(`Untagged: other@${DIGEST_2}\nDeleted: ${s.images.dig}\nDeleted: sha256:`),
  },
  {
    name: 'the image a running container uses, untagged before, by id without -f',
    args: (s) => [s.images.running.slice(7, 20)],
    shows: (r) => r.code === 1 && r.stderr.includes('image is being used by running container'),
  },
];

t.test('rmi predicted, then done by dockerd, then done offline on a copy', async (t) => {
  const first = await startDockerd({ driver: 'overlay2' });
  const root = first.root;
  let live: Dockerd | null = null;
  let onCopy: Dockerd | null = null;
  const copy = await mkdtemp('/tmp/rmi-copy-');
  t.teardown(async () => {
    await first.stop();
    await rm(first.execRoot, { recursive: true, force: true });
    if (live) await live.remove();
    else await rm(root, { recursive: true, force: true });
    if (onCopy) await onCopy.remove();
    await rm(copy, { recursive: true, force: true });
  });
  const s = await buildRmiScenario(first);

  // The copy is taken from a daemon killed outright, so that it still records the running container as
  // running (a store whose daemon died): offline, strata answers for it as the live daemon does.
  process.kill(first.pid, 'SIGKILL');
  await first.stop();
  await addDigestReferences(root, s);
  const cp = spawnSync('cp', ['-a', `${root}/.`, copy]);
  t.equal(cp.status, 0, `cp -a the data-root ${cp.stderr}`);
  live = await startDockerd({ driver: 'overlay2', root });
  await live.docker(['start', 'c-running']);

  const refused = strata(['--root', root, 'rmi', 'solo:1']);
  t.equal(refused.code, 1, 'offline rmi is refused while dockerd runs on the store');
  t.match(refused.stderr, /^strata: error: dockerd \(pid \d+\) is running on .*; stop it first/);

  const dockerAnswers: Run[] = [];
  for (const c of CASES) {
    const args = c.args(s);
    const before = await onDisk(root);
    const predicted = strata(['--root', root, 'rmi', '--dry-run', ...args]);
    const predictedJson = strata(['--root', root, 'rmi', '--dry-run', '--json', ...args]);
    const real = dockerRmi(live, args);
    dockerAnswers.push(real);
    t.comment(`$ docker rmi ${args.join(' ')}\n${real.stdout}${real.stderr}(exit ${real.code})`);
    const after = await onDisk(root);
    t.ok(c.shows(real, s), `${c.name}: docker answers as the case intends\n${JSON.stringify(real)}`);
    t.equal(predicted.stdout, real.stdout, `${c.name}: stdout (docker rmi ${args.join(' ')})`);
    t.equal(predicted.stderr, real.stderr, `${c.name}: stderr`);
    t.equal(predicted.code, real.code, `${c.name}: exit code`);
    const json = JSON.parse(predictedJson.stdout);
    t.same(json.lines, real.stdout.split('\n').filter(Boolean), `${c.name}: JSON lines`);
    t.same([...json.deletedImages].sort(), minus(before.images, after.images), `${c.name}: the images predicted to go are the ones gone`);
    t.same([...json.deletedLayers].sort(), minus(before.layers, after.layers), `${c.name}: the layers predicted to go are the ones gone`);
    t.same(minus(after.images, before.images), [], `${c.name}: no image appeared`);
  }
  const listImages = ['images', '-a', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'];
  const listContainers = ['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}} {{.Image}}'];
  const sorted = (text: string) => text.split('\n').filter(Boolean).sort();
  const liveImages = sorted(await live.docker(listImages));
  const liveContainers = sorted(await live.docker(listContainers));
  const liveDisk = await onDisk(root);
  await live.stop();

  // Offline, on the copy: the same lines, errors and exit codes as dockerd gave.
  CASES.forEach((c, i) => {
    const args = c.args(s);
    const done = strata(['--root', copy, 'rmi', ...args]);
    t.equal(done.stdout, dockerAnswers[i].stdout, `offline ${c.name}: stdout`);
    t.equal(done.stderr, dockerAnswers[i].stderr, `offline ${c.name}: stderr`);
    t.equal(done.code, dockerAnswers[i].code, `offline ${c.name}: exit code`);
  });
  const copyDisk = await onDisk(copy);
  t.same([...copyDisk.images].sort(), [...liveDisk.images].sort(), 'offline: the images left on disk are dockerd\'s');
  t.same([...copyDisk.layers].sort(), [...liveDisk.layers].sort(), 'offline: the layers left on disk are dockerd\'s');
  const verify = strata(['--root', copy, 'verify']);
  t.equal(verify.code, 0, `strata verify passes on the offline result\n${verify.stdout}${verify.stderr}`);

  onCopy = await startDockerd({ driver: 'overlay2', root: copy });
  t.same(sorted(await onCopy.docker(listImages)), liveImages, 'a dockerd on the copy lists the images dockerd left');
  t.same(sorted(await onCopy.docker(listContainers)), liveContainers, 'and the same containers');
  const ran = await onCopy.docker(['run', '--rm', '--network', 'none', s.images.running, 'cat', '/running.txt']);
  t.equal(ran, 'running\n', 'the copy daemon runs an image the removals left');
});
