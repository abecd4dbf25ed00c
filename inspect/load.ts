// `strata load`: an offline `docker load`. Reads docker-save archives (manifest.json) and OCI image
// layouts (index.json), applies every layer the store lacks through the driver, records its tar-split so
// Docker can export the very same bytes later, and writes layerdb, imagedb and repositories.json.
import { fsError, StrataError } from '../native/errors.js';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readFileSync, readSync } from 'node:fs';
import { posix } from 'node:path';
import { compressionOfFile, decompress } from '../drivers/archive/decompress.js';
import { readTar } from '../drivers/archive/tar-reader.js';
import { TarSplitWriter } from '../drivers/archive/tar-split-writer.js';
import type { StorageDriver } from '../drivers/types.js';
import { chainIdOf, isSha256Digest, SHA256_PREFIX } from './digest.js';
import { namingInput, openInputFile } from './input-file.js';
import type { ImageConfig } from './model.js';
import type { WriteSession } from './open-for-write.js';
import { parseReference } from './reference.js';
import { randomCacheId, StoreWriter, tagKeys } from './write-store.js';

export class LoadError extends StrataError {
  override name = 'LoadError';
}

interface Member {
  name: string;
  type: string;
  size: number;
  offset: number;
  linkname: string;
}

/** The members of an archive with where their contents start, read once without keeping contents. */
export async function indexArchive(file: string): Promise<Map<string, Member>> {
  const members = new Map<string, Member>();
  const input = openInputFile(file);
  // Members are read again by their offsets: the archive must be a file, and an uncompressed one.
  if (input.size === null) {
    input.close();
    throw new LoadError('not a regular file: strata load reads an archive by offsets (save it to a file first)', { file });
  }
  const compression = compressionOfFile(file);
  if (compression !== null) {
    input.close();
    throw new LoadError(`a ${compression}-compressed archive: strata load reads uncompressed archives (decompress it first)`, { file });
  }
  try {
    for await (const { entry, offset } of readTar(input.chunks())) {
      const name = posix.normalize(entry.name).replace(/^\.\//, '').replace(/\/$/, '');
      members.set(name, { name, type: entry.type, size: entry.size, offset, linkname: entry.linkname });
    }
  } catch (err) {
    throw namingInput(err, file);
  }
  return members;
}

function resolveMember(members: Map<string, Member>, name: string, file: string): Member {
  let m = members.get(posix.normalize(name));
  for (let hops = 0; m && (m.type === '2' || m.type === '1') && hops < 16; hops++) {
    const target = m.type === '2' ? posix.normalize(posix.join(posix.dirname(m.name), m.linkname)) : posix.normalize(m.linkname);
    m = members.get(target);
  }
  if (!m) throw new LoadError(`the archive has no ${name}`, { file });
  return m;
}

function readMember(file: string, m: Member): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(m.size);
    let off = 0;
    while (off < m.size) {
      const n = readSync(fd, buf, off, m.size - off, m.offset + off);
      if (n === 0) throw new LoadError(`${m.name} is cut short`, { file });
      off += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

function memberJson<T>(file: string, members: Map<string, Member>, name: string): T {
  const m = resolveMember(members, name, file);
  try {
    return JSON.parse(readMember(file, m).toString('utf8')) as T;
  } catch (err) {
    if (err instanceof LoadError) throw err;
    throw new LoadError(`${name} is not valid JSON`, { file });
  }
}

/**
 * The uncompressed layer tar of a member, whatever the archive stored: plain, gzip, bzip2, xz or zstd, told
 * by its magic as dockerd tells it (drivers/archive/decompress.ts), bounded by `maxBytes` once decompressed.
 */
function memberLayerStream(file: string, m: Member, maxBytes?: number): { stream: AsyncIterable<Buffer>; compressed: boolean } {
  const compressed = m.size > 0 && compressionOfFile(file, m.offset) !== null;
  const raw: AsyncIterable<Buffer> = m.size === 0 ? (async function* () {})() : createReadStream(file, { start: m.offset, end: m.offset + m.size - 1 });
  return { stream: decompress(raw, { label: `${file}: ${m.name}`, maxBytes }), compressed };
}

export interface AppliedLayer {
  chainId: string;
  diffId: string;
  cacheId: string;
  size: number;
}

/**
 * Applies one layer tar on `parent` (a ChainID or null) and records it in layerdb. With `expectDiffId`,
 * a tar that hashes otherwise is rolled back and refused. Device nodes are created, as dockerd creates
 * them, unless `allowDevices` is false (--no-devices).
 */
export async function applyLayer(
  writer: StoreWriter,
  driver: StorageDriver,
  parent: string | null,
  tar: AsyncIterable<Buffer>,
  opts: { expectDiffId?: string; sourceBytes?: number; allowDevices?: boolean; label: string },
): Promise<AppliedLayer> {
  const parentCacheId = parent ? readCacheId(writer, parent) : null;
  const cacheId = randomCacheId();
  const hash = createHash('sha256');
  const tarSplit = new TarSplitWriter();
  const { size } = await driver.apply({ cacheId, parentCacheId }, hashing(tar, hash), { tarSplit, allowDevices: opts.allowDevices !== false, sourceBytes: opts.sourceBytes });
  const diffId = SHA256_PREFIX + hash.digest('hex');
  if (opts.expectDiffId && diffId !== opts.expectDiffId) {
    driver.remove(cacheId);
    throw new LoadError(`${opts.label} hashes to ${diffId}, but the image config says ${opts.expectDiffId}`);
  }
  const chainId = chainIdOf(parent, diffId);
  if (writer.hasLayer(chainId)) {
    driver.remove(cacheId);
    return { chainId, diffId, cacheId: readCacheId(writer, chainId), size };
  }
  try {
    writer.writeLayer({ chainId, diffId, parent, size, cacheId, tarSplit: tarSplit.finish() });
  } catch (err) {
    driver.remove(cacheId);
    throw err;
  }
  return { chainId, diffId, cacheId, size };
}

async function* hashing(source: AsyncIterable<Buffer>, hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}

export interface ArchiveImage {
  configMember: string;
  layerMembers: string[];
  tags: string[];
}

/** Images in a docker-save archive (manifest.json) or an OCI layout (index.json), with their tags. */
export function imagesInArchive(file: string, members: Map<string, Member>): ArchiveImage[] {
  if (members.has('manifest.json')) {
    const manifest = memberJson<Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>>(file, members, 'manifest.json');
    if (!Array.isArray(manifest)) throw new LoadError(`manifest.json is not a list of images`, { file });
    return manifest.map((m) => ({ configMember: m.Config, layerMembers: m.Layers ?? [], tags: m.RepoTags ?? [] }));
  }
  if (members.has('index.json')) {
    const blob = (digest: string) => `blobs/${digest.replace(':', '/')}`;
    const out: ArchiveImage[] = [];
    type Descriptor = { mediaType?: string; digest: string; annotations?: Record<string, string>; platform?: { os?: string; architecture?: string } };
    const visit = (desc: Descriptor, tags: string[]) => {
      const doc = memberJson<{ mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] }>(file, members, blob(desc.digest));
      if (doc.manifests) {
        const pick = doc.manifests.find((d) => d.platform?.os === 'linux' && d.platform?.architecture === 'amd64') ?? doc.manifests[0];
        if (pick) visit(pick, tags);
        return;
      }
      if (!doc.config || !doc.layers) throw new LoadError(`${blob(desc.digest)} is neither an image index nor a manifest`, { file });
      out.push({ configMember: blob(doc.config.digest), layerMembers: doc.layers.map((l) => blob(l.digest)), tags });
    };
    const index = memberJson<{ manifests?: Descriptor[] }>(file, members, 'index.json');
    for (const desc of index.manifests ?? []) {
      const name = desc.annotations?.['io.containerd.image.name'] ?? desc.annotations?.['org.opencontainers.image.ref.name'];
      const tags = name && parseReference(name)?.tag ? [name] : [];
      visit(desc, tags);
    }
    return out;
  }
  throw new LoadError(`neither a docker save archive (no manifest.json) nor an OCI image layout (no index.json)`, { file });
}

export interface LoadedImage {
  id: string;
  tags: string[];
  untagged: Array<{ ref: string; previous: string }>;
  layersApplied: number;
  layersPresent: number;
}

export interface LoadOptions {
  /** The write session on the target root (inspect/open-for-write.ts): its writer, driver and undo record. */
  session: WriteSession;
  /** false refuses device nodes (--no-devices); by default they are created, as dockerd creates them. */
  allowDevices?: boolean;
  /** A layer larger than this once decompressed is refused (--max-layer-bytes). */
  maxLayerBytes?: number;
  onLayer?: (text: string) => void;
}

interface ImageToLoad extends ArchiveImage {
  configBytes: Buffer;
  diffIds: string[];
}

/** An image's config, read and checked against its layers and tags before anything is written. */
function readImageToLoad(file: string, members: Map<string, Member>, image: ArchiveImage): ImageToLoad {
  const configBytes = readMember(file, resolveMember(members, image.configMember, file));
  let config: ImageConfig;
  try {
    config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
  } catch {
    throw new LoadError(`${image.configMember} is not a JSON image config`, { file });
  }
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== image.layerMembers.length || !diffIds.every(isSha256Digest)) {
    throw new LoadError(`${image.configMember} lists ${diffIds.length} layers, the archive ${image.layerMembers.length}`, { file });
  }
  try {
    tagKeys(image.tags);
  } catch (err) {
    throw new LoadError(`${file}: ${(err as StrataError).reason}`, { cause: err });
  }
  return { ...image, configBytes, diffIds };
}

