// `docker system df -v` offline (moby daemon/disk_usage.go, daemon/images/images.go, 20.10), plus what
// the daemon does not tell: driver directories nothing references, leaked layers, what may belong to
// something unreadable ("unknown"), interrupted strata writes, and the real on-disk total.
import { StrataError } from '../native/errors.js';
import type { StorageDriver } from '../drivers/types.js';
import { isStaleTemp, parseTempName } from '../native/temp-names.js';
import { dirname, join } from 'node:path';
import { DRIVERS } from '../drivers/index.js';
import { countEntryUsage, emptyUsage, measureTree, type TreeUsage } from '../snapshots/measure.js';
import { measureTreeInBackground, type MeasuredEntries, type MeasureProgress, type ParallelMeasure } from '../snapshots/measure-parallel.js';
import { hexOf } from './digest.js';
import { buildCacheRecords, buildKitDriverIds, contentBlobSize, readBuildKit, type BuildCacheRecord, type BuildKitStore } from './docker/buildkit.js';
import { layerEntryDir } from './docker/layerdb.js';
import { readLocalVolumes, type LocalVolume } from './docker/volumes.js';
import { listImages } from './images.js';
import type { Container, StoreModel, Unreadable } from './model.js';
import { lookupReference, parseReference } from './reference.js';
import { directoriesOfUnreadableContainers, leakBlockers, liveMounts, orphanBlockers, unreadFieldOf } from './unreadable.js';
import type { Warning } from './warnings.js';
import { errorMessage } from './warnings.js';

export interface DfImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  created: string;
  size: number;
  sharedSize: number;
  uniqueSize: number;
  containers: number;
}

export interface DfContainer {
  id: string;
  name: string;
  /** What docker shows: the reference the container was created with while it still names the same image, else the image id. */
  image: string;
  imageId: string;
  command: string;
  created: string;
  state: string;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  /** Bytes in the container's read-write layer (null when its layer could not be measured). */
  sizeRw: number | null;
  /** sizeRw plus the image's size. */
  sizeRootFs: number | null;
  /** Mounts of the local volume driver (docker's LOCAL VOLUMES). */
  localVolumes: number;
}

export interface DfOrphan {
  /** Path of the driver directory. */
  path: string;
  id: string;
  bytes: number;
}

/** A driver directory or a layer whose owner could not be decided, because something could not be read. */
export interface DfUnknown {
  kind: 'directory' | 'layer';
  /** The driver directory, or the layer's metadata entry. */
  path: string;
  /** Directory id, or ChainID. */
  id: string;
  /** Bytes on disk (a directory, measured) or layerdb's size (a layer; 0 when unknown). */
  bytes: number;
  /** The files that could not be read and might name it as theirs: text shows "unknown (unreadable: <file>)". */
  unreadable: Unreadable[];
}

/** A temporary entry of a strata writer (native/temp-names.ts) in the driver's directory. */
export interface DfInterruptedWrite {
  path: string;
  id: string;
  bytes: number;
  /** The writer's pid, when the name records it. */
  pid: number | null;
  /** true: its writer is gone (an interrupted strata write); false: a write in progress. */
  stale: boolean;
}

export interface DiskUsageReport {
  /** Docker's LayersSize: layerdb sizes of the layers the listed images use. */
  layersSize: number;
  images: DfImage[];
  containers: DfContainer[];
  /** Local volumes (docker's Local Volumes), by name. */
  volumes: LocalVolume[];
  /** BuildKit's cache records (docker's Build Cache), in the docker CLI's order. */
  buildCache: BuildCacheRecord[];
  /** Driver directories that no layer, container or init layer references (and nothing unreadable might). */
  orphans: DfOrphan[];
  /** layerdb layers no image and no container uses (dockerd logs these as leaked), when nothing unreadable might. */
  leakedLayers: Array<{ chainId: string; size: number | null }>;
  /** Directories and layers that belong, or may belong, to something that could not be read: never orphaned or leaked. */
  unknown: DfUnknown[];
  /** Temporary entries of strata writers: stale ones are interrupted writes, the others in progress. */
  interruptedWrites: DfInterruptedWrite[];
  /** The data-root measured on disk, each inode once, not crossing into mounts. */
  dataRoot: { path: string; apparentBytes: number; allocatedBytes: number };
}

/** How many listed images use each layer (moby getLayerRefs). */
function layerRefCounts(images: ReturnType<typeof listImages>): Map<string, number> {
  const refs = new Map<string, number>();
  for (const img of images) for (const c of img.chainIds) refs.set(c, (refs.get(c) ?? 0) + 1);
  return refs;
}

