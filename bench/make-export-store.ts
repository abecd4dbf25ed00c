// Builds the data-root for the export benchmarks: a real Docker overlay2 store holding ONE big committed
// layer (~20,000 files of 1 KB–200 KB, a few multi-MB files, nested directories, symlinks, hardlinks,
// some long names) with the tar-split dockerd wrote for it, so `strata diff` can rebuild it exactly.
//
//   node --import=tsx bench/make-export-store.ts [--files N] [--seed S] [--force] [DIR]
//
// How: the content is generated into a directory, archived with GNU tar, and the tar is imported with
// `docker import` into a private dockerd (test/helpers/dockerd.ts) whose data-root is DIR/root; the daemon
// is then stopped and only the on-disk store remains. DIR (default /tmp/strata-bench/export) is cached:
// when it holds a marker for the same parameters it is reused as it is. No dockerd → a loud failure.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCKER_CLIENT, mountsUnder, startDockerd, type Dockerd } from '../test/helpers/dockerd.js';

/** Bump when the shape of the generated store changes, so cached stores are rebuilt. */
const GENERATOR_VERSION = 1;
const MARKER = '.strata-bench.json';
export const EXPORT_IMAGE = 'big:1';

export interface ExportStoreParams {
  /** Regular files of 1 KB–200 KB (most of them small). */
  files: number;
  /** Sizes of the few big files, in MiB. */
  bigFilesMiB: number[];
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Files whose path is longer than 100 bytes (GNU long-name entries in the tar). */
  longNames: number;
  seed: number;
}

export interface ExportStoreStats {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Bytes of regular file content (hardlinks once). */
  contentBytes: number;
  /** The imported tar (GNU tar's output, = what strata diff rebuilds). */
  tarBytes: number;
  tarSha256: string;
}

export interface ExportStoreInfo {
  /** The cache directory (marker, work files). */
  dir: string;
  /** The Docker data-root inside it. */
  root: string;
  params: ExportStoreParams;
  stats: ExportStoreStats;
  imageId: string;
  chainId: string;
  diffId: string;
  cacheId: string;
  contentDir: string;
  generationSeconds: number;
  reused: boolean;
}

export function defaultExportParams(files = 20_000): ExportStoreParams {
  return { files, bigFilesMiB: [3, 5, 8, 16, 24], dirs: Math.max(10, Math.round(files / 50)), symlinks: 40, hardlinks: 30, longNames: 20, seed: 1 };
}

/** mulberry32: small, fast, seeded. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOPS = ['usr/lib', 'usr/share', 'usr/local/lib', 'opt/app', 'var/lib', 'app/node_modules', 'usr/lib/python3/dist-packages', 'srv/data'];
const EXTS = ['.so', '.py', '.js', '.json', '.h', '.txt', '.dat', '.png', ''];

/** 88 %: 1–16 KB, 12 %: 16–200 KB, log-uniform within each band. */
function fileSize(rnd: () => number): number {
  const [lo, hi] = rnd() < 0.88 ? [1024, 16 * 1024] : [16 * 1024, 200 * 1024];
  return Math.round(lo * Math.pow(hi / lo, rnd()));
}

