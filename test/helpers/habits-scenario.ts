// The store issue #13's checks share: the scenario of scenario.ts plus what Docker's daily commands look
// at beyond images and containers: a named volume with data used by a container, an anonymous volume,
// a BuildKit build (so that Build Cache exists) and a labelled image. Built once per driver by
// test/docker/habits.test.ts; every part's checks (test/docker/habits/*.ts) read it.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dockerd, StorageDriverName } from './dockerd.js';
import { buildScenario, type Scenario } from './scenario.js';

// npm run test:docker builds first and sets STRATA_TEST_CLI=dist: the bundle starts in a tenth of the time
// tsx takes, and these checks run the CLI some hundreds of times. Otherwise the source runs (no stale bundle).
const DIST = fileURLToPath(new URL('../../dist/strata.js', import.meta.url));
const SOURCE = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
const CLI_ARGS = process.env.STRATA_TEST_CLI === 'dist' ? [DIST] : ['--import=tsx', SOURCE];

export interface StrataRun {
  stdout: string;
  stderr: string;
  code: number | null;
}

export interface StrataRunOptions {
  env?: Record<string, string>;
  input?: string | Buffer;
  /** Leave out the --root argument (default: --root ctx.root is appended). */
  noRoot?: boolean;
  /** Decode stdout as this (default utf8); 'buffer' keeps bytes in stdoutBytes. */
  encoding?: 'utf8' | 'latin1';
}

export interface HabitsContext {
  d: Dockerd;
  driver: StorageDriverName;
  /** The daemon's data-root, which strata reads. */
  root: string;
  scenario: HabitsScenario;
  /** Runs the strata CLI (from source) with `--root ctx.root`. */
  strata(args: string[], opts?: StrataRunOptions): StrataRun;
  /** Hand-over from a part's live() to its offline(). */
  saved: Record<string, unknown>;
}

export interface HabitsScenario extends Scenario {
  /** Named volumes by name ('vol-data'), and the anonymous volume's generated name under 'anonymous'. */
  volumes: Record<string, string>;
}

/** The BuildKit build: two RUN steps and a COPY, so that its cache holds several records. */
export const BK_DOCKERFILE = `FROM base:1
RUN mkdir -p /bk && echo buildkit-one > /bk/one.txt
COPY ctx.txt /bk/ctx.txt
RUN dd if=/dev/zero of=/bk/zeros.bin bs=1024 count=300 2>/dev/null && echo 'strata-step:bk'
LABEL org.example.built-by="buildkit" org.example.version="bk"
CMD ["/bin/cat", "/bk/one.txt"]
`;

/** A small image with labels only, for the label filters. */
export const LABELLED_DOCKERFILE = `FROM solo:1
LABEL org.example.team="storage" org.example.tier="gold" org.example.empty=""
`;

export async function buildHabitsScenario(d: Dockerd): Promise<HabitsScenario> {
  const base = await buildScenario(d);
  const work = await mkdtemp(path.join(os.tmpdir(), 'strata-habits-'));
  try {
    const images = { ...base.images };
    const containers = { ...base.containers };
    const volumes: Record<string, string> = {};
    const net = ['--network', 'none', '--pull', 'never'];

    // --- a BuildKit build (its cache is Build Cache in docker system df) ---------------------------
    const bk = path.join(work, 'bk-ctx');
    await mkdir(bk);
    await writeFile(path.join(bk, 'Dockerfile'), BK_DOCKERFILE);
    await writeFile(path.join(bk, 'ctx.txt'), 'from the build context\n');
    await d.docker(['build', '--network', 'none', '-t', 'bk:1', bk], { env: { DOCKER_BUILDKIT: '1' } });
    images['bk:1'] = (await d.docker(['image', 'inspect', '--format', '{{.Id}}', 'bk:1'])).trim();

    // --- a labelled image (legacy builder) ---------------------------------------------------------
    const lab = path.join(work, 'lab-ctx');
    await mkdir(lab);
    await writeFile(path.join(lab, 'Dockerfile'), LABELLED_DOCKERFILE);
    await d.docker(['build', '--network', 'none', '-t', 'labelled:1', lab], { env: { DOCKER_BUILDKIT: '0' } });
    images['labelled:1'] = (await d.docker(['image', 'inspect', '--format', '{{.Id}}', 'labelled:1'])).trim();

    // --- volumes: a named one with data, used by an exited container; an anonymous one ------------
    await d.docker(['volume', 'create', '--label', 'org.example.kind=data', 'vol-data']);
    volumes['vol-data'] = 'vol-data';
    containers['c-vol'] = (
      await d.docker([
        'run', ...net, '--name', 'c-vol', '--label', 'org.example.role=writer', '-v', 'vol-data:/data', '-v', '/anon',
        'base:1', 'sh', '-c', 'dd if=/dev/zero of=/data/blob.bin bs=1024 count=200 2>/dev/null && echo hi > /data/hi.txt && echo anon > /anon/a.txt',
      ])
    ).trim();
    containers['c-vol'] = (await d.docker(['inspect', '--format', '{{.Id}}', 'c-vol'])).trim();
    const mounts = JSON.parse(await d.docker(['inspect', '--format', '{{json .Mounts}}', 'c-vol'])) as Array<{ Name?: string; Destination: string }>;
    const anon = mounts.find((m) => m.Destination === '/anon');
    if (!anon?.Name) throw new Error(`c-vol has no anonymous volume at /anon: ${JSON.stringify(mounts)}`);
    volumes['anonymous'] = anon.Name;
    // An unused volume, so that reclaimable volume space is not zero.
    await d.docker(['volume', 'create', 'vol-unused']);
    volumes['vol-unused'] = 'vol-unused';

    return { ...base, images, containers, volumes };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export function makeContext(d: Dockerd, scenario: HabitsScenario): HabitsContext {
  return {
    d,
    driver: d.driver,
    root: d.root,
    scenario,
    saved: {},
    strata(args, opts = {}) {
      const full = opts.noRoot ? args : [...args, '--root', d.root];
      const r = spawnSync(process.execPath, [...CLI_ARGS, ...full], {
        encoding: opts.encoding ?? 'utf8',
        input: opts.input,
        env: { ...process.env, ...(opts.env ?? {}) },
        maxBuffer: 1024 * 1024 * 1024,
      });
      return { stdout: r.stdout, stderr: r.stderr, code: r.status };
    },
  };
}
