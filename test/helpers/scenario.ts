// Builds a small but nasty Docker store on a private daemon (see dockerd.ts):
// imported busybox images with several tags, a legacy-builder image chain with
// whiteouts, opaque dirs, links, sparse/large/odd files, a dangling image, a
// tagged intermediate image, a child image and containers in every state.
//
// Everything is built offline from /usr/bin/busybox (busybox-static); no
// container gets a network.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Dockerd } from './dockerd.js';

export interface Scenario {
  /** 'base:1','solo:1','app:1','app:2','mid:tagged','wasted:1','dangling' -> full sha256:… image ids */
  images: Record<string, string>;
  /** 'c-created','c-exited','c-running','c-dangling' -> full container ids */
  containers: Record<string, string>;
}

export const BUSYBOX = '/usr/bin/busybox';

/** Applets linked into the base rootfs (all present in Debian's busybox-static). */
export const BASE_APPLETS = [
  'sh', 'ash', 'ls', 'cat', 'echo', 'mkdir', 'rm', 'rmdir', 'ln', 'touch', 'sleep', 'chmod', 'chown', 'dd',
  'truncate', 'mv', 'cp', 'head', 'tail', 'printf', 'sync', 'mkfifo', 'yes', 'true', 'false', 'test', '[',
  'stat', 'find', 'wc', 'grep', 'sed', 'id', 'env', 'readlink', 'sha256sum', 'tr', 'seq', 'uname', 'date',
];

/** Long names used by the app image (exported for the tests that check them). */
export const LONG_DIR = 'app/long/' + 'd'.repeat(60) + '/' + 'e'.repeat(60); // > 100 bytes as a path
export const LONG_PATH_FILE = LONG_DIR + '/file-in-a-long-path.txt';
export const LONG_NAME_FILE = 'app/long/' + 'n'.repeat(130) + '.txt'; // the name alone is > 100 bytes

/** Content of the context file copied by app:1 (old build vs current build). */
export const VERSION_OLD = 'app version 1 (old build)\n';
export const VERSION_NEW = 'app version 1 (rebuilt)\n';

export const APP_DOCKERFILE = `FROM base:1
ENV APP_HOME=/app GREETING="hello strata"
LABEL org.example.step="env-and-label" org.example.multi="a b"
RUN mkdir -p /app/data/nested/deep /app/old/sub/inner /app/opaque/keep /app/empty-dir \\
 && echo one > /app/data/one.txt \\
 && echo two > /app/data/nested/two.txt \\
 && echo three > /app/data/nested/deep/three.txt \\
 && echo bye > /app/old/remove-me.txt \\
 && echo sub > /app/old/sub/f.txt \\
 && echo inner > /app/old/sub/inner/g.txt \\
 && echo kept > /app/old/keep.txt \\
 && echo before-a > /app/opaque/keep/a.txt \\
 && echo before-b > /app/opaque/b.txt \\
 && touch /app/empty \\
 && echo 'strata-step:files'
RUN rm /app/old/remove-me.txt && rm -rf /app/old/sub && echo 'strata-step:whiteouts'
RUN rm -rf /app/opaque && mkdir -p /app/opaque/new && echo after > /app/opaque/c.txt && echo after-d > /app/opaque/new/d.txt && echo 'strata-step:opaque'
RUN mkdir -p /app/links && echo target > /app/links/target.txt \\
 && ln /app/links/target.txt /app/links/hard1 \\
 && ln /app/links/target.txt /app/links/hard2 \\
 && ln -s target.txt /app/links/rel \\
 && ln -s /app/links/target.txt /app/links/abs \\
 && ln -s ../does/not/exist /app/links/dangling \\
 && ln -s ../data /app/links/dirlink \\
 && echo 'strata-step:links'
RUN truncate -s 4M /app/sparse.bin \\
 && printf 'STRATA-MIDDLE' | dd of=/app/sparse.bin bs=1 seek=2097152 conv=notrunc 2>/dev/null \\
 && yes 'strata-big-file-0123456789abcdef' | head -c 3145728 > /app/big.bin \\
 && echo 'strata-step:big'
RUN mkdir -p "/${LONG_DIR}" \\
 && echo long-path > "/${LONG_PATH_FILE}" \\
 && echo long-name > "/${LONG_NAME_FILE}" \\
 && mkdir -p "/app/café" "/app/日本" \\
 && echo naive > "/app/café/naïve.txt" \\
 && echo nihon > "/app/日本/ファイル.txt" \\
 && echo 'strata-step:names'
RUN printf '#!/bin/sh\\necho suid\\n' > /app/suid.sh && chmod 4755 /app/suid.sh \\
 && echo sgid > /app/sgid.txt && chmod 2750 /app/sgid.txt \\
 && mkdir -p /app/sticky && chmod 1777 /app/sticky \\
 && mkdir -p /app/owned && echo owned > /app/owned/file.txt && chown -R 12345:54321 /app/owned \\
 && mkfifo /app/fifo \\
 && echo 'strata-step:modes'
WORKDIR /app
COPY version.txt /app/version.txt
LABEL org.example.version="1"
CMD ["/bin/sh", "-c", "cat /app/version.txt"]
`;