/** Writes the layer's content below `dir`; returns what it wrote. */
export function generateContent(dir: string, p: ExportStoreParams): Omit<ExportStoreStats, 'tarBytes' | 'tarSha256'> {
  const rnd = prng(p.seed);
  // A pool of pseudo-random bytes (half incompressible, half text-like) that files are sliced from.
  const maxBig = Math.max(0, ...p.bigFilesMiB) * 1024 * 1024;
  const pool = Buffer.allocUnsafe(Math.max(8 << 20, maxBig + (1 << 20)));
  for (let i = 0; i + 4 <= pool.length; i += 4) pool.writeUInt32LE(Math.floor(rnd() * 4294967296), i);
  const text = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 {}();=_-.\n';
  for (let i = 0; i < pool.length >> 1; i++) pool[i] = text.charCodeAt(pool[i] % text.length);
  const slice = (size: number) => {
    const at = Math.floor(rnd() * (pool.length - size));
    return pool.subarray(at, at + size);
  };

  const dirs: string[] = [];
  for (let i = 0; i < p.dirs; i++) {
    const top = TOPS[i % TOPS.length];
    const depth = Math.floor(rnd() * 4);
    const parts = [top, `pkg${i.toString(36)}`];
    for (let d = 0; d < depth; d++) parts.push(['lib', 'share', 'impl', 'locale', 'bin', 'data'][Math.floor(rnd() * 6)] + d);
    dirs.push(parts.join('/'));
  }
  for (const d of dirs) mkdirSync(join(dir, d), { recursive: true });
  mkdirSync(join(dir, 'empty/dir'), { recursive: true });

  const files: string[] = [];
  let contentBytes = 0;
  const write = (path: string, data: Buffer) => {
    writeFileSync(join(dir, path), data);
    files.push(path);
    contentBytes += data.length;
  };
  for (let i = 0; i < p.files; i++) {
    const d = dirs[Math.floor(rnd() * dirs.length)];
    let base = `f${i.toString(36)}${EXTS[Math.floor(rnd() * EXTS.length)]}`;
    if (i < p.longNames) base = `long-${'n'.repeat(90)}-${base}`;
    write(posix.join(d, base), slice(fileSize(rnd)));
  }
  mkdirSync(join(dir, 'opt/big'), { recursive: true });
  for (const [i, mib] of p.bigFilesMiB.entries()) write(`opt/big/blob${i}.bin`, slice(mib * 1024 * 1024));
  write('empty/zero-a', Buffer.alloc(0));
  write('empty/zero-b', Buffer.alloc(0));

  for (let i = 0; i < p.symlinks; i++) {
    const target = files[Math.floor(rnd() * files.length)];
    const at = `${dirs[Math.floor(rnd() * dirs.length)]}/link${i}`;
    const rel = posix.relative(posix.dirname(at), target);
    symlinkSync(i % 10 === 9 ? `/${target}` : rel, join(dir, at)); // mostly relative, some absolute
  }
  for (let i = 0; i < p.hardlinks; i++) {
    const target = files[Math.floor(rnd() * p.files)];
    linkSync(join(dir, target), join(dir, `${dirs[Math.floor(rnd() * dirs.length)]}/hard${i}`));
  }
  return { files: files.length, dirs: countDirs(dir), symlinks: p.symlinks, hardlinks: p.hardlinks, contentBytes };
}

function countDirs(dir: string): number {
  let n = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) (n++, stack.push(join(d, e.name)));
  }
  return n;
}

function sha256File(file: string): Promise<{ hex: string; bytes: number }> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    let bytes = 0;
    createReadStream(file)
      .on('data', (c) => (h.update(c as Buffer), (bytes += (c as Buffer).length)))
      .on('error', rej)
      .on('end', () => res({ hex: h.digest('hex'), bytes }));
  });
}

interface Marker {
  generator: number;
  params: ExportStoreParams;
  info: Omit<ExportStoreInfo, 'reused'>;
}

function keyOf(params: ExportStoreParams): string {
  return JSON.stringify({ generator: GENERATOR_VERSION, params });
}

