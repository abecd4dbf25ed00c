// `strata save`: a `docker save` archive written from the store without a daemon. Which images and tags
// a list of names means (moby image/tarexport parseNames), the archive's entries as dockerd 20.10 lays
// them out (<v1 id>/{VERSION,json,layer.tar}, <config>.json, manifest.json, repositories; or, with the
// OCI format, an image layout), and the stream of it: every layer's exact tar rebuilt from its tar-split,
// each byte hashed to prove the DiffID while it goes out.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { exactBatches, exactHelpers, LayerContentError, writeExactNatively, type ExactBatch, type ExactResult } from '../drivers/archive/assemble.js';
import { nativeHelpers } from '../native/index.js';
import { tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { bytesOf, type TarPiece } from '../drivers/archive/chunks.js';
import { groupName, userName } from '../drivers/archive/owner-names.js';
import { encodeHeader, END_OF_ARCHIVE, paddingLength, TYPE, type TarHeader } from '../drivers/archive/tar-header.js';
import type { StorageDriver } from '../drivers/types.js';
import { reasonOf, StrataError } from '../native/errors.js';
import { hexOf, sha256Digest, SHA256_PREFIX } from './digest.js';
import { layerStream, layerTargetOf, type LayerTarget } from './layer-export.js';
import type { StoreModel } from './model.js';
import { isClosedPipe, outputError, type OutputTarget, type Sink } from './output-file.js';
import { parseReference, resolveImageId } from './reference.js';
import { createdOf, goString, legacyLayers, type GoTime, type JsonObject, type LegacyLayer } from './save-v1.js';
import { verifyLayer } from './verify.js';
import type { Warning } from './warnings.js';

/** A tag an image is saved under: its familiar repository name and the tag. */
export interface SavedTag {
  name: string;
  tag: string;
}

export interface SaveSelection {
  imageId: string;
  tags: SavedTag[];
}

const DEFAULT_DOMAIN = 'docker.io';

/** The full form of a familiar name (docker.io/library/busybox), by which docker sorts a repository's references. */
export function fullName(familiar: string): string {
  const first = familiar.split('/')[0];
  const hasDomain = familiar.includes('/') && (/[.:]/.test(first) || first === 'localhost');
  if (hasDomain) return familiar;
  return familiar.includes('/') ? `${DEFAULT_DOMAIN}/${familiar}` : `${DEFAULT_DOMAIN}/library/${familiar}`;
}

/**
 * What `docker save NAME...` saves: for a bare repository name every reference of it (lexically, as the
 * reference store lists them; digest references add the image without a tag), for name:tag that tag,
 * for name@digest the image without a tag, and for an id or id prefix the image without a tag. Images
 * come in the order first named; a tag named twice is saved once.
 */
export function resolveSaveNames(model: StoreModel, names: readonly string[]): SaveSelection[] {
  const selected = new Map<string, SaveSelection>();
  const add = (imageId: string, tag: SavedTag | null) => {
    let entry = selected.get(imageId);
    if (!entry) {
      entry = { imageId, tags: [] };
      selected.set(imageId, entry);
    }
    if (tag && !entry.tags.some((t) => t.name === tag.name && t.tag === tag.tag)) entry.tags.push(tag);
  };
  for (const input of names) {
    // A digest ("sha256:…") or a name that is the digest algorithm's (a short "sha256:…") is an id, never a tag.
    const parsed = /^(?:sha256:)?[0-9a-f]{64}$/.test(input.trim()) || parseReference(input)?.name === 'sha256' ? null : parseReference(input);
    if (parsed && parsed.tag === null && parsed.digest === null) {
      const refs = model.references.filter((r) => r.name === parsed.name);
      if (refs.length > 0) {
        const full = (r: (typeof refs)[number]) => Buffer.from(fullName(r.name) + (r.tag !== null ? `:${r.tag}` : `@${r.digest}`));
        for (const r of [...refs].sort((a, b) => Buffer.compare(full(a), full(b)))) {
          if (!model.images.has(r.imageId)) throw new StrataError(`${r.ref}: tagged as ${hexOf(r.imageId).slice(0, 12)} in repositories.json, but that image is missing from imagedb`);
          add(r.imageId, r.tag !== null ? { name: r.name, tag: r.tag } : null);
        }
        continue;
      }
    }
    const imageId = resolveImageId(model, input);
    add(imageId, parsed && parsed.tag !== null && parsed.digest === null ? { name: parsed.name, tag: parsed.tag } : null);
  }
  return [...selected.values()];
}

/** A layer's tar as it goes into the archive: its size known before its header is written. */
export interface LayerBody {
  chainId: string;
  /** The DiffID the bytes hash to: the recorded one for an exact rebuild, the computed one for a fresh diff. */
  diffId: string;
  size: number;
  exact: boolean;
  /** The bytes, read once per call. */
  chunks(): AsyncIterable<TarPiece>;
  /** An exact rebuild written to `fd` and hashed by the native helpers (when they are built), returning its size and sha256. */
  writeNatively?(fd: number, onBytes?: (n: number) => void): Promise<ExactResult>;
}

export class LayerRefusedError extends StrataError {
  override name = 'LayerRefusedError';
}

/** Bytes of parsed tar-split a save keeps in memory between sizing its layers and writing them, at most. */
export const KEPT_TAR_SPLIT_BYTES = 64 << 20;

/** What is left of the budget for keeping parsed tar-splits (shared by all the layers of a save). */
export interface KeepBudget {
  bytes: number;
}

/**
 * The exact tar's size from the tar-split alone (segments plus recorded file sizes), in one pass that also
 * keeps its batches for the writing when the budget allows (else the writing parses it again). The files
 * are checked while the tar is written: a damaged layer fails the save there, naming the file.
 */
export async function exactTarSize(tarSplit: string, budget: KeepBudget = { bytes: 0 }): Promise<{ size: number; kept: ExactBatch[] | null }> {
  const ahead = await readAheadTarSize(tarSplit, budget.bytes);
  if (ahead) {
    if (ahead.kept) budget.bytes -= ahead.keptBytes;
    return { size: ahead.size, kept: ahead.kept };
  }
  let size = 0;
  let kept: ExactBatch[] | null = [];
  let keptBytes = 0;
  for await (const batch of exactBatches(tarSplit)) {
    size += batch.bytes;
    if (!kept) continue;
    keptBytes += batchBytes(batch);
    if (keptBytes > budget.bytes) kept = null;
    else kept.push(batch);
  }
  if (kept) budget.bytes -= keptBytes;
  return { size, kept };
}

const batchBytes = (b: ExactBatch) => b.segments.length + b.names.length + b.table.byteLength;

/**
 * exactTarSize through the native read ahead (a thread inflates the tar-split while the chunk before is
 * parsed: the two overlap, where node:zlib and the parser mostly take turns). Null when it is not built or
 * leaves the tar-split to exactBatches (anything but one plain gzip member, a line it does not read, an
 * error: exactBatches then reads it from the start and names what is wrong).
 */
async function readAheadTarSize(tarSplit: string, budgetBytes: number): Promise<{ size: number; kept: ExactBatch[] | null; keptBytes: number } | null> {
  const native = nativeHelpers();
  if (!native?.tarSplitOpen || !native.tarSplitNext || !native.tarSplitClose) return null;
  let handle: unknown;
  try {
    handle = native.tarSplitOpen(tarSplit);
  } catch {
    return null;
  }
  if (handle === null) return null;
  let size = 0;
  let entries = 0;
  let keptBytes = 0;
  let kept: ExactBatch[] | null = [];
  try {
    for (;;) {
      const got = await native.tarSplitNext(handle, entries);
      if (got === false) break;
      if (got === null) return null;
      const [segments, names, table, rows, bytes, count] = got;
      entries += count;
      size += bytes;
      if (rows === 0 || !kept) continue;
      const batch: ExactBatch = { segments, names, table, rows, bytes };
      keptBytes += batchBytes(batch);
      if (keptBytes > budgetBytes) kept = null;
      else kept.push(batch);
    }
  } finally {
    native.tarSplitClose(handle);
  }
  return entries > 0 ? { size, kept, keptBytes } : null;
}

async function exactBody(driver: StorageDriver, target: LayerTarget & { kind: 'layer' }, tarSplit: string, budget: KeepBudget): Promise<LayerBody> {
  const native = exactHelpers();
  const { size, kept } = await exactTarSize(tarSplit, native ? budget : { bytes: 0 });
  const body: LayerBody = {
    chainId: target.chainId,
    diffId: target.diffId!,
    size,
    exact: true,
    chunks: () => layerStream(driver, target).chunks,
  };
  if (native) {
    body.writeNatively = async (fd, onBytes) => {
      const files = driver.openLayer(target.ref.cacheId);
      try {
        return await writeExactNatively(native, fd, files, kept ?? exactBatches(tarSplit), onBytes);
      } finally {
        files.close();
      }
    };
  }
  return body;
}

/** A fresh diff spooled to a temporary file (its size and digest are needed before its header). */
async function freshBody(driver: StorageDriver, target: LayerTarget & { kind: 'layer' }, spoolDir: string): Promise<LayerBody> {
  const file = join(spoolDir, hexOf(target.chainId));
  const fd = openSync(file, 'wx', 0o600);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const piece of layerStream(driver, target, { fresh: true }).chunks) {
      for (const c of bytesOf(piece)) {
        hash.update(c);
        let off = 0;
        while (off < c.length) off += writeSync(fd, c, off);
        size += c.length;
      }
    }
  } finally {
    closeSync(fd);
  }
  return {
    chainId: target.chainId,
    diffId: SHA256_PREFIX + hash.digest('hex'),
    size,
    exact: false,
    chunks: () => createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>,
  };
}