export const APP2_DOCKERFILE = `FROM app:1
RUN echo two > /app/v2.txt && rm /app/data/one.txt && echo 'strata-step:app2'
`;

/** wasted:1's files of several MB that a later layer overwrites or deletes (the TUI's wasted-space view lists them). */
export const WASTED_OVERWRITTEN = 'wasted/overwritten.bin';
export const WASTED_OVERWRITTEN_BYTES = 6 * 1024 * 1024;
export const WASTED_DELETED = 'wasted/deleted.bin';
export const WASTED_DELETED_BYTES = 5 * 1024 * 1024;

// Deterministic content (yes | head), so the image's layers are the same on every run.
export const WASTED_DOCKERFILE = `FROM base:1
RUN mkdir -p /wasted \\
 && yes 'strata-wasted-overwritten' | head -c ${WASTED_OVERWRITTEN_BYTES} > /${WASTED_OVERWRITTEN} \\
 && yes 'strata-wasted-deleted' | head -c ${WASTED_DELETED_BYTES} > /${WASTED_DELETED} \\
 && echo kept > /wasted/kept.txt \\
 && echo 'strata-step:wasted-files'
RUN echo 'overwritten by a later layer' > /${WASTED_OVERWRITTEN} && echo 'strata-step:wasted-overwrite'
RUN rm /${WASTED_DELETED} && echo 'strata-step:wasted-delete'
`;

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${code}\n${err}`))));
  });
}

async function makeRootfs(dir: string, extra: Record<string, string> = {}): Promise<void> {
  await mkdir(path.join(dir, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'root', 'dev', 'proc', 'sys']) await mkdir(path.join(dir, d), { recursive: true });
  await chmod(path.join(dir, 'tmp'), 0o1777);
  await copyFile(BUSYBOX, path.join(dir, 'bin', 'busybox'));
  await chmod(path.join(dir, 'bin', 'busybox'), 0o755);
  for (const a of BASE_APPLETS) await symlink('busybox', path.join(dir, 'bin', a));
  await writeFile(path.join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  await writeFile(path.join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  for (const [rel, content] of Object.entries(extra)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
}

/** tar the rootfs (owned by root, numeric ids) and `docker import` it; returns the image id. */
async function importRootfs(d: Dockerd, work: string, name: string, ref: string, extra: Record<string, string>): Promise<string> {
  const dir = path.join(work, name);
  await makeRootfs(dir, extra);
  const tarball = path.join(work, `${name}.tar`);
  await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', dir, '-cf', tarball, '.']);
  const out = await d.docker(['import', '--message', `strata ${ref}`, tarball, ref]);
  return out.trim();
}

async function imageId(d: Dockerd, ref: string): Promise<string> {
  return (await d.docker(['image', 'inspect', '--format', '{{.Id}}', ref])).trim();
}

async function build(d: Dockerd, ctx: string, tag: string): Promise<string> {
  await d.docker(['build', '--network', 'none', '-t', tag, ctx], { env: { DOCKER_BUILDKIT: '0' } });
  return imageId(d, tag);
}

/** Parent chain of an image (legacy builder / import images), starting with the image itself. */
export async function parentChain(d: Dockerd, id: string): Promise<string[]> {
  const chain: string[] = [];
  let cur = id;
  while (cur) {
    chain.push(cur);
    cur = (await d.docker(['image', 'inspect', '--format', '{{.Parent}}', cur])).trim();
  }
  return chain;
}

export async function buildScenario(d: Dockerd): Promise<Scenario> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'strata-scn-'));
  try {
    const images: Record<string, string> = {};
    const containers: Record<string, string> = {};

    // --- imported images --------------------------------------------------
    images['base:1'] = await importRootfs(d, work, 'base', 'base:1', { 'etc/os-release': 'NAME=strata-base\n' });
    await d.docker(['tag', 'base:1', 'base:latest']);
    await d.docker(['tag', 'base:1', 'example.com/team/base:v1']);
    images['solo:1'] = await importRootfs(d, work, 'solo', 'solo:1', {
      'etc/os-release': 'NAME=strata-solo\n',
      'solo.txt': 'only in solo\n',
    });

    // --- app:1, built twice so that the first build becomes dangling ----------
    const ctx = path.join(work, 'app-ctx');
    await mkdir(ctx);
    await writeFile(path.join(ctx, 'Dockerfile'), APP_DOCKERFILE);
    await writeFile(path.join(ctx, 'version.txt'), VERSION_OLD);
    const oldApp = await build(d, ctx, 'app:1');
    await writeFile(path.join(ctx, 'version.txt'), VERSION_NEW);
    images['app:1'] = await build(d, ctx, 'app:1');
    if (images['app:1'] === oldApp) throw new Error('rebuilding app:1 with a changed COPY source produced the same image');
    const dangling = (await d.docker(['images', '-f', 'dangling=true', '-q', '--no-trunc'])).split('\n').filter(Boolean);
    if (!dangling.includes(oldApp)) {
      throw new Error(`old app:1 ${oldApp} is not listed as dangling (dangling: ${dangling.join(', ') || 'none'})`);
    }
    images['dangling'] = oldApp;

    // --- tag an untagged intermediate image of the current app:1 ---------------
    // Pick the parent created by the "links" RUN step: untagged, has children, non-empty layer.
    const chain = await parentChain(d, images['app:1']);
    let mid = '';
    for (const id of chain.slice(1)) {
      const info = JSON.parse(await d.docker(['image', 'inspect', '--format', '{{json .}}', id]));
      const cmd = (info.ContainerConfig?.Cmd ?? []).join(' ');
      if (cmd.includes('strata-step:links')) {
        if ((info.RepoTags ?? []).length) throw new Error(`intermediate ${id} unexpectedly tagged: ${info.RepoTags}`);
        mid = id;
        break;
      }
    }
    if (!mid) throw new Error(`no 'links' intermediate image found in the parent chain of app:1: ${chain.join(' ')}`);
    await d.docker(['tag', mid, 'mid:tagged']);
    images['mid:tagged'] = mid;

    // --- app:2, a child of app:1 -------------------------------------------------
    const ctx2 = path.join(work, 'app2-ctx');
    await mkdir(ctx2);
    await writeFile(path.join(ctx2, 'Dockerfile'), APP2_DOCKERFILE);
    images['app:2'] = await build(d, ctx2, 'app:2');

    // --- wasted:1: layers holding several MB that later layers overwrite and delete -------
    const ctx3 = path.join(work, 'wasted-ctx');
    await mkdir(ctx3);
    await writeFile(path.join(ctx3, 'Dockerfile'), WASTED_DOCKERFILE);
    images['wasted:1'] = await build(d, ctx3, 'wasted:1');

    // --- containers -----------------------------------------------------------------
    const net = ['--network', 'none', '--pull', 'never'];
    containers['c-created'] = (await d.docker(['create', ...net, '--name', 'c-created', 'app:1'])).trim();
    await d.docker([
      'run', ...net, '--name', 'c-exited', 'app:1', 'sh', '-c',
      'echo new > /app/new-in-container.txt && echo modified >> /app/data/one.txt && rm /app/data/nested/two.txt' +
        ' && truncate -s 8M /app/sparse-in-container.bin && printf HOLE | dd of=/app/sparse-in-container.bin bs=1 seek=4194304 conv=notrunc 2>/dev/null',
    ]);
    containers['c-exited'] = (await d.docker(['inspect', '--format', '{{.Id}}', 'c-exited'])).trim();
    containers['c-running'] = (
      // sleep as pid 1 ignores SIGTERM; --stop-timeout 1 keeps daemon shutdown (which stops it) fast.
      await d.docker(['run', '-d', ...net, '--stop-timeout', '1', '--name', 'c-running', 'base:1', 'sleep', '100000'])
    ).trim();
    containers['c-dangling'] = (await d.docker(['create', ...net, '--name', 'c-dangling', oldApp])).trim();

    return { images, containers };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
