// Builds small Docker data-roots on disk, file by file, in the layout dockerd 20.10 writes, so unit
// tests and benchmarks can ask strata about stores whose every byte they chose.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type DriverName = 'overlay2' | 'vfs';
export type Files = Record<string, string>;

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

export interface BuiltLayer {
  chainId: string;
  diffId: string;
  cacheId: string;
  parent: BuiltLayer | null;
  size: number;
}

export interface ImageSpec {
  layers: BuiltLayer[];
  tags?: string[];
  digests?: string[];
  parent?: string;
  created?: string;
  /** Extra bytes so images with the same layers get different ids. */
  comment?: string;
}

export interface ContainerSpec {
  image: string;
  name: string;
  state?: 'created' | 'running' | 'exited' | 'paused' | 'dead';
  /** Files in the container's read-write layer. */
  files?: Files;
  /** Config.Image as typed by the user (defaults to the image id). */
  imageRef?: string;
  /** Omit the layerdb/mounts record. */
  noMount?: boolean;
}

const FILE_TIME = 1_700_000_000;

function writeFiles(dir: string, files: Files): number {
  let size = 0;
  for (const [path, content] of Object.entries(files)) {
    const p = join(dir, path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    // Whole seconds, so copies made with millisecond-precision timestamps keep them exactly (vfs).
    utimesSync(p, FILE_TIME, FILE_TIME);
    size += Buffer.byteLength(content);
  }
  return size;
}

let counter = 0;

export class StoreBuilder {
  readonly meta: string;
  private linkCount = 0;

  constructor(
    readonly root: string,
    readonly driver: DriverName = 'overlay2',
  ) {
    this.meta = join(root, 'image', driver);
    mkdirSync(join(this.meta, 'imagedb', 'content', 'sha256'), { recursive: true });
    mkdirSync(join(this.meta, 'imagedb', 'metadata', 'sha256'), { recursive: true });
    mkdirSync(join(this.meta, 'layerdb', 'sha256'), { recursive: true });
    mkdirSync(join(root, 'containers'), { recursive: true });
    mkdirSync(driver === 'overlay2' ? join(root, 'overlay2', 'l') : join(root, 'vfs', 'dir'), { recursive: true });
    writeFileSync(join(this.meta, 'repositories.json'), JSON.stringify({ Repositories: {} }));
  }

  contentDir(cacheId: string): string {
    return this.driver === 'overlay2' ? join(this.root, 'overlay2', cacheId, 'diff') : join(this.root, 'vfs', 'dir', cacheId);
  }

  /** A driver directory for `cacheId` on top of `parent`; returns the bytes of `files`. */
  driverDir(cacheId: string, parentCacheId: string | null, files: Files, lowerChain: string[] = []): number {
    const content = this.contentDir(cacheId);
    if (this.driver === 'vfs') {
      // cp -a: names as bytes (cpSync decodes them), owners, modes and times kept.
      if (parentCacheId) execFileSync('cp', ['-a', this.contentDir(parentCacheId), content]);
      mkdirSync(content, { recursive: true });
      return writeFiles(content, files);
    }
    const home = join(this.root, 'overlay2', cacheId);
    mkdirSync(content, { recursive: true });
    const short = `L${String(++this.linkCount).padStart(25, '0')}`;
    writeFileSync(join(home, 'link'), short);
    symlinkSync(`../${cacheId}/diff`, join(this.root, 'overlay2', 'l', short));
    if (lowerChain.length) {
      writeFileSync(join(home, 'lower'), lowerChain.map((l) => `l/${l}`).join(':'));
      mkdirSync(join(home, 'work'), { recursive: true });
    }
    return writeFiles(content, files);
  }

  private shortOf = new Map<string, string[]>();
  private imageLayers = new Map<string, BuiltLayer[]>();

  /** A committed layer with `files` as its own content. */
  layer(parent: BuiltLayer | null, files: Files = {}, label = `layer-${++counter}`): BuiltLayer {
    const diffId = `sha256:${sha(label + JSON.stringify(files))}`;
    const chainId = parent ? `sha256:${sha(`${parent.chainId} ${diffId}`)}` : diffId;
    const cacheId = randomBytes(32).toString('hex');
    const lowers = parent ? this.shortOf.get(parent.cacheId) ?? [] : [];
    const size = this.driverDir(cacheId, parent?.cacheId ?? null, files, lowers);
    this.shortOf.set(cacheId, [`L${String(this.linkCount).padStart(25, '0')}`, ...lowers]);
    const dir = join(this.meta, 'layerdb', 'sha256', chainId.slice(7));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'diff'), diffId);
    writeFileSync(join(dir, 'size'), String(size));
    writeFileSync(join(dir, 'cache-id'), cacheId);
    if (parent) writeFileSync(join(dir, 'parent'), parent.chainId);
    return { chainId, diffId, cacheId, parent, size };
  }

  /** A chain of layers, each with `files(i)`. */
  chain(count: number, files: (i: number) => Files = (i) => ({ [`f${i}`]: `content ${i}` }), from: BuiltLayer | null = null): BuiltLayer[] {
    const out: BuiltLayer[] = [];
    let parent = from;
    for (let i = 0; i < count; i++) out.push((parent = this.layer(parent, files(i))));
    return out;
  }

  /** Writes an image config and returns its id. */
  image(spec: ImageSpec): string {
    const config = {
      architecture: 'amd64',
      os: 'linux',
      created: spec.created ?? new Date(Date.UTC(2024, 0, 1) + ++counter * 1000).toISOString(),
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: spec.layers.map((l) => l.diffId) },
      history: spec.layers.map(() => ({ created_by: 'test' })),
      comment: spec.comment ?? `image ${counter}`,
    };
    const bytes = JSON.stringify(config);
    const hex = sha(bytes);
    writeFileSync(join(this.meta, 'imagedb', 'content', 'sha256', hex), bytes);
    if (spec.parent) {
      const m = join(this.meta, 'imagedb', 'metadata', 'sha256', hex);
      mkdirSync(m, { recursive: true });
      writeFileSync(join(m, 'parent'), spec.parent);
    }
    this.imageLayers.set(`sha256:${hex}`, spec.layers);
    for (const t of spec.tags ?? []) this.tag(t, `sha256:${hex}`);
    for (const d of spec.digests ?? []) this.tag(d, `sha256:${hex}`);
    return `sha256:${hex}`;
  }

  tag(ref: string, id: string): void {
    const file = join(this.meta, 'repositories.json');
    const data = JSON.parse(readFileSync(file, 'utf8')) as { Repositories: Record<string, Record<string, string>> };
    const name = ref.includes('@') ? ref.slice(0, ref.indexOf('@')) : ref.slice(0, ref.lastIndexOf(':'));
    (data.Repositories[name] ??= {})[ref] = id;
    writeFileSync(file, JSON.stringify(data));
  }

  container(spec: ContainerSpec): string {
    const id = randomBytes(32).toString('hex');
    const layers = this.imageLayers.get(spec.image) ?? [];
    const top = layers[layers.length - 1] ?? null;
    const mountId = randomBytes(32).toString('hex');
    const lowers = top ? this.shortOf.get(top.cacheId) ?? [] : [];
    this.driverDir(`${mountId}-init`, top?.cacheId ?? null, { '.dockerenv': '', 'etc/hosts': '' }, lowers);
    const initLowers = [`L${String(this.linkCount).padStart(25, '0')}`, ...lowers];
    this.driverDir(mountId, `${mountId}-init`, spec.files ?? {}, initLowers);
    if (!spec.noMount) {
      const m = join(this.meta, 'layerdb', 'mounts', id);
      mkdirSync(m, { recursive: true });
      writeFileSync(join(m, 'mount-id'), mountId);
      writeFileSync(join(m, 'init-id'), `${mountId}-init`);
      if (top) writeFileSync(join(m, 'parent'), top.chainId);
    }
    const state = spec.state ?? 'created';
    const started = state === 'created' ? '0001-01-01T00:00:00Z' : '2024-02-01T10:00:00.5Z';
    const cfg = {
      ID: id,
      Name: `/${spec.name}`,
      Image: spec.image,
      Created: new Date(Date.UTC(2024, 1, 1) + ++counter * 1000).toISOString(),
      Driver: this.driver,
      Path: 'sh',
      Args: ['-c', 'echo hi there'],
      State: {
        Running: state === 'running' || state === 'paused',
        Paused: state === 'paused',
        Restarting: false,
        RemovalInProgress: false,
        Dead: state === 'dead',
        ExitCode: state === 'exited' ? 3 : 0,
        StartedAt: started,
        FinishedAt: state === 'exited' ? '2024-02-01T11:00:00Z' : '0001-01-01T00:00:00Z',
      },
      Config: { Image: spec.imageRef ?? spec.image },
    };
    mkdirSync(join(this.root, 'containers', id), { recursive: true });
    writeFileSync(join(this.root, 'containers', id, 'config.v2.json'), JSON.stringify(cfg));
    return id;
  }
}
