// overlay2 (moby daemon/graphdriver/overlay2): <root>/overlay2/<id>/{diff,link,lower,work,committed},
// short names in <root>/overlay2/l/. Whiteouts are 0:0 char devices, opaque dirs carry trusted.overlay.opaque=y.
import { alwaysThere, checkedContentDir, openViewEntryIn } from './layer-dirs.js';
import { fsError, listDirectory, presence, reasonOf, StrataError } from '../native/errors.js';
import { openLayerDir, readStoreFileNoFollow, touchStoreFileNoFollow, type LayerFiles, type OpenedEntry } from '../native/open-beneath.js';
import { readLinksNatively, readSmallFilesNatively } from '../native/small-files.js';
import { tempName } from '../native/temp-names.js';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureTree } from '../snapshots/measure.js';
import { mergeLayers } from '../snapshots/merge.js';
import { compareSnapshots, snapshotTree, sortChanges, type Change, type SnapshotNode } from '../snapshots/tree.js';
import { byteString, pathBytes, type ByteString } from '../snapshots/walk.js';
import type { TarPiece } from './archive/chunks.js';
import { exportTree, type ExportItem } from './archive/export-tree.js';
import { applyLayerTar } from './archive/apply.js';
import { changeOf, directoryBeneath, readDiskEntries, whiteoutOf } from './list-directory.js';
import type { ApplyLayerOptions, DiffOptions, DirectoryChange, DriverFactory, LayerRef, LayerTarPiece, MaterialisedLayer, MountDescription, MountOptions, StorageDriver } from './types.js';
import { isOpaque, readXattrTree, walkTreeWithXattrs } from './xattrs.js';

/**
 * A layer's link file, trimmed, as readStoreFileNoFollow reads it (never through a symlink, only a regular
 * file), in fewer calls; undefined when it cannot be opened, null when it opened but is no readable file.
 */