/** Size of a layer and all its parents, following layerdb parent links (roLayer.Size). */
export function chainSizeFrom(model: StoreModel, chainId: string | null): number {
  let size = 0;
  for (let guard = 0; chainId !== null && guard < 100_000; guard++) {
    const layer = model.layers.get(chainId);
    if (!layer) break;
    size += layer.size ?? 0;
    chainId = layer.parent;
  }
  return size;
}

/** Docker keeps the original reference in listings while it still resolves to the container's image. */
export function displayImageOf(model: StoreModel, c: Container): string {
  if (c.imageRef === c.imageId) return c.imageId;
  const parsed = parseReference(c.imageRef);
  const resolved = parsed ? lookupReference(model, parsed) : null;
  const byPrefix = /^[0-9a-f]+$/.test(c.imageRef) && hexOf(c.imageId).startsWith(c.imageRef);
  return resolved === c.imageId || (resolved === null && byPrefix) ? c.imageRef : c.imageId;
}

export function containerSizes(
  model: StoreModel,
  driver: StorageDriver | null,
  c: Container,
  warnings: Warning[],
): { sizeRw: number | null; sizeRootFs: number | null } {
  if (!driver || !c.mountId) return { sizeRw: null, sizeRootFs: null };
  let sizeRw: number | null = null;
  try {
    const parentCacheId = c.initId ?? (c.parentChainId ? model.layers.get(c.parentChainId)?.cacheId ?? null : null);
    sizeRw = driver.diffSize({ cacheId: c.mountId, parentCacheId });
  } catch (err) {
    warnings.push({ file: driver.contentDir(c.mountId), message: `read-write layer of container ${c.id.slice(0, 12)}: ${errorMessage(err)}` });
  }
  // docker: SizeRootFs is the image's size plus SizeRw, and 0 for a container without an image layer.
  const sizeRootFs = c.parentChainId === null ? 0 : sizeRw === null ? null : chainSizeFrom(model, c.parentChainId) + sizeRw;
  return { sizeRw, sizeRootFs };
}

/**
 * What df and prune both classify on the model, found once when both run (df --audit): BuildKit's
 * databases, the driver's directories (not yet measured: measureDirectories), the layers nothing uses.
 */
export interface StoreFindings {
  buildKit: BuildKitStore | null;
  /** null without a driver; the StrataError when the driver's directories could not be listed. */
  dirs: DriverDirectories | StrataError | null;
  unusedLayers: ReturnType<typeof classifyUnusedLayers>;
}

export function storeFindings(model: StoreModel, driver: StorageDriver | null): StoreFindings {
  const buildKit = readBuildKit(model.root);
  let dirs: StoreFindings['dirs'] = null;
  if (driver) {
    try {
      dirs = classifyDriverDirectories(model, driver, buildKitOwners(buildKit), () => 0);
    } catch (err) {
      if (!(err instanceof StrataError)) throw err;
      dirs = err;
    }
  }
  return { buildKit, dirs, unusedLayers: classifyUnusedLayers(model) };
}

/**
 * The driver's directories, classified; null with a warning when they cannot be listed (then none of them
 * is called orphaned, and no layer's directory missing).
 */
function listedDriverDirectories(driver: StorageDriver, found: StoreFindings, warnings: Warning[]): DriverDirectories | null {
  const err = found.dirs;
  if (!(err instanceof StrataError)) return err;
  warnings.push({ file: err.file ?? driver.home, message: `${err.reason} — driver directories not listed` });
  return null;
}

export interface DriverDirectories {
  orphans: DfOrphan[];
  unknown: DfUnknown[];
  interruptedWrites: DfInterruptedWrite[];
  /** Ids of the directories present. */
  present: Set<string>;
}

/** Owners of driver directories besides the layer store: BuildKit's snapshots, and what blocked reading them. */
export interface OtherOwners {
  referenced: Set<string>;
  unreadable: Unreadable[];
}

/** The driver directories BuildKit's snapshotter owns; its unreadable databases block calling any directory orphaned. */
export function buildKitOwners(bk: BuildKitStore | null): OtherOwners {
  if (!bk) return { referenced: new Set(), unreadable: [] };
  return { referenced: buildKitDriverIds(bk), unreadable: bk.unreadable };
}

/** Bytes on disk of a path: du -sb, each inode once within it (measureTree's apparentBytes). */
export type SizeOf = (path: string) => number;

export const measuredSize: SizeOf = (path) => measureTree(path).apparentBytes;

/** A SizeOf that takes the data-root walk's figure where it has one (the same number), else measures. */
export function sizeFromWalk(entries: MeasuredEntries): SizeOf {
  return (path) => {
    const e = entries.get(path);
    if (!e) return measuredSize(path);
    const usage = emptyUsage();
    countEntryUsage(usage, e, new Set());
    return usage.apparentBytes;
  };
}

