// The store test/docker/rmi.test.ts removes images from, built offline from /usr/bin/busybox on a private
// dockerd: imported images with tags in one and in two repositories, two legacy-builder chains on a base
// (untagged intermediate images with parents), and an image each for an exited and a running container.
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Dockerd } from './dockerd.js';
import { BUSYBOX } from './scenario.js';

export interface RmiScenario {
  /** 'base', 'multi', 'chain', 'chain-mid', 'chain2', 'chain2-mid', 'stopped', 'running', 'solo', 'solo2', 'dig' → image ids. */
  images: Record<string, string>;
  /** 'c-exited', 'c-running' → container ids. */
  containers: Record<string, string>;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${code}\n${err}`))));
  });
}

/** A rootfs with busybox and the applets the containers run, plus `extra` files (so each import has its own layer). */
async function importImage(d: Dockerd, work: string, name: string, ref: string, extra: Record<string, string>): Promise<string> {
  const dir = path.join(work, name);
  await mkdir(path.join(dir, 'bin'), { recursive: true });
  for (const sub of ['etc', 'tmp', 'dev', 'proc', 'sys']) await mkdir(path.join(dir, sub), { recursive: true });
  await copyFile(BUSYBOX, path.join(dir, 'bin', 'busybox'));
  await chmod(path.join(dir, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'sleep', 'true', 'cat']) await symlink('busybox', path.join(dir, 'bin', applet));
  for (const [rel, content] of Object.entries(extra)) await writeFile(path.join(dir, rel), content);
  const tarball = path.join(work, `${name}.tar`);
  await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', dir, '-cf', tarball, '.']);
  return (await d.docker(['import', '--message', `rmi ${ref}`, tarball, ref])).trim();
}

async function idOf(d: Dockerd, ref: string): Promise<string> {
  return (await d.docker(['image', 'inspect', '--format', '{{.Id}}', ref])).trim();
}

async function parentOf(d: Dockerd, ref: string): Promise<string> {
  return (await d.docker(['image', 'inspect', '--format', '{{.Parent}}', ref])).trim();
}

/** A legacy build of two COPY steps on base:1: an untagged intermediate image (parent base) under `tag`. */
async function buildChain(d: Dockerd, work: string, name: string, tag: string): Promise<{ top: string; mid: string }> {
  const ctx = path.join(work, name);
  await mkdir(ctx, { recursive: true });
  await writeFile(path.join(ctx, 'one.txt'), `${name} one\n`);
  await writeFile(path.join(ctx, 'two.txt'), `${name} two\n`);
  await writeFile(path.join(ctx, 'Dockerfile'), `FROM base:1\nCOPY one.txt /${name}-one.txt\nCOPY two.txt /${name}-two.txt\n`);
  await d.docker(['build', '--network', 'none', '-t', tag, ctx], { env: { DOCKER_BUILDKIT: '0' } });
  const top = await idOf(d, tag);
  return { top, mid: await parentOf(d, top) };
}

/** Digest references (a pull makes them; there is no network here): written while no daemon runs. */
export const DIGEST_1 = `sha256:${'d1'.repeat(32)}`;
export const DIGEST_2 = `sha256:${'d2'.repeat(32)}`;

/** Adds dig@DIGEST_1 and other@DIGEST_2 for the dig image to repositories.json (dockerd must be stopped). */
export async function addDigestReferences(root: string, s: RmiScenario): Promise<void> {
  const file = path.join(root, 'image', 'overlay2', 'repositories.json');
  const data = JSON.parse(await readFile(file, 'utf8')) as { Repositories: Record<string, Record<string, string>> };
  data.Repositories.dig[`dig@${DIGEST_1}`] = s.images.dig;
  data.Repositories.other = { [`other@${DIGEST_2}`]: s.images.dig };
  await writeFile(file, JSON.stringify(data));
}

export async function buildRmiScenario(d: Dockerd): Promise<RmiScenario> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'rmi-scn-'));
  try {
    const images: Record<string, string> = {};
    const containers: Record<string, string> = {};
    images.base = await importImage(d, work, 'base', 'base:1', { 'etc/os-release': 'NAME=rmi-base\n' });
    await d.docker(['tag', 'base:1', 'base:2']);
    images.multi = await importImage(d, work, 'multi', 'multi:1', { 'multi.txt': 'multi\n' });
    await d.docker(['tag', 'multi:1', 'example.com/team/multi:1']);
    const chain = await buildChain(d, work, 'chain', 'chain:1');
    images.chain = chain.top;
    images['chain-mid'] = chain.mid;
    const chain2 = await buildChain(d, work, 'chain2', 'chain2:1');
    images.chain2 = chain2.top;
    images['chain2-mid'] = chain2.mid;
    images.stopped = await importImage(d, work, 'stopped', 'stopped:1', { 'stopped.txt': 'stopped\n' });
    images.running = await importImage(d, work, 'running', 'running:1', { 'running.txt': 'running\n' });
    images.solo = await importImage(d, work, 'solo', 'solo:1', { 'solo.txt': 'solo\n' });
    images.solo2 = await importImage(d, work, 'solo2', 'solo2:1', { 'solo2.txt': 'solo2\n' });
    images.dig = await importImage(d, work, 'dig', 'dig:1', { 'dig.txt': 'dig\n' });
    await d.docker(['run', '--name', 'c-exited', '--network', 'none', 'stopped:1', 'true']);
    containers['c-exited'] = (await d.docker(['inspect', '--format', '{{.Id}}', 'c-exited'])).trim();
    containers['c-running'] = (await d.docker(['run', '-d', '--name', 'c-running', '--network', 'none', 'running:1', 'sleep', '100000'])).trim();
    return { images, containers };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