export interface SavedImage {
  /** The image id in the archive (the store's, unless a fresh layer changed the config). */
  id: string;
  /** The id in the store. */
  storeId: string;
  tags: SavedTag[];
  config: Buffer;
  configJson: JsonObject;
  created: GoTime;
  diffIds: string[];
  /** Store ChainIDs of the layers (where their bodies come from), base first. */
  storeChainIds: string[];
  legacy: LegacyLayer[];
  parent: string | null;
}

export interface SavePlan {
  images: SavedImage[];
  /** By store ChainID. */
  bodies: Map<string, LayerBody>;
  warnings: Warning[];
  /** Removes the spooled fresh diffs. */
  cleanup(): void;
}

export interface PlanOptions {
  /** A layer that cannot be rebuilt exactly is saved as a fresh diff (and its image's config rewritten). */
  allowFresh?: boolean;
}

function imageConfigPath(model: StoreModel, id: string): string {
  return join(model.root, 'image', model.driver, 'imagedb', 'content', 'sha256', hexOf(id));
}

/** The config's bytes exactly as stored (its sha256 is the image id). */
function readConfig(model: StoreModel, id: string): Buffer {
  const file = imageConfigPath(model, id);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new StrataError(reasonOf(err), { file, cause: err });
  }
  if (sha256Digest(bytes) !== id) throw new StrataError(`hashes to ${sha256Digest(bytes)}, not the image id`, { file });
  return bytes;
}