/**
 * Sorts the driver's directories that no readable record references: strata's temp entries, unknown,
 * orphaned; each measured with `sizeOf` (a caller that measures later gives () => 0, then measureDirectories).
 */
export function classifyDriverDirectories(model: StoreModel, driver: StorageDriver, others: OtherOwners = { referenced: new Set(), unreadable: [] }, sizeOf: SizeOf = measuredSize): DriverDirectories {
  const ids = driver.listLayerIds().sort();
  const referenced = new Set<string>(others.referenced);
  for (const l of model.layers.values()) if (l.cacheId) referenced.add(l.cacheId);
  for (const m of liveMounts(model)) {
    if (m.mountId) referenced.add(m.mountId);
    if (m.initId) referenced.add(m.initId);
  }
  const ofUnreadable = directoriesOfUnreadableContainers(model);
  const blockers = [...orphanBlockers(model), ...others.unreadable];
  const out: DriverDirectories = { orphans: [], unknown: [], interruptedWrites: [], present: new Set(ids) };
  const measured = (id: string) => ({ id, path: driver.layerHome(id), bytes: sizeOf(driver.layerHome(id)) });
  for (const id of ids) {
    const temp = parseTempName(id);
    const owner = ofUnreadable.get(id);
    if (temp) out.interruptedWrites.push({ ...measured(id), pid: temp.pid, stale: isStaleTemp(temp) });
    else if (owner) out.unknown.push({ kind: 'directory', ...measured(id), unreadable: [owner] });
    else if (referenced.has(id)) continue;
    else if (blockers.length > 0) out.unknown.push({ kind: 'directory', ...measured(id), unreadable: blockers });
    else out.orphans.push(measured(id));
  }
  return out;
}

/** Measures the directories classifyDriverDirectories listed (orphans, unknown, interrupted writes). */
export function measureDirectories(dirs: DriverDirectories, sizeOf: SizeOf): void {
  for (const d of [...dirs.orphans, ...dirs.unknown, ...dirs.interruptedWrites]) d.bytes = sizeOf(d.path);
}

/** Layers no image and no live container uses: leaked, or unknown when something unreadable might use them. */
export function classifyUnusedLayers(model: StoreModel): { leaked: DiskUsageReport['leakedLayers']; unknown: DfUnknown[] } {
  const used = new Set<string>();
  for (const img of model.images.values()) for (const c of img.chainIds) used.add(c);
  const blockers = leakBlockers(model);
  for (const m of liveMounts(model)) {
    for (let id = m.parentChainId, guard = 0; id && !used.has(id) && guard < 100_000; guard++) {
      used.add(id);
      const layer = model.layers.get(id);
      // A chain broken by an unreadable parent may go on to any layer.
      if (layer?.unread.includes('parent')) blockers.push(unreadFieldOf(model, id, 'parent'));
      id = layer?.parent ?? null;
    }
  }
  const unused = [...model.layers.values()].filter((l) => !used.has(l.chainId));
  if (blockers.length === 0) return { leaked: unused.map((l) => ({ chainId: l.chainId, size: l.size })), unknown: [] };
  const unreadable = [...new Map(blockers.map((b) => [b.file, b])).values()];
  return {
    leaked: [],
    unknown: unused.map((l) => ({ kind: 'layer', path: layerEntryDir(model, l.chainId), id: l.chainId, bytes: l.size ?? 0, unreadable })),
  };
}

/** One warning per layer whose driver directory is gone. */
function missingLayerDirectories(model: StoreModel, driver: StorageDriver, present: Set<string>): Warning[] {
  const warnings: Warning[] = [];
  for (const l of model.layers.values()) {
    if (l.cacheId && !present.has(l.cacheId)) warnings.push({ file: driver.layerHome(l.cacheId), message: `missing — driver directory of layer ${l.chainId} is gone` });
  }
  return warnings;
}

/** A warning for each of BuildKit's databases that could not be read (Build Cache is then incomplete). */
function warnBuildKit(bk: BuildKitStore | null, warnings: Warning[]): BuildKitStore | null {
  for (const u of bk?.unreadable ?? []) warnings.push({ file: u.file, message: `${u.reason} — build cache incomplete` });
  return bk;
}

/** Sizes of BuildKit's snapshots through the store's driver, as moby's snapshotter asks the graph driver. */
function buildKitSizer(bk: BuildKitStore, driver: StorageDriver | null) {
  return {
    diffSize(id: string, parent: string | null): number {
      if (!driver) throw new StrataError('no storage driver to measure it with');
      return driver.diffSize({ cacheId: id, parentCacheId: parent });
    },
    blobSize: (digest: string) => contentBlobSize(bk, digest),
  };
}