export async function makeExportStore(dirArg: string, params: ExportStoreParams = defaultExportParams(), opts: { force?: boolean; log?: (s: string) => void } = {}): Promise<ExportStoreInfo> {
  const log = opts.log ?? (() => {});
  const dir = resolve(dirArg);
  const markerFile = join(dir, MARKER);
  if (!opts.force && existsSync(markerFile)) {
    try {
      const m = JSON.parse(readFileSync(markerFile, 'utf8')) as Marker;
      if (keyOf(m.params) === keyOf(params) && existsSync(m.info.contentDir)) return { ...m.info, reused: true };
    } catch {
      // unreadable marker: rebuild
    }
  }
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    // Only ever delete what this script made, and never through a mount.
    if (!existsSync(markerFile) && !existsSync(join(dir, `${MARKER}.partial`))) {
      throw new Error(`${dir} exists, is not empty and holds no ${MARKER}: refusing to replace it`);
    }
    const mounted = await mountsUnder([dir]);
    if (mounted.length) throw new Error(`refusing to remove ${dir}: still mounted:\n${mounted.join('\n')}`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${MARKER}.partial`), keyOf(params));
  const start = performance.now();

  const work = join(dir, 'work');
  const content = join(work, 'content');
  const tarFile = join(work, 'layer.tar');
  mkdirSync(content, { recursive: true });
  log(`export store: generating ${params.files.toLocaleString('en-US')} files in ${content}`);
  const gen = generateContent(content, params);
  const tar = spawnSync('tar', ['--numeric-owner', '-C', content, '-cf', tarFile, '.'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (tar.status !== 0) throw new Error(`tar exited ${tar.status}: ${tar.stderr}`);
  const sum = await sha256File(tarFile);
  log(`export store: layer tar ${(sum.bytes / 1e6).toFixed(0)} MB, sha256:${sum.hex.slice(0, 12)}…; importing with a private dockerd`);

  const root = join(dir, 'root');
  mkdirSync(root, { recursive: true });
  let d: Dockerd | null = null;
  let imageId: string;
  try {
    try {
      d = await startDockerd({ driver: 'overlay2', root, startTimeoutMs: 90_000 });
    } catch (err) {
      throw new Error(`cannot start dockerd (${DOCKER_CLIENT} / overlay2) to build the export store: ${(err as Error).message}`);
    }
    imageId = (await d.docker(['import', tarFile, EXPORT_IMAGE])).trim();
    const layers = JSON.parse(await d.docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', EXPORT_IMAGE])) as string[];
    if (layers.length !== 1 || layers[0] !== `sha256:${sum.hex}`) throw new Error(`docker import made layers ${JSON.stringify(layers)}, expected [sha256:${sum.hex}]`);
  } finally {
    if (d) {
      await d.stop();
      await rm(d.execRoot, { recursive: true, force: true });
    }
  }
  const diffId = `sha256:${sum.hex}`;
  const chainId = diffId; // a base layer's ChainID is its DiffID
  const layerDb = join(root, 'image', 'overlay2', 'layerdb', 'sha256', sum.hex);
  const cacheId = readFileSync(join(layerDb, 'cache-id'), 'utf8').trim();
  if (!existsSync(join(layerDb, 'tar-split.json.gz'))) throw new Error(`${layerDb}: dockerd wrote no tar-split.json.gz`);
  const contentDir = join(root, 'overlay2', cacheId, 'diff');
  if (!existsSync(contentDir)) throw new Error(`${contentDir}: missing after docker import`);
  rmSync(work, { recursive: true, force: true });

  const generationSeconds = (performance.now() - start) / 1000;
  const info: Omit<ExportStoreInfo, 'reused'> = {
    dir,
    root,
    params,
    stats: { ...gen, tarBytes: sum.bytes, tarSha256: sum.hex },
    imageId,
    chainId,
    diffId,
    cacheId,
    contentDir,
    generationSeconds,
  };
  const marker: Marker = { generator: GENERATOR_VERSION, params, info };
  writeFileSync(join(dir, `${MARKER}.partial`), JSON.stringify(marker, null, 2));
  renameSync(join(dir, `${MARKER}.partial`), markerFile);
  return { ...info, reused: false };
}

async function main(argv: string[]): Promise<void> {
  let dir = '/tmp/strata-bench/export';
  let force = false;
  const explicit: Partial<ExportStoreParams> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} wants a whole number`);
      return v;
    };
    if (a === '--files') explicit.files = num();
    else if (a === '--seed') explicit.seed = num();
    else if (a === '--force') force = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: make-export-store.ts [--files N] [--seed S] [--force] [DIR]\n');
      return;
    } else if (!a.startsWith('-')) dir = a;
    else throw new Error(`unknown argument ${a}`);
  }
  const params = { ...defaultExportParams(explicit.files), ...explicit };
  const info = await makeExportStore(dir, params, { force, log: (s) => process.stderr.write(`${s}\n`) });
  process.stdout.write(`${info.reused ? 'reused' : 'generated'} ${info.root} (${info.generationSeconds.toFixed(1)} s to generate)\n${JSON.stringify({ ...info.stats, chainId: info.chainId, contentDir: info.contentDir })}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`make-export-store: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
