// Generates a synthetic Docker overlay2 data-root for benchmarks: N images over M layerdb layers, in the
// layout dockerd 20.10 writes, shaped like a busy build host (shared base chains, legacy-builder parent
// chains, dangling images, containers) with real files in every layer so that walking it is real work.
//
//   node --import=tsx bench/make-store.ts [--images N] [--layers M] [--containers C] [--bases B]
//                                         [--seed S] [--force] DIR
//
// The store is built with the unit tests' StoreBuilder; this file only adds what the builder has no
// words for (symlinks and hardlinks inside a layer, with the layerdb size kept equal to directory.Size of
// diff/). DIR is cached: when it holds a marker for the same parameters it is reused as it is.
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreBuilder, type BuiltLayer, type Files } from '../test/helpers/synthetic-store.js';

/** Bump when the shape of generated stores changes, so cached stores are rebuilt. */
const GENERATOR_VERSION = 1;
const MARKER = '.strata-bench.json';

export interface StoreParams {
  images: number;
  layers: number;
  containers: number;
  /** Base chains (3–8 layers each) that the other images are built on. */
  bases: number;
  seed: number;
}

export interface StoreStats {
  images: number;
  layers: number;
  containers: number;
  /** Images without tag and without children (docker images -f dangling=true). */
  dangling: number;
  /** Images with a recorded parent (legacy builder). */
  withParent: number;
  /** Untagged images with children (shown only by images -a). */
  intermediates: number;
  tags: number;
  digests: number;
  /** Regular files, symlinks and hardlinks written inside layer diff/ directories. */
  layerFiles: number;
  layerSymlinks: number;
  layerHardlinks: number;
  /** Bytes of regular file content in layers (hardlinks once). */
  layerBytes: number;
  maxChainDepth: number;
  /** The whole data-root: regular files (hardlinks once per name), symlinks, directories. */
  totalFiles?: number;
  totalSymlinks?: number;
  totalDirs?: number;
}

export interface StoreInfo {
  dir: string;
  params: StoreParams;
  stats: StoreStats;
  /** Seconds the generation took (when the store was reused: the time it took when it was made). */
  generationSeconds: number;
  reused: boolean;
}