function readLinkFile(path: string): string | null | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    // As readFileSync reads: the size fstat gave, or on until end of file when it gave none.
    const chunks: Buffer[] = [];
    let got = 0;
    for (;;) {
      const want = st.size > 0 ? st.size - got : 8192;
      const buf = Buffer.allocUnsafe(want);
      const n = readSync(fd, buf, 0, want, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      got += n;
      if (st.size > 0 && got >= st.size) break;
    }
    return Buffer.concat(chunks).toString('utf8').trim();
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Whether something (of any type, a symlink not followed) is at `path`. */
function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Entries of <root>/overlay2 that are not layer directories. */
const RESERVED = new Set(['l']);

/** Layer ids and short link names as dockerd makes them (hex, "-init", base32): safe inside mount options. */
const MOUNTABLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export class Overlay2Driver implements StorageDriver {
  readonly name = 'overlay2';
  readonly home: string;
  readonly capabilities = { nativeDiff: true, fullCopies: false, kernelFilesystem: 'overlay', writable: true, layerDirectories: true };

  constructor(readonly root: string) {
    this.home = join(root, 'overlay2');
  }

  get sideDirs(): string[] {
    return [join(this.home, 'l')];
  }

  contentDir(cacheId: string): string {
    return join(this.home, cacheId, 'diff');
  }

  materialise(cacheId: string): MaterialisedLayer {
    return alwaysThere(this.checkedContentDir(cacheId));
  }

  close(): void {}

  layerHome(cacheId: string): string {
    return join(this.home, cacheId);
  }

  /** The layer's diff/ directory, checked from the data-root down (see StorageDriver.openLayer). */
  openLayer(cacheId: string): LayerFiles {
    return openLayerDir(this.root, ['overlay2', cacheId, 'diff']);
  }

  openViewEntry(path: string | Buffer): OpenedEntry {
    return openViewEntryIn(this, path, this.home, ['diff']);
  }

  private checkedContentDir(cacheId: string): string {
    return checkedContentDir(this, cacheId);
  }

  /**
   * The layer a short link stands for: `link` ("l/<name>", read from `from`) must be a symlink to
   * ../<cache-id>/diff, as dockerd makes them, and that directory a real one inside this driver's home.
   * A link planted to point anywhere else is refused, naming it.
   */
  private linkedLayer(link: string, from: string): string {
    const name = /^l\/([^/]+)$/.exec(link)?.[1];
    if (!name || !MOUNTABLE_NAME.test(name)) throw new StrataError(`names ${JSON.stringify(link)}, not a short link l/<name>`, { file: from });
    const linkPath = join(this.home, 'l', name);
    let target: string;
    try {
      target = readlinkSync(linkPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EINVAL') throw new StrataError('is not a symbolic link: a short link must point to ../<cache-id>/diff', { file: linkPath });
      throw fsError(linkPath, err);
    }
    const cacheId = /^\.\.\/([^/]+)\/diff$/.exec(target)?.[1];
    if (!cacheId || !MOUNTABLE_NAME.test(cacheId) || RESERVED.has(cacheId)) {
      // The target is not printed: it may name a file of the machine strata runs on.
      throw new StrataError(`does not point to a layer's diff directory in ${this.home} (../<cache-id>/diff)`, { file: linkPath });
    }
    try {
      this.openLayer(cacheId).close();
    } catch (err) {
      throw new StrataError(`points to ${target}, and ${reasonOf(err)}${err instanceof StrataError && err.file ? ` (${err.file})` : ''}`, { file: linkPath, cause: err });
    }
    return cacheId;
  }

  exists(cacheId: string): boolean | null {
    return presence(this.contentDir(cacheId));
  }

  listLayerIds(): string[] {
    return listDirectory(this.home).filter((name) => !RESERVED.has(name));
  }

  /** A layer's lower file: "l/A:l/B:…", nearest parent first; "" for a base layer, which has none. */
  private lowerFile(cacheId: string): string {
    return readStoreFileNoFollow(join(this.home, cacheId, 'lower'))?.trim() ?? '';
  }

  /** The content dirs below a layer, nearest parent first, each reached through a checked short link (linkedLayer). */
  lowerDirs(cacheId: string): string[] {
    const from = join(this.home, cacheId, 'lower');
    return this.lowerLinks(cacheId).map((link) => this.contentDir(this.linkedLayer(link, from)));
  }

  private lowerLinks(cacheId: string): string[] {
    return this.lowerFile(cacheId).split(':').filter(Boolean);
  }

  /** "l/A:l/B:…" for a layer on `parentCacheId`: the parent's own link first, then the parent's lowers. */
  private lowerFileFor(parentCacheId: string): string {
    const linkFile = join(this.home, parentCacheId, 'link');
    const link = readStoreFileNoFollow(linkFile)?.trim();
    if (!link || !MOUNTABLE_NAME.test(link)) throw new StrataError(link ? 'not a short link name' : 'missing', { file: linkFile });
    // The parent's own lowers are checked as a mount of it would check them, before the new layer repeats them.
    this.lowerDirs(parentCacheId);
    const lower = this.lowerFile(parentCacheId);
    return lower ? `l/${link}:${lower}` : `l/${link}`;
  }

  async apply(layer: LayerRef, tar: AsyncIterable<LayerTarPiece>, opts: ApplyLayerOptions = {}): Promise<{ size: number; linked: number }> {
    const { cacheId, parentCacheId } = layer;
    const final = join(this.home, cacheId);
    if (existsSync(final)) throw new StrataError('a layer directory with this id exists already', { file: final });
    if (parentCacheId && !this.exists(parentCacheId)) throw new StrataError('parent layer missing', { file: this.contentDir(parentCacheId) });
    // The parent's directory is written to (committed) and named in the new lower file: it must be the store's own.
    if (parentCacheId) this.checkedContentDir(parentCacheId);
    mkdirSync(join(this.home, 'l'), { recursive: true, mode: 0o700 });
    // Built beside its final directory, named for this writer: a killed apply leaves a stale entry the next write removes.
    const temp = join(this.home, tempName(cacheId));
    mkdirSync(join(temp, 'diff'), { recursive: true, mode: 0o700 });
    chmodSync(join(temp, 'diff'), 0o755);
    const link = opts.linkName ?? shortLinkName();
    if (!MOUNTABLE_NAME.test(link)) throw new StrataError(`${JSON.stringify(link)} is no short link name`, { file: join(this.home, 'l') });
    let linked = 0;
    try {
      linked = (await applyLayerTar(tar, join(temp, 'diff'), { whiteouts: 'overlay', ...opts })).linked;
      writeFileSync(join(temp, 'link'), link);
      if (parentCacheId) {
        mkdirSync(join(temp, 'work'), { mode: 0o700 });
        writeFileSync(join(temp, 'lower'), this.lowerFileFor(parentCacheId));
        // dockerd marks a layer committed (read-only) once another is created on it.
        touchStoreFileNoFollow(join(this.home, parentCacheId, 'committed'), 0o600);
      }
      renameSync(temp, final);
    } catch (err) {
      rmSync(temp, { recursive: true, force: true });
      throw err;
    }
    symlinkSync(`../${cacheId}/diff`, join(this.home, 'l', link));
    return { size: opts.size ?? this.diffSize({ cacheId, parentCacheId }), linked };
  }

  /**
   * Its short link l/<name> when that link points back to this layer's diff/, then <home>/<id>: the link
   * first, so that a removal cut short leaves a directory without a link (an orphan df and prune see),
   * never a link to nothing.
   */
  layerPaths(cacheId: string): string[] {
    const dir = join(this.home, cacheId);
    // The link file opened first: when it opens, the directory exists (no lstat of its own needed, as prune
    // asks this for every layer it frees).
    const link = readLinkFile(join(dir, 'link'));
    if (link === undefined && !lstatExists(dir)) return [];
    const paths: string[] = [];
    if (link && MOUNTABLE_NAME.test(link)) {
      const linkPath = join(this.home, 'l', link);
      try {
        if (readlinkSync(linkPath) === `../${cacheId}/diff`) paths.push(linkPath);
      } catch {
        // missing, or not a symlink: not this layer's
      }
    }
    paths.push(dir);
    return paths;
  }

  /**
   * layerPaths of many layers: their link files read, then the short links they name, on the native
   * helpers' threads (a freed layer's two small reads otherwise wait one after another on the main thread).
   * Only layers whose link file is a regular file are answered; the rest are left to layerPaths.
   */
  async layerPathsOf(cacheIds: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const links = cacheIds.length > 0 ? readSmallFilesNatively(this.home, cacheIds, ['link'], { maxBytes: 4096 }) : null;
    if (!links) return out;
    const read = await links;
    const named: Array<[cacheId: string, link: string]> = [];
    cacheIds.forEach((id, k) => {
      const text = read.text(k);
      if (typeof text !== 'string') return; // absent, unreadable, not a regular file: as layerPaths says
      const link = text.trim();
      if (link && MOUNTABLE_NAME.test(link)) named.push([id, link]);
      else out.set(id, [join(this.home, id)]);
    });
    // l/ that cannot be opened (not a directory, say), or helpers from older sources: left to layerPaths.
    const targets = named.length > 0 ? await readLinksNatively(join(this.home, 'l'), named.map(([, link]) => link), [''])?.catch(() => null) : null;
    named.forEach(([id, link], k) => {
      const dir = join(this.home, id);
      if (!targets) return;
      const target = targets.text(k);
      out.set(id, target === `../${id}/diff` ? [join(this.home, 'l', link), dir] : [dir]);
    });
    return out;
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
  mounts(layer: LayerRef, target: string, opts: MountOptions): MountDescription[] {
    // Nothing outside the store is ever named: the layer's own directory and every short link are checked
    // (linkedLayer), and ids go into mount options only when they hold no separator characters.
    if (!MOUNTABLE_NAME.test(layer.cacheId)) throw new StrataError('is not a layer id strata can name in a mount description', { file: layer.cacheId });
    const upper = this.checkedContentDir(layer.cacheId);
    const lowerPath = join(this.home, layer.cacheId, 'lower');
    const lowers = this.lowerLinks(layer.cacheId);
    for (const link of lowers) this.linkedLayer(link, lowerPath);
    if (opts.readOnly) {
      // Read-only: the layer itself becomes the top lower dir; a single dir is bind-mounted instead.
      if (lowers.length === 0) return [{ type: 'bind', source: upper, target, options: ['ro', 'rbind'] }];
      const linkPath = join(this.home, layer.cacheId, 'link');
      const own = `l/${readFileSync(linkPath, 'utf8').trim()}`;
      const ownLayer = this.linkedLayer(own, linkPath);
      if (ownLayer !== layer.cacheId) throw new StrataError(`names ${own}, which points to another layer's directory (${ownLayer})`, { file: linkPath });
      return [{ type: 'overlay', source: 'overlay', target, options: ['ro', `lowerdir=${[own, ...lowers].join(':')}`], cwd: this.home }];
    }
    if (lowers.length === 0) return [{ type: 'bind', source: upper, target, options: ['rw', 'rbind'] }];
    openLayerDir(this.root, ['overlay2', layer.cacheId, 'work']).close();
    return [
      {
        type: 'overlay',
        source: 'overlay',
        target,
        options: [`lowerdir=${lowers.join(':')}`, `upperdir=${upper}`, `workdir=${join(this.home, layer.cacheId, 'work')}`],
        cwd: this.home,
      },
    ];
  }

  /** Native diff: the upper directory holds exactly the layer's changes (DiffSize = directory.Size of diff/). */
  diffSize(layer: LayerRef): number {
    return measureTree(this.contentDir(layer.cacheId)).contentBytes;
  }

  async *diff(layer: LayerRef, opts: DiffOptions = {}): AsyncGenerator<TarPiece> {
    const files = this.openLayer(layer.cacheId);
    try {
      const entries = await walkTreeWithXattrs(this.contentDir(layer.cacheId));
      const items = function* (): Generator<ExportItem> {
        for (const e of entries) yield { kind: 'path', name: e.name, source: e.path, stat: e.stat, xattrs: e.xattrs, opaque: e.stat.isDirectory() && isOpaque(e.xattrs) };
      };
      yield* exportTree(items(), files, opts);
    } finally {
      files.close();
    }
  }

  /**
   * One directory of the layer's diff/: whiteouts are 0:0 char devices, opaque directories carry the
   * overlay opaque xattr (read by the native scan; without it `opaque` is null: not known).
   */
  async listDirectory(layer: LayerRef, dir: Buffer): Promise<DirectoryChange[]> {
    const path = await directoryBeneath(this.checkedContentDir(layer.cacheId), dir);
    if (path === null) return [];
    const out: DirectoryChange[] = [];
    for (const e of await readDiskEntries(path, true)) {
      if ((e.mode & 0o170000) === 0o020000 && e.rdev === 0) out.push(whiteoutOf(e.name));
      else if ((e.mode & 0o170000) !== 0o040000) out.push(await changeOf(path, e));
      else out.push(await changeOf(path, e, { opaque: e.xattrs === null ? null : isOpaque(e.xattrs) }));
    }
    return out;
  }

  /** The merged view of a layer stack (the layer and all below it), as the overlay mount would show it. */
  async view(cacheId: string): Promise<SnapshotNode> {
    const dirs = [this.checkedContentDir(cacheId), ...this.lowerDirs(cacheId)].reverse();
    const opaque: Array<Set<ByteString>> = [];
    const snapshots: SnapshotNode[] = [];
    for (const dir of dirs) {
      const marked = new Set<ByteString>();
      const prefix = byteString(pathBytes(dir)).length;
      for (const [path, attrs] of await readXattrTree(dir)) if (isOpaque(attrs)) marked.add(path.slice(prefix));
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
