// `strata inspect` against `docker inspect` on the habits scenario: every image (docker images -a) and
// every container, key by key (Mounts in one order: docker lists them in Go's random map order), the exact
// bytes of an image and of a container with at most one mount, --format templates line by line, and the
// refs that name nothing (docker's lines, exit 1). Offline, after the daemon stopped, the images are still
// what docker said, and the containers what dockerd last wrote.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { DOCKER_CLIENT } from '../../helpers/dockerd.js';
import type { HabitsContext } from '../../helpers/habits-scenario.js';

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** docker with its exit code and stderr (a miss exits 1 but still prints the objects found). */
function docker(ctx: HabitsContext, args: string[]): Run {
  const r = spawnSync(DOCKER_CLIENT, ['-H', `unix://${ctx.d.sock}`, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_CONFIG: join(ctx.d.execRoot, 'client') },
    maxBuffer: 256 * 1024 * 1024,
  });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status };
}

const lines = (s: string) => s.split('\n').filter(Boolean);

type Obj = Record<string, unknown> & { Id: string; Mounts?: Array<{ Destination: string }> };

/** Docker's Mounts come in Go's random map order: both sides by destination. */
function canonical(o: Obj): Obj {
  return o.Mounts ? { ...o, Mounts: [...o.Mounts].sort((a, b) => (a.Destination < b.Destination ? -1 : 1)) } : o;
}

/** Every top-level key compared on its own, so that a failure names the keys that differ. */
function sameObjects(t: Test, mine: Obj[], theirs: Obj[], what: string): void {
  t.equal(mine.length, theirs.length, `${what}: as many objects as docker`);
  for (let i = 0; i < Math.min(mine.length, theirs.length); i++) {
    const a = canonical(mine[i]);
    const b = canonical(theirs[i]);
    const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])];
    t.same(Object.keys(a), Object.keys(b), `${what} ${b.Id.slice(0, 19)}: docker's keys in docker's order`);
    const differ = keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    t.same(differ, [], `${what} ${b.Id.slice(0, 19)}: every key equal to docker's`);
    for (const k of differ) t.same(a[k], b[k], `${what} ${b.Id.slice(0, 19)}: ${k}`);
  }
}

/** Full ids, so that no ref is ambiguous between a container and an image. */
function allRefs(ctx: HabitsContext): { images: string[]; containers: string[] } {
  const images = [...new Set(lines(docker(ctx, ['images', '-a', '-q', '--no-trunc']).stdout))];
  const containers = lines(docker(ctx, ['ps', '-a', '-q', '--no-trunc']).stdout);
  return { images, containers };
}

const TEMPLATES = [
  '{{.Id}}',
  '{{json .Config}}',
  '{{.Config.Env}}',
  '{{index .Config.Labels "org.example.version"}}',
  '{{range .RootFS.Layers}}{{.}} {{end}}',
  '{{.Created}} {{.Parent}} {{.Size}} {{.VirtualSize}} {{.Os}}/{{.Architecture}} {{.Comment}}',
  '{{json .GraphDriver}} {{json .RootFS}}',
  '{{json .ContainerConfig}}',
];

const CONTAINER_TEMPLATES = [
  '{{.State.Status}} {{.Name}} {{.State.ExitCode}} {{.State.Running}} {{.Image}}',
  '{{json .State}}',
  '{{json .Config}} {{json .HostConfig}}',
  '{{range .Mounts}}{{.Name}} {{.Source}} {{.Destination}} {{.Mode}} {{.RW}};{{end}}',
  '{{json .NetworkSettings}}',
  '{{.GraphDriver.Data.LowerDir}} {{.GraphDriver.Name}}',
  '{{index .Config.Labels "org.example.role"}} {{.Config.Cmd}} {{.Path}} {{json .Args}}',
];