export function defaultParams(images = 2000, layers = 10_000): StoreParams {
  return { images, layers, containers: Math.max(2, Math.min(40, Math.round(images / 50))), bases: Math.max(1, Math.min(50, Math.round(images / 40))), seed: 1 };
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

const BASE_NAMES = ['alpine', 'debian', 'ubuntu', 'node', 'python', 'golang', 'openjdk', 'nginx', 'postgres', 'redis', 'ruby', 'php', 'rust', 'busybox', 'centos', 'fedora'];
const DIRS = ['usr/lib', 'usr/share/doc', 'usr/local/bin', 'etc', 'opt/app', 'var/lib/dpkg/info', 'usr/lib/python3/site-packages', 'app/node_modules', 'srv/www/static'];
const EXTS = ['.so', '.py', '.js', '.conf', '.txt', '.json', '.h', '.md', ''];

interface LayerPlan {
  files: Files;
  symlinks: Array<[path: string, target: string]>;
  hardlinks: Array<[existing: string, path: string]>;
}

class Content {
  private readonly pool: string;
  constructor(private readonly rnd: () => number) {
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n{}();=_-.';
    const chars: string[] = [];
    for (let i = 0; i < 64 * 1024; i++) chars.push(alphabet[Math.floor(rnd() * alphabet.length)]);
    this.pool = chars.join('');
  }

  /** 100 B – 20 KB, log-uniform (most files small, a few large). */
  text(): string {
    const size = Math.round(100 * Math.pow(200, this.rnd()));
    const at = Math.floor(this.rnd() * (this.pool.length - size));
    return this.pool.slice(at, at + size);
  }

  /** 5–15 files in 1–4 level deep directories, 0–2 symlinks, sometimes a hardlink. */
  layer(tag: string): LayerPlan {
    const rnd = this.rnd;
    const files: Files = {};
    const n = 5 + Math.floor(rnd() * 11);
    const top = DIRS[Math.floor(rnd() * DIRS.length)];
    const pkg = `${tag}-${Math.floor(rnd() * 1e6).toString(36)}`;
    const paths: string[] = [];
    for (let i = 0; i < n; i++) {
      const depth = Math.floor(rnd() * 3);
      const sub = ['', 'lib', 'lib/impl', 'share/locale/de'][depth + (rnd() < 0.15 ? 1 : 0)];
      const dir = posix.join(top, pkg, sub);
      const path = posix.join(dir, `f${i}${EXTS[Math.floor(rnd() * EXTS.length)]}`);
      files[path] = this.text();
      paths.push(path);
    }
    const symlinks: LayerPlan['symlinks'] = [];
    const nSym = rnd() < 0.5 ? 1 : rnd() < 0.3 ? 2 : 0;
    for (let i = 0; i < nSym; i++) {
      const target = paths[Math.floor(rnd() * paths.length)];
      // Relative, next to its target, like lib.so -> lib.so.1.2.
      symlinks.push([posix.join(posix.dirname(target), `link${i}`), posix.basename(target)]);
    }
    const hardlinks: LayerPlan['hardlinks'] = [];
    if (rnd() < 0.3) {
      const existing = paths[Math.floor(rnd() * paths.length)];
      hardlinks.push([existing, posix.join(posix.dirname(existing), 'hardlink0')]);
    }
    return { files, symlinks, hardlinks };
  }
}

/** Own-layer counts in [1, 10] for `count` images, summing to exactly `total`. */
function ownLayerCounts(rnd: () => number, count: number, total: number): number[] {
  if (total < count || total > count * 10) {
    throw new Error(`cannot spread ${total} layers over ${count} images with 1–10 own layers each; change --images/--layers`);
  }
  const c = Array.from({ length: count }, () => 1 + Math.floor(rnd() * 10));
  let sum = c.reduce((a, b) => a + b, 0);
  while (sum > total) {
    const i = Math.floor(rnd() * count);
    if (c[i] > 1) (c[i]--, sum--);
  }
  while (sum < total) {
    const i = Math.floor(rnd() * count);
    if (c[i] < 10) (c[i]++, sum++);
  }
  return c;
}

interface Built {
  id: string;
  layers: BuiltLayer[];
  /** The reference a container would be created with (null when untagged). */
  tag: string | null;
}

function generate(dir: string, p: StoreParams): StoreStats {
  const rnd = prng(p.seed);
  const content = new Content(rnd);
  const b = new StoreBuilder(dir, 'overlay2');
  const stats: StoreStats = {
    images: 0, layers: 0, containers: 0, dangling: 0, withParent: 0, intermediates: 0, tags: 0, digests: 0,
    layerFiles: 0, layerSymlinks: 0, layerHardlinks: 0, layerBytes: 0, maxChainDepth: 0,
  };
  const hex = () => Array.from({ length: 4 }, () => Math.floor(rnd() * 2 ** 32).toString(16).padStart(8, '0')).join('').repeat(2);
  const t0 = Date.UTC(2023, 0, 1);
  let clock = 0;
  const created = () => new Date(t0 + (clock += 600_000 + Math.floor(rnd() * 14_400_000))).toISOString();

  const addLayer = (parent: BuiltLayer | null, label: string): BuiltLayer => {
    const plan = content.layer(label);
    const layer = b.layer(parent, plan.files, label);
    const diff = b.contentDir(layer.cacheId);
    let extra = 0;
    for (const [path, target] of plan.symlinks) {
      symlinkSync(target, join(diff, path));
      extra += Buffer.byteLength(target); // directory.Size counts a symlink's lstat size
    }
    for (const [existing, path] of plan.hardlinks) linkSync(join(diff, existing), join(diff, path)); // same inode: counted once
    if (extra) {
      layer.size += extra;
      writeFileSync(join(b.meta, 'layerdb', 'sha256', layer.chainId.slice(7), 'size'), String(layer.size));
    }
    stats.layers++;
    stats.layerFiles += Object.keys(plan.files).length + plan.symlinks.length + plan.hardlinks.length;
    stats.layerSymlinks += plan.symlinks.length;
    stats.layerHardlinks += plan.hardlinks.length;
    for (const v of Object.values(plan.files)) stats.layerBytes += v.length;
    return layer;
  };
  const addImage = (layers: BuiltLayer[], tags: string[], digests: string[], parent?: string): string => {
    stats.images++;
    stats.tags += tags.length;
    stats.digests += digests.length;
    if (parent) stats.withParent++;
    stats.maxChainDepth = Math.max(stats.maxChainDepth, layers.length);
    return b.image({ layers, tags, digests, parent, created: created() });
  };

  // Base chains: pulled images, tagged, most with a digest.
  const bases: Built[] = [];
  for (let i = 0; i < p.bases; i++) {
    const repo = BASE_NAMES[i % BASE_NAMES.length] + (i >= BASE_NAMES.length ? String(Math.floor(i / BASE_NAMES.length) + 1) : '');
    const layers: BuiltLayer[] = [];
    const n = 3 + Math.floor(rnd() * 6);
    for (let j = 0; j < n; j++) layers.push(addLayer(layers[j - 1] ?? null, `base${i}-l${j}`));
    const digests = rnd() < 0.8 ? [`${repo}@sha256:${hex()}`] : [];
    bases.push({ id: addImage(layers, [`${repo}:latest`], digests), layers, tag: `${repo}:latest` });
  }
  if (stats.layers > p.layers) throw new Error(`the ${p.bases} base chains already hold ${stats.layers} layers; raise --layers or lower --bases`);

  // Builds on top: every image gets 1–10 own layers; the counts are fixed up front so the totals are exact.
  const rest = p.images - p.bases;
  const counts = ownLayerCounts(rnd, rest, p.layers - stats.layers);
  // Group consecutive images into builds: mostly one image (BuildKit), ~8% a legacy chain of 2–4 images.
  const builds: number[][] = [];
  for (let i = 0; i < rest; ) {
    const size = rnd() < 0.08 ? Math.min(rest - i, 2 + Math.floor(rnd() * 3)) : 1;
    builds.push(Array.from({ length: size }, (_, k) => i + k));
    i += size;
  }
  // ~10% of all images dangling: the last image of that many builds loses its tag (a rebuild moved it).
  const untagged = new Set<number>();
  const wantDangling = Math.min(builds.length, Math.round(p.images * 0.1));
  while (untagged.size < wantDangling) untagged.add(Math.floor(rnd() * builds.length));

  const apps: Built[] = [];
  const repoOf = (): string => {
    const k = Math.floor(rnd() * Math.max(1, rest / 3));
    const r = rnd();
    return r < 0.3 ? `registry.example.com/team${k % 7}/app${k}` : r < 0.5 ? `user${k % 11}/app${k}` : `app${k}`;
  };
  const versions = new Map<string, number>();
  builds.forEach((group, bi) => {
    // FROM: a base (popular ones more often), or ~20% of the time an earlier tagged app image.
    const candidates = apps.filter((a) => a.layers.length <= 40);
    const from: Built = rnd() < 0.2 && candidates.length > 0 ? candidates[Math.floor(rnd() * candidates.length)] : bases[Math.floor(rnd() ** 2 * bases.length)];
    const legacy = group.length > 1;
    let layers = from.layers;
    let parent: string | undefined = legacy ? from.id : undefined;
    group.forEach((imageIndex, k) => {
      const last = k === group.length - 1;
      layers = [...layers];
      for (let j = 0; j < counts[imageIndex]; j++) layers.push(addLayer(layers[layers.length - 1], `img${imageIndex}-l${j}`));
      let tags: string[] = [];
      let digests: string[] = [];
      const tagged = last && !untagged.has(bi);
      if (tagged) {
        const repo = repoOf();
        const v = (versions.get(repo) ?? 0) + 1;
        versions.set(repo, v);
        tags = [`${repo}:v${v}`];
        if (rnd() < 0.25) tags.push(`${repo}:${v}.${Math.floor(rnd() * 10)}.0`);
        if (repo.startsWith('registry.') && rnd() < 0.6) digests = [`${repo}@sha256:${hex()}`];
      }
      const id = addImage(layers, tags, digests, parent);
      if (!last) stats.intermediates++;
      else if (!tagged) stats.dangling++;
      if (tagged) apps.push({ id, layers, tag: tags[0] });
      parent = legacy ? id : undefined;
    });
  });

  // Containers: mostly on tagged app images, some on bases; most created by tag, the rest by id.
  const states = ['running', 'running', 'exited', 'exited', 'created', 'paused', 'dead'] as const;
  for (let i = 0; i < p.containers; i++) {
    const img = apps.length && rnd() < 0.85 ? apps[Math.floor(rnd() * apps.length)] : bases[Math.floor(rnd() * bases.length)];
    const files: Files = {};
    const nf = Math.floor(rnd() * 6);
    for (let j = 0; j < nf; j++) files[`var/log/app/run${j}.log`] = content.text();
    const byTag = img.tag !== null && rnd() < 0.8;
    b.container({
      image: img.id,
      name: `ctr_${i}_${['eager', 'brave', 'calm', 'tender', 'zen'][i % 5]}`,
      state: states[Math.floor(rnd() * states.length)],
      files,
      imageRef: byTag ? img.tag! : undefined,
    });
    stats.containers++;
  }
  return stats;
}

/** A few images from the builder, for start-up measurements. */
function generateSmall(dir: string): StoreStats {
  const b = new StoreBuilder(dir, 'overlay2');
  let layerFiles = 0;
  let layerBytes = 0;
  const count = (files: Files): Files => {
    layerFiles += Object.keys(files).length;
    for (const v of Object.values(files)) layerBytes += v.length;
    return files;
  };
  const base = b.chain(3, (i) => count({ [`bin/tool${i}`]: `#!/bin/sh\necho ${i}\n`, [`etc/conf${i}`]: 'x'.repeat(200 * (i + 1)) }));
  const app = b.layer(base[2], count({ 'app/main.js': 'console.log(1)\n'.repeat(40) }), 'small-app');
  const old = b.layer(base[2], count({ 'app/main.js': 'console.log(0)\n'.repeat(40) }), 'small-old');
  const baseId = b.image({ layers: base, tags: ['alpine:3.19'], digests: [`alpine@sha256:${'ab'.repeat(32)}`] });
  const appId = b.image({ layers: [...base, app], tags: ['app:latest'], parent: baseId });
  b.image({ layers: [...base, old] });
  b.container({ image: appId, name: 'web', state: 'running', files: { 'tmp/x': 'hello' }, imageRef: 'app:latest' });
  b.container({ image: baseId, name: 'old', state: 'exited' });
  return {
    images: 3, layers: 5, containers: 2, dangling: 1, withParent: 1, intermediates: 0, tags: 2, digests: 1,
    layerFiles, layerSymlinks: 0, layerHardlinks: 0, layerBytes, maxChainDepth: 4,
  };
}

/** Counts every entry under `dir` by type (each name once). */
export function tally(dir: string): { files: number; symlinks: number; dirs: number } {
  const t = { files: 0, symlinks: 0, dirs: 1 };
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) (t.dirs++, stack.push(join(d, e.name)));
      else if (e.isSymbolicLink()) t.symlinks++;
      else t.files++;
    }
  }
  return t;
}

