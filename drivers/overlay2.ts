// overlay2 (moby daemon/graphdriver/overlay2): <root>/overlay2/<id>/{diff,link,lower,work,committed},
// short names in <root>/overlay2/l/. Whiteouts are 0:0 char devices, opaque dirs carry trusted.overlay.opaque=y.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { measureTree } from '../snapshots/measure.js';
import { mergeLayers } from '../snapshots/merge.js';
import { compareSnapshots, snapshotTree, sortChanges, type Change, type SnapshotNode } from '../snapshots/tree.js';
import type { TarPiece } from './archive/chunks.js';
import { exportTree, type ExportItem } from './archive/export-tree.js';
import { applyLayerTar } from './archive/apply.js';
import { tempName } from '../native/temp-names.js';
import type { ApplyLayerOptions, DiffOptions, DriverFactory, LayerRef, MountDescription, StorageDriver } from './types.js';
import { isOpaque, readXattrTree, walkTreeWithXattrs } from './xattrs.js';

/** Entries of <root>/overlay2 that are not layer directories. */
const RESERVED = new Set(['l']);

export class Overlay2Driver implements StorageDriver {
  readonly name = 'overlay2';
  readonly home: string;
  readonly capabilities = { nativeDiff: true, fullCopies: false, kernelFilesystem: 'overlay', writable: true };

  constructor(readonly root: string) {
    this.home = join(root, 'overlay2');
  }

  contentDir(cacheId: string): string {
    return join(this.home, cacheId, 'diff');
  }

  layerHome(cacheId: string): string {
    return join(this.home, cacheId);
  }

  exists(cacheId: string): boolean {
    return existsSync(this.contentDir(cacheId));
  }

  listLayerIds(): string[] {
    try {
      return readdirSync(this.home).filter((name) => !RESERVED.has(name));
    } catch {
      return [];
    }
  }