/**
 * Loads every image of the archive through the session: all layers first, then the image configs, then
 * the tags in one write. A load that fails has tagged nothing, and closing its session removes the layers
 * it applied.
 */
export async function loadArchive(file: string, opts: LoadOptions): Promise<LoadedImage[]> {
  const { writer, driver } = opts.session;
  const members = await indexArchive(file);
  const images = imagesInArchive(file, members).map((image) => readImageToLoad(file, members, image));
  const counts: Array<{ applied: number; present: number }> = [];
  for (const image of images) {
    let parent: string | null = null;
    let applied = 0;
    let present = 0;
    for (const [i, diffId] of image.diffIds.entries()) {
      const chainId = chainIdOf(parent, diffId);
      if (writer.hasLayer(chainId)) {
        present++;
        parent = chainId;
        continue;
      }
      const member = resolveMember(members, image.layerMembers[i], file);
      opts.onLayer?.(`${diffId.slice(SHA256_PREFIX.length, SHA256_PREFIX.length + 12)}: applying ${member.name}`);
      const { stream, compressed } = memberLayerStream(file, member, opts.maxLayerBytes);
      await applyLayer(writer, driver, parent, stream, {
        expectDiffId: diffId,
        // A plain layer cannot hold an entry larger than itself; a compressed one is bounded by free space.
        sourceBytes: compressed ? undefined : member.size,
        allowDevices: opts.allowDevices,
        label: `${file}: ${member.name}`,
      });
      applied++;
      parent = chainId;
    }
    counts.push({ applied, present });
  }
  const ids = images.map((image) => writer.writeImageConfig(image.configBytes));
  const untagged = writer.tag(images.map((image, i) => ({ refs: image.tags, imageId: ids[i] })));
  return images.map((image, i) => ({ id: ids[i], tags: image.tags, untagged: untagged[i], layersApplied: counts[i].applied, layersPresent: counts[i].present }));
}

function readCacheId(writer: StoreWriter, chainId: string): string {
  const file = `${writer.layerDir(chainId)}/cache-id`;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw fsError(file, err, "the parent layer's cache-id");
  }
}