interface Marker {
  generator: number;
  kind: string;
  params: StoreParams | null;
  stats: StoreStats;
  generationSeconds: number;
}

function cached(dir: string, kind: string, params: StoreParams | null, force: boolean, make: () => StoreStats): StoreInfo {
  const markerFile = join(dir, MARKER);
  const key = JSON.stringify({ generator: GENERATOR_VERSION, kind, params });
  if (!force && existsSync(markerFile)) {
    try {
      const m = JSON.parse(readFileSync(markerFile, 'utf8')) as Marker;
      if (JSON.stringify({ generator: m.generator, kind: m.kind, params: m.params }) === key) {
        return { dir, params: params ?? m.params!, stats: m.stats, generationSeconds: m.generationSeconds, reused: true };
      }
    } catch {
      // unreadable marker: rebuild
    }
  }
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    // Only ever delete what this script made.
    if (!existsSync(markerFile) && !existsSync(join(dir, `${MARKER}.partial`))) {
      throw new Error(`${dir} exists, is not empty and holds no ${MARKER}: refusing to replace it`);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${MARKER}.partial`), key);
  const start = performance.now();
  const stats = make();
  const generationSeconds = (performance.now() - start) / 1000;
  const t = tally(dir);
  Object.assign(stats, { totalFiles: t.files - 1, totalSymlinks: t.symlinks, totalDirs: t.dirs }); // - the .partial marker
  const marker: Marker = { generator: GENERATOR_VERSION, kind, params, stats, generationSeconds };
  writeFileSync(join(dir, `${MARKER}.partial`), JSON.stringify(marker, null, 2));
  renameSync(join(dir, `${MARKER}.partial`), markerFile);
  return { dir, params: params ?? ({} as StoreParams), stats, generationSeconds, reused: false };
}

export function makeStore(dir: string, params: StoreParams = defaultParams(), opts: { force?: boolean } = {}): StoreInfo {
  const root = resolve(dir);
  return cached(root, 'overlay2-synthetic', params, !!opts.force, () => generate(root, params));
}

export function makeSmallStore(dir: string, opts: { force?: boolean } = {}): StoreInfo {
  const root = resolve(dir);
  return cached(root, 'small', null, !!opts.force, () => generateSmall(root));
}

function main(argv: string[]): void {
  const p = defaultParams();
  let dir: string | null = null;
  let force = false;
  let small = false;
  const explicit: Partial<StoreParams> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} wants a whole number`);
      return v;
    };
    if (a === '--images') explicit.images = num();
    else if (a === '--layers') explicit.layers = num();
    else if (a === '--containers') explicit.containers = num();
    else if (a === '--bases') explicit.bases = num();
    else if (a === '--seed') explicit.seed = num();
    else if (a === '--force') force = true;
    else if (a === '--small') small = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: make-store.ts [--images N] [--layers M] [--containers C] [--bases B] [--seed S] [--force] [--small] DIR\n');
      return;
    } else if (!a.startsWith('-') && dir === null) dir = a;
    else throw new Error(`unknown argument ${a}`);
  }
  if (dir === null) throw new Error('name the output directory');
  const base = defaultParams(explicit.images ?? p.images, explicit.layers ?? p.layers);
  const params = { ...base, ...explicit };
  const info = small ? makeSmallStore(dir, { force }) : makeStore(dir, params, { force });
  process.stdout.write(`${info.reused ? 'reused' : 'generated'} ${info.dir} (${info.generationSeconds.toFixed(1)} s to generate)\n${JSON.stringify(info.stats)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`make-store: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