  /** A layer's lower file: "l/A:l/B:…", nearest parent first; "" for a base layer, which has none. */
  private lowerFile(cacheId: string): string {
    try {
      return readFileSync(join(this.home, cacheId, 'lower'), 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    }
  }

  /** The content dirs below a layer, nearest parent first. */
  lowerDirs(cacheId: string): string[] {
    return this.lowerFile(cacheId)
      .split(':')
      .filter(Boolean)
      .map((link) => {
        const linkPath = join(this.home, link);
        return resolve(dirname(linkPath), readlinkSync(linkPath));
      });
  }

  /** "l/A:l/B:…" for a layer on `parentCacheId`: the parent's own link first, then the parent's lowers. */
  private lowerFileFor(parentCacheId: string): string {
    const link = readFileSync(join(this.home, parentCacheId, 'link'), 'utf8').trim();
    const lower = this.lowerFile(parentCacheId);
    return lower ? `l/${link}:${lower}` : `l/${link}`;
  }

  async apply(layer: LayerRef, tar: AsyncIterable<Buffer>, opts: ApplyLayerOptions = {}): Promise<{ size: number }> {
    const { cacheId, parentCacheId } = layer;
    const final = join(this.home, cacheId);
    if (existsSync(final)) throw new Error(`${final}: a layer directory with this id exists already`);
    if (parentCacheId && !this.exists(parentCacheId)) throw new Error(`${this.contentDir(parentCacheId)}: parent layer missing`);
    mkdirSync(join(this.home, 'l'), { recursive: true, mode: 0o700 });
    // Built beside its final directory, named for this writer: a killed apply leaves a stale entry the next write removes.
    const temp = join(this.home, tempName(cacheId));
    mkdirSync(join(temp, 'diff'), { recursive: true, mode: 0o700 });
    chmodSync(join(temp, 'diff'), 0o755);
    const link = shortLinkName();
    try {
      await applyLayerTar(tar, join(temp, 'diff'), { whiteouts: 'overlay', ...opts });
      writeFileSync(join(temp, 'link'), link);
      if (parentCacheId) {
        mkdirSync(join(temp, 'work'), { mode: 0o700 });
        writeFileSync(join(temp, 'lower'), this.lowerFileFor(parentCacheId));
      }
      renameSync(temp, final);
    } catch (err) {
      rmSync(temp, { recursive: true, force: true });
      throw err;
    }
    symlinkSync(`../${cacheId}/diff`, join(this.home, 'l', link));
    // dockerd marks a layer committed (read-only) once another is created on it.
    if (parentCacheId) writeFileSync(join(this.home, parentCacheId, 'committed'), '', { mode: 0o600 });
    return { size: this.diffSize({ cacheId, parentCacheId }) };
  }

  remove(cacheId: string): void {
    try {
      const link = readFileSync(join(this.home, cacheId, 'link'), 'utf8').trim();
      if (/^[A-Z2-7]{26}$/.test(link)) rmSync(join(this.home, 'l', link), { force: true });
    } catch {
      // no link file: nothing to unlink
    }
    rmSync(join(this.home, cacheId), { recursive: true, force: true });
  }

  /**
   * A kernel overlay mount of the stack. Lower dirs are given by their short l/ links, relative to the
   * driver home (the mount module runs mount there), which keeps long chains under the page-size limit.
   */
  mounts(layer: LayerRef, target: string, opts: { readOnly: boolean }): MountDescription[] {
    const lower = this.lowerFile(layer.cacheId);
    const own = `l/${readFileSync(join(this.home, layer.cacheId, 'link'), 'utf8').trim()}`;
    if (opts.readOnly) {
      // Read-only: the layer itself becomes the top lower dir; a single dir is bind-mounted instead.
      const lowers = [own, ...lower.split(':').filter(Boolean)];
      if (lowers.length === 1) return [{ type: 'bind', source: this.contentDir(layer.cacheId), target, options: ['ro', 'rbind'] }];
      return [{ type: 'overlay', source: 'overlay', target, options: ['ro', `lowerdir=${lowers.join(':')}`], cwd: this.home }];
    }
    if (!lower) return [{ type: 'bind', source: this.contentDir(layer.cacheId), target, options: ['rw', 'rbind'] }];
    return [
      {
        type: 'overlay',
        source: 'overlay',
        target,
        options: [`lowerdir=${lower}`, `upperdir=${this.contentDir(layer.cacheId)}`, `workdir=${join(this.home, layer.cacheId, 'work')}`],
        cwd: this.home,
      },
    ];
  }

  /** Native diff: the upper directory holds exactly the layer's changes (DiffSize = directory.Size of diff/). */
  diffSize(layer: LayerRef): number {
    return measureTree(this.contentDir(layer.cacheId)).contentBytes;
  }

  async *diff(layer: LayerRef, opts: DiffOptions = {}): AsyncGenerator<TarPiece> {
    const entries = await walkTreeWithXattrs(this.contentDir(layer.cacheId));
    const items = function* (): Generator<ExportItem> {
      for (const e of entries) yield { kind: 'path', name: e.name, source: e.path, stat: e.stat, xattrs: e.xattrs, opaque: e.stat.isDirectory() && isOpaque(e.xattrs) };
    };
    yield* exportTree(items(), opts);
  }

  /** The merged view of a layer stack (the layer and all below it), as the overlay mount would show it. */
  async view(cacheId: string): Promise<SnapshotNode> {
    const dirs = [this.contentDir(cacheId), ...this.lowerDirs(cacheId)].reverse();
    const opaque: Array<Set<string>> = [];
    const snapshots: SnapshotNode[] = [];
    for (const dir of dirs) {
      const marked = new Set<string>();
      for (const [path, attrs] of await readXattrTree(dir)) if (isOpaque(attrs)) marked.add(path.slice(dir.length));
      opaque.push(marked);
      snapshots.push(snapshotTree(dir));
    }
    return mergeLayers(snapshots, {
      whiteoutOf: (n, name) => ((n.meta.mode & 0o170000) === 0o020000 && n.meta.rdev === 0 ? name : null),
      isOpaque: (layer, path) => opaque[layer].has(path),
    });
  }

  /**
   * What dockerd 20.10 answers for `docker diff`: its naive differ run on the mounted layer and its parent
   * (it walks a Go map, so docker's own order varies; strata sorts by path).
   */
  async changes(layer: LayerRef): Promise<Change[]> {
    const newer = await this.view(layer.cacheId);
    const older = layer.parentCacheId === null ? null : await this.view(layer.parentCacheId);
    return sortChanges(compareSnapshots(older, newer));
  }
}

/** overlay2's short link names: 26 characters of base32 (moby overlayutils.GenerateID). */
export function shortLinkName(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return [...randomBytes(26)].map((b) => alphabet[b & 31]).join('');
}

export const overlay2: DriverFactory = { name: 'overlay2', open: (root) => new Overlay2Driver(root) };