/**
 * The directories whose entries df and prune measure one by one: every driver's layer directories, the
 * containers' directories, layerdb's mount records and write-sets. The data-root walk measures each of
 * their entries apart too, so no item is walked twice (the driver is not known yet when the walk starts).
 */
export function measuredEntryDirs(root: string): string[] {
  const homes = DRIVERS.map((d) => dirname(d.open(root).layerHome('x')));
  const metadata = DRIVERS.map((d) => join(root, 'image', d.name, 'layerdb'));
  return [...homes, join(root, 'containers'), ...metadata.flatMap((m) => [join(m, 'mounts'), join(m, 'tmp')])];
}

/**
 * The directories whose entries prune's plan looks at one by one beyond those (each layer's layerdb
 * entry, image configs and metadata, a driver's per-layer links): the walk reports their entries from its
 * own threads, so the plan does not look again. Not expanded here: plain df never asks about them.
 */
export function reportedEntryDirs(root: string): string[] {
  const side = DRIVERS.flatMap((d) => d.open(root).sideDirs);
  const metadata = DRIVERS.map((d) => join(root, 'image', d.name));
  return [...side, ...metadata.flatMap((m) => [join(m, 'layerdb', 'sha256'), join(m, 'imagedb', 'content', 'sha256'), join(m, 'imagedb', 'metadata', 'sha256')])];
}

/** Starts measuring the data-root on worker threads, so it runs while the store is being read. */
export function startMeasuringDataRoot(root: string, warnings: Warning[], onProgress?: MeasureProgress): ParallelMeasure {
  return measureTreeInBackground(root, {
    onError: (path, err) => warnings.push({ file: path, message: errorMessage(err) }),
    onProgress,
    entriesOf: measuredEntryDirs(root),
    childrenOf: reportedEntryDirs(root),
  });
}

export async function diskUsage(
  model: StoreModel,
  driver: StorageDriver | null,
  warnings: Warning[],
  dataRoot: ParallelMeasure = startMeasuringDataRoot(model.root, warnings),
  found?: StoreFindings,
): Promise<DiskUsageReport> {
  const top = listImages(model);
  const refs = layerRefCounts(top);
  let layersSize = 0;
  for (const layer of model.layers.values()) if (refs.has(layer.chainId)) layersSize += layer.size ?? 0;

  const images: DfImage[] = top.map((img) => {
    let sharedSize = 0;
    for (const c of img.chainIds) if ((refs.get(c) ?? 0) > 1) sharedSize += model.layers.get(c)?.size ?? 0;
    return {
      id: img.id,
      repoTags: img.repoTags,
      repoDigests: img.repoDigests,
      created: img.created,
      size: img.size,
      sharedSize,
      uniqueSize: img.size - sharedSize,
      containers: img.containers,
    };
  });

  const containers: DfContainer[] = model.containers
    .map((c) => ({
      id: c.id,
      name: c.name,
      image: displayImageOf(model, c),
      imageId: c.imageId,
      command: c.command,
      created: c.created,
      state: c.state,
      exitCode: c.exitCode,
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      ...containerSizes(model, driver, c, warnings),
      localVolumes: c.mountPoints.filter((m) => m.driver === 'local').length,
    }))
    .sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));

  const volumes = readLocalVolumes(model.root, model.containers, warnings).volumes;
  if (volumes.length > 0 && (model.unreadable.containers.length > 0 || model.unreadable.parts.some((p) => p.part === 'containers'))) {
    warnings.push({ file: `${model.root}/containers`, message: 'some containers could not be read: volume LINKS may count too few' });
  }
  // Classified now (or by prune's plan before), measured from the walk once it is done.
  const { buildKit, unusedLayers: layers } = (found ??= storeFindings(model, driver));
  const bk = warnBuildKit(buildKit, warnings);
  const buildCache = bk ? buildCacheRecords(bk, model, buildKitSizer(bk, driver), warnings) : [];
  const dirs = driver ? listedDriverDirectories(driver, found, warnings) : null;
  if (driver && dirs) warnings.push(...missingLayerDirectories(model, driver, dirs.present));
  dataRoot.help();
  const rootUsage: TreeUsage = await dataRoot.result;
  if (dirs) measureDirectories(dirs, sizeFromWalk(await dataRoot.entries));
  return {
    layersSize,
    images,
    containers,
    volumes,
    buildCache,
    orphans: dirs?.orphans ?? [],
    leakedLayers: layers.leaked,
    unknown: [...(dirs?.unknown ?? []), ...layers.unknown],
    interruptedWrites: dirs?.interruptedWrites ?? [],
    dataRoot: { path: model.root, apparentBytes: rootUsage.apparentBytes, allocatedBytes: rootUsage.allocatedBytes },
  };
}