/** The config with the DiffIDs in its rootfs.diff_ids replaced (only there), keeping the rest of its bytes. */
export function rewriteDiffIds(config: Buffer, replace: Map<string, string>): Buffer {
  const text = config.toString('utf8');
  const out = text.replace(/("diff_ids"\s*:\s*\[)([^\]]*)(\])/, (_m, open: string, list: string, close: string) => open + list.replace(/"(sha256:[0-9a-f]{64})"/g, (q, d: string) => (replace.has(d) ? `"${replace.get(d)}"` : q)) + close);
  return Buffer.from(out, 'utf8');
}

const shortChain = (chainId: string) => hexOf(chainId).slice(0, 12);

/**
 * Everything the archive needs before its first byte: each image's config and v1 records, and each layer's
 * tar size. A layer without a tar-split, or whose files do not match it, is refused — or, with allowFresh,
 * verified and if need be saved as a fresh diff, its image's config rewritten to the new DiffID.
 */
export async function planSave(model: StoreModel, driver: StorageDriver, selection: readonly SaveSelection[], opts: PlanOptions = {}): Promise<SavePlan> {
  const warnings: Warning[] = [];
  const bodies = new Map<string, LayerBody>();
  let spoolDir: string | null = null;
  const budget: KeepBudget = { bytes: KEPT_TAR_SPLIT_BYTES };
  const cleanup = () => {
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
    spoolDir = null;
  };
  try {
    const images: SavedImage[] = [];
    for (const sel of selection) {
      const image = model.images.get(sel.imageId)!;
      const config = readConfig(model, sel.imageId);
      const label = sel.tags.length > 0 ? `${sel.tags[0].name}:${sel.tags[0].tag}` : hexOf(sel.imageId).slice(0, 12);
      if (image.diffIds.length === 0) throw new StrataError(`${label} has no layers: docker save cannot save it either (empty export)`);
      const replace = new Map<string, string>();
      for (const [i, chainId] of image.chainIds.entries()) {
        let body = bodies.get(chainId);
        if (!body) {
          body = await layerBody(model, driver, chainId, label, i + 1, opts, warnings, budget, () => (spoolDir ??= mkdtempSync(join(tmpdir(), 'strata-save-'))));
          bodies.set(chainId, body);
        }
        if (body.diffId !== image.diffIds[i]) replace.set(image.diffIds[i], body.diffId);
      }
      const saved = replace.size === 0 ? config : rewriteDiffIds(config, replace);
      const configJson = JSON.parse(saved.toString('utf8')) as JsonObject;
      const diffIds = image.diffIds.map((d) => replace.get(d) ?? d);
      const id = sha256Digest(saved);
      if (id !== sel.imageId) {
        warnings.push({ file: label, message: `its config now names the fresh DiffIDs, so it is saved as image ${hexOf(id).slice(0, 12)}, not ${hexOf(sel.imageId).slice(0, 12)} (its ChainIDs and v1 ids change too)` });
      }
      let legacy: LegacyLayer[];
      try {
        legacy = legacyLayers(configJson, diffIds);
      } catch (err) {
        throw new StrataError((err as Error).message, { file: imageConfigPath(model, sel.imageId) });
      }
      images.push({ id, storeId: sel.imageId, tags: sel.tags, config: saved, configJson, created: createdOf(configJson), diffIds, storeChainIds: image.chainIds, legacy, parent: image.parent });
    }
    // Parents only within the archive (moby validatedParentLinks), by the ids saved.
    const savedId = new Map(images.map((i) => [i.storeId, i.id]));
    for (const img of images) img.parent = img.parent && savedId.has(img.parent) && img.parent !== img.storeId ? savedId.get(img.parent)! : null;
    return { images, bodies, warnings, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

async function layerBody(
  model: StoreModel,
  driver: StorageDriver,
  chainId: string,
  imageLabel: string,
  index: number,
  opts: PlanOptions,
  warnings: Warning[],
  budget: KeepBudget,
  spool: () => string,
): Promise<LayerBody> {
  const target = layerTargetOf(model, chainId);
  if (target.kind !== 'layer') throw new Error('unreachable');
  const name = `layer ${index} of ${imageLabel} (${shortChain(chainId)})`;
  let problem: string;
  if (!target.tarSplit) problem = 'has no tar-split.json.gz, so its exact tar cannot be rebuilt';
  else if (!target.diffId) problem = 'has no DiffID recorded';
  else {
    try {
      const body = await exactBody(driver, target, target.tarSplit, budget);
      if (!opts.allowFresh) return body;
      // With a fallback at hand, a layer is proven before it is chosen: a damaged one goes fresh instead.
      const check = await verifyLayer(model, driver, chainId);
      if (check.ok) return body;
      problem = `cannot be rebuilt exactly: ${check.problem}`;
    } catch (err) {
      problem = `cannot be rebuilt exactly: ${err instanceof StrataError ? err.message : reasonOf(err)}`;
    }
  }
  if (!opts.allowFresh) throw new LayerRefusedError(`${name} ${problem}; --allow-fresh saves a fresh diff of it instead (its DiffID will differ)`);
  const body = await freshBody(driver, target, spool());
  warnings.push({
    file: name,
    message:
      body.diffId === target.diffId
        ? `${problem}; saved as a fresh diff, which hashes to its DiffID all the same`
        : `${problem}; saved as a fresh diff: its DiffID is ${body.diffId}, not ${target.diffId ?? 'the recorded one'}`,
  });
  return body;
}

// --- the archive's entries -------------------------------------------------------------------------

export type ArchiveEntry =
  | { name: string; type: 'dir'; mtime: number }
  | { name: string; type: 'file'; mtime: number; data: Buffer }
  | { name: string; type: 'layer'; mtime: number; body: LayerBody }
  | { name: string; type: 'symlink'; mtime: number; target: string };

export function entrySize(e: ArchiveEntry): number {
  return e.type === 'file' ? e.data.length : e.type === 'layer' ? e.body.size : 0;
}

/** Go's json.Encoder: the value and a newline. */
const encoded = (json: string) => Buffer.from(`${json}\n`);

function manifestJson(items: Array<{ config: string; repoTags: string[]; layers: string[]; parent: string | null }>): Buffer {
  const list = items.map((m) => {
    const tags = m.repoTags.length === 0 ? 'null' : `[${m.repoTags.map(goString).join(',')}]`;
    return `{"Config":${goString(m.config)},"RepoTags":${tags},"Layers":[${m.layers.map(goString).join(',')}]${m.parent ? `,"Parent":${goString(m.parent)}` : ''}}`;
  });
  return encoded(`[${list.join(',')}]`);
}

/** repositories: { name: { tag: v1 id of the top layer } }, both levels sorted (a Go map). */
function repositoriesJson(repos: Map<string, Map<string, string>>): Buffer {
  const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const names = [...repos.keys()].sort(byBytes);
  const body = names.map((n) => {
    const tags = repos.get(n)!;
    return `${goString(n)}:{${[...tags.keys()].sort(byBytes).map((t) => `${goString(t)}:${goString(tags.get(t)!)}`).join(',')}}`;
  });
  return encoded(`{${body.join(',')}}`);
}

/** Sorts entries as Go's filepath.Walk visits the directory they came from (bytewise by name, a directory before its contents). */
function walkOrder(entries: ArchiveEntry[]): ArchiveEntry[] {
  const key = (e: ArchiveEntry) => Buffer.from(e.type === 'dir' ? e.name.replace(/\/$/, '') : e.name).toString('latin1').split('/');
  return [...entries].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < Math.min(ka.length, kb.length); i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    return ka.length - kb.length;
  });
}

/**
 * The entries of a docker 20.10 save archive. Layer directories carry the saving image's created time; a
 * layer whose DiffID was written already gets a symlink to that layer.tar, and its directory the time of
 * the save (dockerd sets no times on those); manifest.json and repositories are at the epoch.
 */
export function dockerArchiveEntries(plan: SavePlan, now: number): ArchiveEntry[] {
  const entries: ArchiveEntry[] = [];
  const savedV1 = new Set<string>();
  const layerPathOfDiff = new Map<string, string>();
  const repos = new Map<string, Map<string, string>>();
  const manifest: Array<{ config: string; repoTags: string[]; layers: string[]; parent: string | null }> = [];
  for (const img of plan.images) {
    const mtime = img.created.seconds;
    img.legacy.forEach((l, i) => {
      if (savedV1.has(l.v1Id)) return;
      savedV1.add(l.v1Id);
      const first = layerPathOfDiff.get(l.diffId);
      const t = first ? now : mtime;
      entries.push({ name: `${l.v1Id}/`, type: 'dir', mtime: t });
      entries.push({ name: `${l.v1Id}/VERSION`, type: 'file', mtime: t, data: Buffer.from('1.0') });
      entries.push({ name: `${l.v1Id}/json`, type: 'file', mtime: t, data: l.json });
      if (first) entries.push({ name: `${l.v1Id}/layer.tar`, type: 'symlink', mtime: now, target: `../${first}` });
      else {
        entries.push({ name: `${l.v1Id}/layer.tar`, type: 'layer', mtime, body: plan.bodies.get(img.storeChainIds[i])! });
        layerPathOfDiff.set(l.diffId, `${l.v1Id}/layer.tar`);
      }
    });
    entries.push({ name: `${hexOf(img.id)}.json`, type: 'file', mtime, data: img.config });
    const top = img.legacy[img.legacy.length - 1].v1Id;
    for (const t of img.tags) {
      if (!repos.has(t.name)) repos.set(t.name, new Map());
      repos.get(t.name)!.set(t.tag, top);
    }
    manifest.push({ config: `${hexOf(img.id)}.json`, repoTags: img.tags.map((t) => `${t.name}:${t.tag}`), layers: img.legacy.map((l) => `${l.v1Id}/layer.tar`), parent: img.parent });
  }
  if (repos.size > 0) entries.push({ name: 'repositories', type: 'file', mtime: 0, data: repositoriesJson(repos) });
  entries.push({ name: 'manifest.json', type: 'file', mtime: 0, data: manifestJson(manifest) });
  return walkOrder(entries);
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYOUT = '{"imageLayoutVersion": "1.0.0"}';

function platformJson(config: JsonObject): string | null {
  const arch = typeof config.architecture === 'string' ? config.architecture : '';
  const os = typeof config.os === 'string' ? config.os : '';
  if (!arch && !os) return null;
  const variant = typeof config.variant === 'string' && config.variant ? `,"variant":${goString(config.variant)}` : '';
  return `{"architecture":${goString(arch)},"os":${goString(os)}${variant}}`;
}

/**
 * The entries of an OCI image layout archive (strata's --format oci, laid out as docker 25's save lays
 * out its OCI part): oci-layout, index.json (a manifest per tag, named by io.containerd.image.name and
 * org.opencontainers.image.ref.name; an untagged image once, unnamed), blobs/sha256/ holding manifests,
 * configs and uncompressed layer tars, and docker's manifest.json and repositories, so docker 20.10
 * loads it as well.
 */
export function ociArchiveEntries(plan: SavePlan): ArchiveEntry[] {
  const entries: ArchiveEntry[] = [
    { name: 'blobs/', type: 'dir', mtime: 0 },
    { name: 'blobs/sha256/', type: 'dir', mtime: 0 },
    { name: 'oci-layout', type: 'file', mtime: 0, data: Buffer.from(OCI_LAYOUT) },
  ];
  const blobs = new Set<string>();
  const descriptors: string[] = [];
  const manifest: Array<{ config: string; repoTags: string[]; layers: string[]; parent: string | null }> = [];
  const repos = new Map<string, Map<string, string>>();
  for (const img of plan.images) {
    const mtime = img.created.seconds;
    const blobName = (digest: string) => `blobs/sha256/${hexOf(digest)}`;
    const layerDescriptors = img.diffIds.map((diffId, i) => {
      const body = plan.bodies.get(img.storeChainIds[i])!;
      if (!blobs.has(diffId)) {
        blobs.add(diffId);
        entries.push({ name: blobName(diffId), type: 'layer', mtime, body });
      }
      return `{"mediaType":${goString(OCI_LAYER)},"digest":${goString(diffId)},"size":${body.size}}`;
    });
    if (!blobs.has(img.id)) {
      blobs.add(img.id);
      entries.push({ name: blobName(img.id), type: 'file', mtime, data: img.config });
    }
    const ociManifest = Buffer.from(`{"schemaVersion":2,"mediaType":${goString(OCI_MANIFEST)},"config":{"mediaType":${goString(OCI_CONFIG)},"digest":${goString(img.id)},"size":${img.config.length}},"layers":[${layerDescriptors.join(',')}]}`);
    const manifestDigest = sha256Digest(ociManifest);
    if (!blobs.has(manifestDigest)) {
      blobs.add(manifestDigest);
      entries.push({ name: blobName(manifestDigest), type: 'file', mtime: 0, data: ociManifest });
    }
    const platform = platformJson(img.configJson);
    const descriptor = (annotations: string | null) =>
      `{"mediaType":${goString(OCI_MANIFEST)},"digest":${goString(manifestDigest)},"size":${ociManifest.length}${annotations ? `,"annotations":${annotations}` : ''}${platform ? `,"platform":${platform}` : ''}}`;
    if (img.tags.length === 0) descriptors.push(descriptor(null));
    for (const t of img.tags) {
      descriptors.push(descriptor(`{"io.containerd.image.name":${goString(`${fullName(t.name)}:${t.tag}`)},"org.opencontainers.image.ref.name":${goString(t.tag)}}`));
      if (!repos.has(t.name)) repos.set(t.name, new Map());
      repos.get(t.name)!.set(t.tag, hexOf(img.diffIds[img.diffIds.length - 1]));
    }
    manifest.push({ config: blobName(img.id), repoTags: img.tags.map((t) => `${t.name}:${t.tag}`), layers: img.diffIds.map(blobName), parent: img.parent });
  }
  entries.push({ name: 'index.json', type: 'file', mtime: 0, data: Buffer.from(`{"schemaVersion":2,"mediaType":${goString(OCI_INDEX)},"manifests":[${descriptors.join(',')}]}`) });
  entries.push({ name: 'manifest.json', type: 'file', mtime: 0, data: manifestJson(manifest) });
  if (repos.size > 0) entries.push({ name: 'repositories', type: 'file', mtime: 0, data: repositoriesJson(repos) });
  return walkOrder(entries);
}

// --- writing ---------------------------------------------------------------------------------------

export class SavedDigestError extends StrataError {
  override name = 'SavedDigestError';
}

/** The tar header dockerd's archive.Tar writes for an entry of its temporary directory (root's, 0644/0755). */
function headerOf(e: ArchiveEntry): TarHeader {
  const owner = { uid: 0, gid: 0, uname: userName(0), gname: groupName(0), mtime: e.mtime };
  if (e.type === 'dir') return { ...owner, name: e.name, type: TYPE.dir, mode: 0o40755, size: 0 };
  if (e.type === 'symlink') return { ...owner, name: e.name, type: TYPE.symlink, mode: 0o120777, size: 0, linkname: e.target };
  return { ...owner, name: e.name, type: TYPE.file, mode: 0o100644, size: entrySize(e) };
}

export interface WriteArchiveOptions {
  onBytes?: (n: number) => void;
  /**
   * Hash layers on a worker thread beside the reading and writing (default off: on this 2-core machine,
   * shared and loaded, it measured slower than hashing inline — 2.4–3.0 s against 2.0–2.3 s for 357 MB —
   * and costs a thread's memory; it may pay where a core is free). Only for the JavaScript writer.
   */
  parallelHash?: boolean;
  /**
   * The sink's file descriptor (an OutputTarget's own is used when not given): with it and the native
   * helpers, the archive is written natively and exact layers are assembled and hashed off this thread.
   */
  fd?: number;
}

interface LayerHash {
  /** Takes a chunk; a promise when the caller must wait before the next (the hashing fell behind). */
  update(chunk: Buffer): Promise<void> | void;
  /** The sha256 of what was given, as sha256:<hex>; starts a new one. */
  digest(): Promise<string>;
}

function inlineHash(): LayerHash {
  let hash = createHash('sha256');
  return {
    update: (c) => void hash.update(c),
    async digest() {
      const d = SHA256_PREFIX + hash.digest('hex');
      hash = createHash('sha256');
      return d;
    },
  };
}

// The worker is plain CommonJS given as text, so it runs the same from the sources and from the bundle.
// It answers each chunk with its length (so the sender knows what is still queued) and 'digest' with the hex.
const HASH_WORKER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
let hash = createHash('sha256');
parentPort.on('message', (m) => {
  if (m === 'digest') {
    parentPort.postMessage(hash.digest('hex'));
    hash = createHash('sha256');
  } else {
    hash.update(m);
    parentPort.postMessage(m.length);
  }
});
`;

/** Bytes copied to the hashing worker and not hashed yet, at most (memory stays bounded when it falls behind). */
const HASH_QUEUE_BYTES = 8 << 20;

/**
 * Hashing on a worker thread: each chunk is copied to it (a memcpy, far cheaper than sha256) and hashed
 * there while this thread reads and writes the next; messages keep their order.
 */
function workerHash(): LayerHash & { close(): Promise<number> } {
  const worker = new Worker(HASH_WORKER, { eval: true });
  worker.unref();
  let queued = 0;
  let failure: unknown = null;
  let wake: (() => void) | null = null;
  let onDigest: ((hex: string) => void) | null = null;
  let digestFailed: ((err: unknown) => void) | null = null;
  worker.on('message', (m: number | string) => {
    if (typeof m === 'number') {
      queued -= m;
      if (wake && queued <= HASH_QUEUE_BYTES / 2) {
        const w = wake;
        wake = null;
        w();
      }
    } else onDigest?.(m);
  });
  worker.on('error', (err) => {
    failure = err;
    wake?.();
    digestFailed?.(err);
  });
  return {
    update(c) {
      if (failure) throw failure;
      worker.postMessage(c);
      queued += c.length;
      if (queued <= HASH_QUEUE_BYTES) return;
      return new Promise<void>((resolve, reject) => {
        wake = () => (failure ? reject(failure) : resolve());
      });
    },
    digest: () =>
      new Promise<string>((resolve, reject) => {
        if (failure) return reject(failure);
        digestFailed = reject;
        onDigest = (hex) => {
          onDigest = null;
          resolve(SHA256_PREFIX + hex);
        };
        worker.postMessage('digest');
      }),
    close: () => worker.terminate(),
  };
}

/**
 * Writes the archive to `sink`. Every layer's bytes are hashed as they go: one that does not hash to its
 * DiffID fails the save (the caller drops a regular output file; a pipe has had the bytes already).
 */
export async function writeArchive(sink: Sink, entries: readonly ArchiveEntry[], opts: WriteArchiveOptions = {}): Promise<number> {
  const fd = opts.fd ?? (sink as Partial<OutputTarget>).fd;
  const native = exactHelpers();
  if (native && typeof fd === 'number' && !opts.parallelHash) return writeEntriesNatively(native, fd, sink, entries, opts);
  const worker = opts.parallelHash ? workerHash() : null;
  try {
    return await writeEntries(sink, entries, worker ?? inlineHash(), opts);
  } finally {
    await worker?.close();
  }
}

/** A layer's failure to rebuild while it is written, in save's words (which layer, and the way out). */
function layerFailure(e: ArchiveEntry & { type: 'layer' }, err: unknown): unknown {
  if (!(err instanceof LayerContentError)) return err;
  return new LayerRefusedError(`layer ${shortChain(e.body.chainId)} (${e.name}) cannot be rebuilt exactly: ${err.message}; --allow-fresh saves a fresh diff of it instead (its DiffID will differ)`);
}

function checkLayer(e: ArchiveEntry & { type: 'layer' }, size: number, digest: string): void {
  if (size !== e.body.size || digest !== e.body.diffId) {
    const what = size !== e.body.size ? `came to ${size} bytes, not the ${e.body.size} its tar-split records` : `hashes to ${digest}, not its DiffID ${e.body.diffId}`;
    throw new SavedDigestError(`layer ${shortChain(e.body.chainId)} (${e.name}) ${what}; the layer changed while it was saved, or is damaged (strata verify names the file)`);
  }
}

/** The native writer's own failure (a write to the output) in words; anything else as it is. */
function nativeOutputError(err: unknown, name: string): unknown {
  if (err instanceof StrataError) return err;
  if (isClosedPipe(err)) return outputError(name, err);
  const message = err instanceof Error ? err.message : String(err);
  return message.startsWith('write: ') ? new StrataError(message.slice('write: '.length), { file: name, cause: err }) : err;
}

const NO_NAMES = Buffer.alloc(0);
/** Archive bytes (headers, small files) are gathered up to this before they are written. */
const GATHER_BYTES = 1 << 20;

/**
 * The archive written by the native helpers: exact layers assembled, written and hashed off this thread
 * (see writeExactNatively), everything else gathered into large writes. A spooled fresh layer is hashed
 * here as it goes by.
 */
async function writeEntriesNatively(native: NonNullable<ReturnType<typeof exactHelpers>>, fd: number, sink: Sink, entries: readonly ArchiveEntry[], opts: WriteArchiveOptions): Promise<number> {
  nativeHelpers()?.growPipe(fd, 1 << 20);
  let bytes = 0;
  let gathered: Buffer[] = [];
  let gatheredBytes = 0;
  const flush = async () => {
    if (gatheredBytes === 0) return;
    const data = gathered.length === 1 ? gathered[0] : Buffer.concat(gathered);
    gathered = [];
    gatheredBytes = 0;
    try {
      await native.exactPlan(fd, null, data, NO_NAMES, Float64Array.of(data.length, 0, 0), 1, null);
    } catch (err) {
      throw nativeOutputError(err, sink.name);
    }
    bytes += data.length;
    opts.onBytes?.(data.length);
  };
  const put = async (chunk: Buffer) => {
    if (chunk.length === 0) return;
    gathered.push(chunk);
    gatheredBytes += chunk.length;
    if (gatheredBytes >= GATHER_BYTES) await flush();
  };
  for (const e of entries) {
    await put(encodeHeader(headerOf(e)));
    if (e.type === 'file') await put(e.data);
    else if (e.type === 'layer' && e.body.writeNatively) {
      await flush();
      let result: ExactResult;
      try {
        result = await e.body.writeNatively(fd, opts.onBytes);
      } catch (err) {
        throw nativeOutputError(layerFailure(e, err), sink.name);
      }
      bytes += result.bytes;
      checkLayer(e, result.bytes, result.digest);
    } else if (e.type === 'layer') {
      const hash = createHash('sha256');
      let size = 0;
      for await (const piece of e.body.chunks()) {
        for (const c of bytesOf(piece)) {
          hash.update(c);
          size += c.length;
          await put(c);
        }
      }
      checkLayer(e, size, SHA256_PREFIX + hash.digest('hex'));
    }
    const pad = paddingLength(entrySize(e));
    if (pad > 0) await put(Buffer.alloc(pad));
  }
  await put(END_OF_ARCHIVE);
  await flush();
  await sink.flush();
  return bytes;
}

async function writeEntries(sink: Sink, entries: readonly ArchiveEntry[], hash: LayerHash, opts: WriteArchiveOptions): Promise<number> {
  let bytes = 0;
  let draining: Promise<void> | undefined;
  const put = async (chunk: Buffer) => {
    if (chunk.length === 0) return;
    if (draining) await draining;
    draining = sink.write(chunk) ?? undefined;
    bytes += chunk.length;
    opts.onBytes?.(chunk.length);
  };
  for (const e of entries) {
    await put(encodeHeader(headerOf(e)));
    if (e.type === 'file') await put(e.data);
    else if (e.type === 'layer') {
      let size = 0;
      try {
        for await (const piece of e.body.chunks()) {
          for (const c of bytesOf(piece)) {
            const behind = hash.update(c);
            if (behind) await behind;
            size += c.length;
            if (size > e.body.size) throw new SavedDigestError(`layer ${shortChain(e.body.chainId)} (${e.name}) grew past the ${e.body.size} bytes its tar-split records while it was saved`);
            await put(c);
          }
        }
      } catch (err) {
        throw layerFailure(e, err);
      }
      checkLayer(e, size, await hash.digest());
    }
    const pad = paddingLength(entrySize(e));
    if (pad > 0) await put(Buffer.alloc(pad));
  }
  await put(END_OF_ARCHIVE);
  await draining;
  await sink.flush();
  return bytes;
}

/** The archive's size: headers, contents, padding and the end blocks. */
export function archiveSize(entries: readonly ArchiveEntry[]): number {
  let n = END_OF_ARCHIVE.length;
  for (const e of entries) n += encodeHeader(headerOf(e)).length + entrySize(e) + paddingLength(entrySize(e));
  return n;
}