export async function live(t: Test, ctx: HabitsContext): Promise<void> {
  const { images, containers } = allRefs(ctx);
  t.ok(images.length >= 10 && containers.length >= 5, `the scenario has images (${images.length}) and containers (${containers.length})`);

  t.test('every image and every container, key by key', async (t) => {
    const refs = [...images, ...containers];
    const mine = ctx.strata(['inspect', ...refs]);
    t.equal(mine.code, 0, `strata inspect exits 0${mine.code ? `: ${mine.stderr.trim()}` : ''}`);
    t.equal(mine.stderr, '', 'no warnings: dockerd runs on the root, so running containers are not stale');
    const theirs = docker(ctx, ['inspect', ...refs]);
    t.equal(theirs.code, 0, theirs.stderr);
    sameObjects(t, JSON.parse(mine.stdout), JSON.parse(theirs.stdout), 'inspect');
    t.equal(ctx.strata(['inspect', '--json', ...refs]).stdout, mine.stdout, '--json prints the same');
    ctx.saved.inspectImages = docker(ctx, ['inspect', ...images]).stdout;
  });

  t.test('the exact bytes of an image and of a container', async (t) => {
    for (const ref of ['app:1', 'bk:1', 'base:1', 'c-exited', 'c-running', 'c-created']) {
      const mine = ctx.strata(['inspect', ref]);
      t.equal(mine.stdout, docker(ctx, ['inspect', ref]).stdout, `strata inspect ${ref}: docker's bytes`);
    }
    const typed = ctx.strata(['inspect', '--type', 'image', 'app:1']);
    t.equal(typed.stdout, docker(ctx, ['image', 'inspect', 'app:1']).stdout, '--type image: docker image inspect');
    const c = ctx.strata(['inspect', '--type', 'container', 'c-exited']);
    t.equal(c.stdout, docker(ctx, ['container', 'inspect', 'c-exited']).stdout, '--type container: docker container inspect');
  });

  t.test('--format, line by line', async (t) => {
    const some = ['app:1', 'app:2', 'bk:1', 'labelled:1', 'base:1', 'mid:tagged', ctx.scenario.images.dangling];
    for (const f of TEMPLATES) {
      const mine = ctx.strata(['inspect', '--format', f, ...some]);
      const theirs = docker(ctx, ['inspect', '--format', f, ...some]);
      t.equal(mine.code, theirs.code, `-f '${f}': docker's exit code`);
      t.same(lines(mine.stdout), lines(theirs.stdout), `-f '${f}' over images`);
    }
    const names = Object.keys(ctx.scenario.containers);
    for (const f of CONTAINER_TEMPLATES) {
      const mine = ctx.strata(['inspect', '-f', f, ...names]);
      const theirs = docker(ctx, ['inspect', '-f', f, ...names]);
      t.equal(mine.code, theirs.code, `-f '${f}': docker's exit code`);
      const mounts = f.includes('range .Mounts');
      // Mounts come in random order from docker: compare each line's entries as a set.
      const norm = (out: string) => lines(out).map((l) => (mounts ? l.split(';').sort().join(';') : l));
      t.same(norm(mine.stdout), norm(theirs.stdout), `-f '${f}' over containers`);
    }
  });

  t.test('refs that name nothing, as docker reports them', async (t) => {
    for (const args of [
      ['nope', 'base:1'],
      ['--type', 'image', 'c-exited', 'app:1'],
      ['--type', 'container', 'app:1', 'c-exited'],
      ['-f', '{{.Id}}', 'nope'],
      ['no-such:tag', 'c-vol', 'nope2'],
    ]) {
      const mine = ctx.strata(['inspect', ...args]);
      const theirs = docker(ctx, ['inspect', ...args]);
      t.equal(mine.code, theirs.code, `inspect ${args.join(' ')}: exit ${theirs.code}`);
      const sorted = (o: string) => (o.startsWith('[') ? JSON.parse(o).map(canonical) : o);
      t.same(sorted(mine.stdout), sorted(theirs.stdout), `inspect ${args.join(' ')}: stdout as docker's`);
      t.same(lines(mine.stderr), lines(theirs.stderr), `inspect ${args.join(' ')}: docker's error lines`);
    }
  });
}

export async function offline(t: Test, ctx: HabitsContext): Promise<void> {
  const containers = Object.values(ctx.scenario.containers);
  const live = typeof ctx.saved.inspectImages === 'string' ? (JSON.parse(ctx.saved.inspectImages) as Obj[]) : [];
  const images = live.map((o) => o.Id);
  t.ok(images.length > 0, 'live images were saved');

  const mine = ctx.strata(['inspect', ...images]);
  t.equal(mine.code, 0, mine.stderr);
  sameObjects(t, JSON.parse(mine.stdout), live, 'offline image');

  const r = ctx.strata(['inspect', ...containers]);
  t.equal(r.code, 0, r.stderr);
  const objs = JSON.parse(r.stdout) as Array<Obj & { State: { Running: boolean; Status: string } }>;
  t.equal(objs.length, containers.length, 'every container, without a daemon');
  for (const o of objs) {
    const onDisk = JSON.parse(readFileSync(join(ctx.root, 'containers', o.Id, 'config.v2.json'), 'utf8'));
    t.equal(o.State.Running, onDisk.State.Running === true, `${o.Id.slice(0, 12)}: State as dockerd last wrote it`);
  }
  t.notMatch(r.stderr, /recorded as running/, 'the daemon stopped its containers on the way out: nothing recorded as running');
}
