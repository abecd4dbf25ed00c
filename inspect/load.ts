// `strata load`: an offline `docker load`. Reads docker-save archives (manifest.json), OCI image layouts
// (index.json) as archives or as directories, from a file or from stdin, plain or gzip/bzip2/xz/zstd;
// applies every layer the store lacks through the driver, checking each against its DiffID, records its
// tar-split so Docker can export the very same bytes later, and writes layerdb, imagedb and
// repositories.json.
import { fsError, StrataError } from '../native/errors.js';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, lstatSync, openSync, readFileSync, readSync, realpathSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join, posix } from 'node:path';
import { keepFreeDefault } from '../drivers/archive/apply.js';
import { decompress, detectCompression, MAGIC_BYTES, type Compression } from '../drivers/archive/decompress.js';
import { readTar } from '../drivers/archive/tar-reader.js';
import { TarSplitWriter } from '../drivers/archive/tar-split-writer.js';
import type { StorageDriver } from '../drivers/types.js';
import { tempName } from '../native/temp-names.js';
import { chainIdOf, isSha256Digest, sha256Digest, SHA256_PREFIX } from './digest.js';
import { namingInput, openInputFile, openStdin, readFd, type InputFile } from './input-file.js';
import type { ImageConfig } from './model.js';
import { hostPlatform, imagesInLayout, OciLayoutError, type Platform } from './oci-layout.js';
import type { WriteSession } from './open-for-write.js';
import type { Warning } from './warnings.js';
import { randomCacheId, StoreWriter, tagKeys, type MovedTag } from './write-store.js';

export class LoadError extends StrataError {
  override name = 'LoadError';
}

/** A JSON document of an archive (manifest.json, index.json, a config) is read whole: no larger than this. */
const MAX_DOCUMENT_BYTES = 64 << 20;

// ---------------------------------------------------------------------------------------------------
// Where members are read from: an archive by offsets, or a directory.

/** The archive or directory the images are read from, member by member. */
export interface MemberSource {
  /** Names the input in errors ("stdin", a file, a directory). */
  readonly label: string;
  has(name: string): boolean;
  /** The member's name (links followed) and size; a missing one is refused naming it. */
  stat(name: string): { name: string; size: number };
  /** A small member whole. */
  read(name: string): Buffer;
  /** A member's bytes from `from` on. */
  stream(name: string, from?: number): AsyncIterable<Buffer>;
  /** Its compression, by magic. */
  compression(name: string): Compression | null;
  close(): void;
}

interface Member {
  name: string;
  type: string;
  size: number;
  offset: number;
  linkname: string;
}

function memberName(name: string): string {
  return posix.normalize(name).replace(/^(\.\/)+/, '').replace(/\/$/, '');
}

/** An uncompressed tar read by offsets through an open descriptor: a regular file, or the spool of a stream. */
class ArchiveSource implements MemberSource {
  constructor(
    readonly label: string,
    private readonly fd: number,
    private readonly members: Map<string, Member>,
    private readonly ownsFd: boolean,
  ) {}

  has(name: string): boolean {
    return this.members.has(memberName(name));
  }

  private resolve(name: string): Member {
    let m = this.members.get(memberName(name));
    for (let hops = 0; m && (m.type === '2' || m.type === '1') && hops < 16; hops++) {
      const target = m.type === '2' ? posix.normalize(posix.join(posix.dirname(m.name), m.linkname)) : posix.normalize(m.linkname);
      m = this.members.get(target);
    }
    if (!m) throw new LoadError(`the archive has no ${name}`, { file: this.label });
    if (m.type !== '0' && m.type !== '\0' && m.type !== '7') throw new LoadError(`${name} in the archive is not a file`, { file: this.label });
    return m;
  }

  stat(name: string): { name: string; size: number } {
    const m = this.resolve(name);
    return { name: m.name, size: m.size };
  }

  read(name: string): Buffer {
    const m = this.resolve(name);
    if (m.size > MAX_DOCUMENT_BYTES) throw new LoadError(`${name} is ${m.size} bytes, too large for what it should be`, { file: this.label });
    const buf = Buffer.alloc(m.size);
    let off = 0;
    while (off < m.size) {
      const n = readSync(this.fd, buf, off, m.size - off, m.offset + off);
      if (n === 0) throw new LoadError(`${m.name} is cut short`, { file: this.label });
      off += n;
    }
    return buf;
  }

  stream(name: string, from = 0): AsyncIterable<Buffer> {
    const m = this.resolve(name);
    if (from >= m.size) return noBytes();
    return readRange(this.fd, m.offset + from, m.offset + m.size - 1, this.label);
  }

  compression(name: string): Compression | null {
    const m = this.resolve(name);
    return headCompression(this.fd, m.offset, Math.min(m.size, MAGIC_BYTES));
  }

  close(): void {
    if (this.ownsFd) closeSync(this.fd);
  }
}

async function* noBytes(): AsyncGenerator<Buffer> {}

function readRange(fd: number, start: number, end: number, label: string): AsyncIterable<Buffer> {
  return readFd(fd, label, start, end);
}

function headCompression(fd: number, offset: number, length: number): Compression | null {
  const head = Buffer.alloc(MAGIC_BYTES);
  const n = length > 0 ? readSync(fd, head, 0, length, offset) : 0;
  return detectCompression(head.subarray(0, n));
}

/**
 * An image layout or an extracted save archive as a directory. Member names come from its own JSON, so
 * each is kept inside the directory: no `..`, no symbolic link leading out, regular files only.
 */
class DirectorySource implements MemberSource {
  private readonly real: string;

  constructor(readonly label: string) {
    try {
      this.real = realpathSync(label);
    } catch (err) {
      throw fsError(label, err);
    }
  }

  has(name: string): boolean {
    const n = memberName(name);
    if (n.startsWith('../') || n === '..' || posix.isAbsolute(n)) return false;
    try {
      lstatSync(join(this.label, n));
      return true;
    } catch {
      return false;
    }
  }

  private locate(name: string): string {
    const n = memberName(name);
    if (n.startsWith('../') || n === '..' || posix.isAbsolute(n)) throw new LoadError(`${name} names a file outside the layout`, { file: this.label });
    const path = join(this.label, n);
    let real: string;
    try {
      real = realpathSync(path);
    } catch (err) {
      throw fsError(path, err);
    }
    if (!real.startsWith(`${this.real}/`)) throw new LoadError(`leads out of the layout (to ${real})`, { file: path });
    let isFile: boolean;
    try {
      isFile = statSync(real).isFile();
    } catch (err) {
      throw fsError(path, err);
    }
    if (!isFile) throw new LoadError('not a regular file', { file: path });
    return real;
  }

  stat(name: string): { name: string; size: number } {
    const path = this.locate(name);
    return { name: memberName(name), size: statSync(path).size };
  }

  read(name: string): Buffer {
    const path = this.locate(name);
    const size = statSync(path).size;
    if (size > MAX_DOCUMENT_BYTES) throw new LoadError(`${size} bytes, too large for what it should be`, { file: path });
    try {
      return readFileSync(path);
    } catch (err) {
      throw fsError(path, err);
    }
  }

  stream(name: string, from = 0): AsyncIterable<Buffer> {
    const path = this.locate(name);
    return (async function* () {
      const stream = createReadStream(path, { start: from, highWaterMark: 1 << 20 });
      try {
        for await (const chunk of stream) yield chunk as Buffer;
      } catch (err) {
        throw fsError(path, err);
      } finally {
        stream.destroy();
      }
    })();
  }

  compression(name: string): Compression | null {
    const path = this.locate(name);
    const fd = openSync(path, 'r');
    try {
      return headCompression(fd, 0, MAGIC_BYTES);
    } finally {
      closeSync(fd);
    }
  }

  close(): void {}
}

// ---------------------------------------------------------------------------------------------------
// Opening what to load.

/** What `strata load` reads: a directory, or a byte stream (a file, a FIFO, stdin). */
export type LoadInput = { kind: 'directory'; path: string } | { kind: 'file'; file: InputFile };

/**
 * Opens what to load before the store is touched: `path`, or stdin when it is null. A directory must be
 * an OCI image layout (index.json) or an extracted docker save archive (manifest.json).
 */
export function openLoadInput(path: string | null): LoadInput {
  if (path === null) return { kind: 'file', file: openStdin() };
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // openInputFile names what is wrong with it
  }
  if (!isDir) return { kind: 'file', file: openInputFile(path) };
  const dir = new DirectorySource(path);
  if (!dir.has('index.json') && !dir.has('manifest.json')) {
    throw new LoadError('a directory, but neither an OCI image layout (no index.json) nor an extracted docker save archive (no manifest.json)', { file: path });
  }
  return { kind: 'directory', path };
}

export function closeLoadInput(input: LoadInput): void {
  if (input.kind === 'file') input.file.close();
}

/** The members of a tar with where their contents start, read once without keeping contents. */
async function indexTar(chunks: AsyncIterable<Buffer>, label: string): Promise<Map<string, Member>> {
  const members = new Map<string, Member>();
  try {
    for await (const { entry, offset } of readTar(chunks)) {
      const name = memberName(entry.name);
      members.set(name, { name, type: entry.type, size: entry.size, offset, linkname: entry.linkname });
    }
  } catch (err) {
    throw namingInput(err, label);
  }
  return members;
}

export interface LoadProgress {
  add(n: number): void;
  done(): void;
}

/** Makes a progress display for one piece of work (reading the archive, applying a layer); total in bytes. */
export type ProgressFactory = (title: string, total: number | null) => LoadProgress;

const NO_PROGRESS: ProgressFactory = () => ({ add() {}, done() {} });

async function* counting(source: AsyncIterable<Buffer>, progress: LoadProgress): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    progress.add(chunk.length);
    yield chunk;
  }
}

/** After the tar's end, at most this much more is read, so a writer piping into strata is not cut off mid-write. */
const TRAILER_BYTES = 1 << 20;

/**
 * A stream (a pipe, stdin, a compressed file) made readable by offsets.
 *
 * docker save writes manifest.json after the layers, and an OCI archive may put index.json anywhere, so
 * which layer belongs to which image, and goes on which parent, is known only once the whole stream has
 * been read; a pipe cannot be read twice and a compressed file cannot be read by offsets. So the
 * decompressed tar is copied once into a temporary file in the store's layerdb/tmp (the file system the
 * layers go to: its free space is the one that matters, and copying stops short of applying's margin), its members
 * indexed as they pass, and the layers then read from it by offset — as dockerd itself untars an archive
 * into a temporary directory first. Memory stays that of a few chunks, whatever the archive's size. The
 * file is unlinked as soon as it is open, so not even a SIGKILL leaves it behind.
 */
async function spoolArchive(file: InputFile, dir: string, progress: ProgressFactory): Promise<ArchiveSource> {
  const path = join(dir, tempName('load-spool'));
  let fd: number;
  try {
    fd = openSync(path, 'wx+', 0o600);
    unlinkSync(path);
  } catch (err) {
    throw fsError(path, err, 'cannot make the temporary copy of the archive');
  }
  // The same margin as applying a layer keeps (drivers/archive/apply.ts): the layers still need room after it.
  const keep = keepFreeDefault(dir);
  const bar = progress(`Reading ${file.path}`, file.size);
  let written = 0;
  let budget = 0;
  const write = (chunk: Buffer) => {
    if (chunk.length > budget) {
      const st = statfsSync(dir);
      const available = st.bavail * st.bsize;
      budget = available - keep;
      if (chunk.length > budget) {
        throw new LoadError(
          `reading stopped after ${mib(written)}: copying more would leave less than ${mib(keep)} free on the store's file system (${mib(available)} available). ` +
            'A piped or compressed archive is copied there first: give an uncompressed archive file, or free space',
          { file: file.path },
        );
      }
    }
    budget -= chunk.length;
    for (let off = 0; off < chunk.length; ) {
      try {
        off += writeSync(fd, chunk, off, chunk.length - off, written + off);
      } catch (err) {
        throw fsError(path, err, 'writing the temporary copy of the archive');
      }
    }
    written += chunk.length;
  };
  const raw = counting(file.chunks(), bar);
  const tee = (async function* () {
    for await (const chunk of decompress(raw, { label: file.path })) {
      write(chunk);
      yield chunk;
    }
  })();
  try {
    const members = await indexTar({ [Symbol.asyncIterator]: () => tee }, file.path);
    for (let after = 0; after < TRAILER_BYTES; ) {
      const r = await tee.next();
      if (r.done) break;
      after += r.value.length;
    }
    return new ArchiveSource(file.path, fd, members, true);
  } catch (err) {
    closeSync(fd);
    throw namingInput(err, file.path);
  } finally {
    await tee.return(undefined);
    bar.done();
  }
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** The archive of an input file: read in place when it is a plain regular file, else spooled (see spoolArchive). */
async function archiveSource(file: InputFile, spoolDir: () => string, progress: ProgressFactory): Promise<ArchiveSource> {
  if (file.size !== null && headCompression(file.fd, 0, Math.min(file.size, MAGIC_BYTES)) === null) {
    const bar = progress(`Reading ${file.path}`, file.size);
    try {
      const members = await indexTar(counting(file.size === 0 ? noBytes() : readRange(file.fd, 0, file.size - 1, file.path), bar), file.path);
      return new ArchiveSource(file.path, file.fd, members, false);
    } finally {
      bar.done();
    }
  }
  return spoolArchive(file, spoolDir(), progress);
}

// ---------------------------------------------------------------------------------------------------
// Applying one layer.

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

// ---------------------------------------------------------------------------------------------------
// Which images, and loading them.

export interface ArchiveImage {
  configMember: string;
  /** The config's digest when the layout names it (OCI): the config must hash to it. */
  configDigest?: string;
  layerMembers: string[];
  tags: string[];
  /** manifest.json's Parent: the image id docker save recorded as this one's parent (it saved both). */
  parent?: string;
}

/** docker save's archive (manifest.json) or an OCI image layout (index.json and oci-layout). */
export type ArchiveLayout = 'docker-save' | 'oci';

function memberJson(source: MemberSource, name: string): unknown {
  const bytes = source.read(name);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new LoadError(`${name} is not valid JSON`, { file: source.label });
  }
}

/** Images in a docker-save archive (manifest.json) or an OCI layout (index.json), with their tags. */
export function imagesInSource(source: MemberSource, platform: Platform = hostPlatform()): { layout: ArchiveLayout; images: ArchiveImage[]; warnings: Warning[] } {
  if (source.has('manifest.json')) {
    const manifest = memberJson(source, 'manifest.json') as Array<{ Config: string; RepoTags?: string[] | null; Layers: string[]; Parent?: string }>;
    if (!Array.isArray(manifest) || !manifest.every((m) => m && typeof m.Config === 'string' && (m.Layers === undefined || m.Layers === null || Array.isArray(m.Layers)))) {
      throw new LoadError(`manifest.json is not a list of images`, { file: source.label });
    }
    const images = manifest.map((m) => ({
      configMember: m.Config,
      layerMembers: m.Layers ?? [],
      tags: m.RepoTags ?? [],
      ...(typeof m.Parent === 'string' && m.Parent !== '' ? { parent: m.Parent } : {}),
    }));
    return { layout: 'docker-save', images, warnings: [] };
  }
  if (source.has('index.json')) {
    if (!source.has('oci-layout')) throw new LoadError('has index.json but no oci-layout file: not an OCI image layout', { file: source.label });
    const version = (memberJson(source, 'oci-layout') as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
    if (typeof version !== 'string' || !/^1\./.test(version)) throw new LoadError(`oci-layout gives image layout version ${JSON.stringify(version)}; strata reads version 1`, { file: source.label });
    try {
      const { images, warnings } = imagesInLayout({ has: (n) => source.has(n), json: (n) => memberJson(source, n) }, platform);
      return { layout: 'oci', images, warnings: warnings.map((message) => ({ file: source.label, message })) };
    } catch (err) {
      if (err instanceof OciLayoutError) throw new LoadError(err.reason, { file: source.label, cause: err });
      throw err;
    }
  }
  throw new LoadError(`neither a docker save archive (no manifest.json) nor an OCI image layout (no index.json)`, { file: source.label });
}

export interface LoadedImage {
  id: string;
  tags: string[];
  untagged: MovedTag[];
  layersApplied: number;
  layersPresent: number;
}

export interface LoadResult {
  layout: ArchiveLayout;
  images: LoadedImage[];
  /** What was loaded otherwise than the input asked (a bare OCI ref name): for stderr. */
  warnings: Warning[];
}

export interface LoadOptions {
  /** The write session on the target root (inspect/open-for-write.ts): its writer, driver and undo record. */
  session: WriteSession;
  /** false refuses device nodes (--no-devices); by default they are created, as dockerd creates them. */
  allowDevices?: boolean;
  /** A layer larger than this once decompressed is refused (--max-layer-bytes). */
  maxLayerBytes?: number;
  /** Progress of reading the input and of each layer (cli/progress.ts on a terminal). */
  progress?: ProgressFactory;
  /** The platform an OCI index is narrowed to (default linux on this machine's architecture). */
  platform?: Platform;
}

interface ImageToLoad extends ArchiveImage {
  configBytes: Buffer;
  config: ImageConfig;
  diffIds: string[];
}

/**
 * Whether `parent` may be recorded as `child`'s parent, by dockerd's rule for docker load (tarexport's
 * checkValidParent): the parent's history and layers are a proper prefix of the child's.
 */
export function isValidParent(child: ImageConfig, parent: ImageConfig): boolean {
  const ch = child.history ?? [];
  const ph = parent.history ?? [];
  if (ch.length === 0 && ph.length === 0) return true; // images from before history was recorded
  if (ph.length >= ch.length) return false;
  const cd = child.rootfs?.diff_ids ?? [];
  const pd = parent.rootfs?.diff_ids ?? [];
  if (pd.length > cd.length) return false;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  return ph.every((h, i) => same(h, ch[i])) && pd.every((d, i) => d === cd[i]);
}

/** An image's config, read and checked against its digest, its layers and tags before anything is written. */
function readImageToLoad(source: MemberSource, image: ArchiveImage): ImageToLoad {
  const file = source.label;
  const configBytes = source.read(image.configMember);
  if (image.configDigest && sha256Digest(configBytes) !== image.configDigest) {
    throw new LoadError(`${image.configMember} hashes to ${sha256Digest(configBytes)}, not to the digest it is named by`, { file });
  }
  let config: ImageConfig;
  try {
    config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
  } catch {
    throw new LoadError(`${image.configMember} is not a JSON image config`, { file });
  }
  if (!config || typeof config !== 'object') throw new LoadError(`${image.configMember} is not a JSON image config`, { file });
  // dockerd's words (image.CheckOS): a Linux daemon loads Linux images only.
  if (config.os && config.os !== 'linux') throw new LoadError(`cannot load ${config.os} image on linux (${image.configMember})`, { file });
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (!Array.isArray(diffIds) || diffIds.length !== image.layerMembers.length || !diffIds.every(isSha256Digest)) {
    throw new LoadError(`${image.configMember} lists ${Array.isArray(diffIds) ? diffIds.length : 0} layers, the archive ${image.layerMembers.length}`, { file });
  }
  try {
    tagKeys(image.tags);
  } catch (err) {
    throw new LoadError((err as StrataError).reason, { file, cause: err });
  }
  return { ...image, configBytes, config, diffIds };
}

const BLOB_MEMBER = /^blobs\/sha256\/([0-9a-f]{64})$/;

/** Bytes passed on and hashed; `consumed` is how many. */
function hashingRaw(source: AsyncIterable<Buffer>): { stream: AsyncGenerator<Buffer>; hash: ReturnType<typeof createHash>; consumed: () => number } {
  const hash = createHash('sha256');
  let consumed = 0;
  const stream = (async function* () {
    for await (const chunk of source) {
      hash.update(chunk);
      consumed += chunk.length;
      yield chunk;
    }
  })();
  return { stream, hash, consumed: () => consumed };
}

/** Applies one layer member on `parent`, checked against its DiffID and, for a blob, against its digest. */
async function loadLayer(source: MemberSource, opts: LoadOptions, parent: string | null, member: string, diffId: string): Promise<void> {
  const { writer, driver } = opts.session;
  const { name, size } = source.stat(member);
  const label = `${source.label}: ${name}`;
  const compressed = size > 0 && source.compression(member) !== null;
  const bar = (opts.progress ?? NO_PROGRESS)(`Loading layer ${diffId.slice(SHA256_PREFIX.length, SHA256_PREFIX.length + 12)}`, size);
  const raw = hashingRaw(counting(source.stream(member), bar));
  try {
    await applyLayer(writer, driver, parent, decompress(raw.stream, { label, maxBytes: opts.maxLayerBytes }), {
      expectDiffId: diffId,
      // A plain layer cannot hold an entry larger than itself; a compressed one is bounded by free space.
      sourceBytes: compressed ? undefined : size,
      allowDevices: opts.allowDevices,
      label,
    });
  } finally {
    bar.done();
  }
  const blob = BLOB_MEMBER.exec(name) ?? BLOB_MEMBER.exec(memberName(member));
  if (blob) {
    // The tar ended before the blob did (gzip's trailer, padding): the rest is hashed too.
    for await (const chunk of source.stream(member, raw.consumed())) raw.hash.update(chunk);
    const digest = SHA256_PREFIX + raw.hash.digest('hex');
    if (digest !== `${SHA256_PREFIX}${blob[1]}`) throw new LoadError(`${name} hashes to ${digest}, not to the digest it is named by`, { file: source.label });
  }
}

/**
 * Loads every image of the source through the session: all layers first, then the image configs, then
 * the tags in one write. A load that fails has tagged nothing, and closing its session removes the layers
 * it applied.
 */
export async function loadFromSource(source: MemberSource, opts: LoadOptions): Promise<LoadResult> {
  const { writer } = opts.session;
  const found = imagesInSource(source, opts.platform);
  const images = found.images.map((image) => readImageToLoad(source, image));
  const counts: Array<{ applied: number; present: number }> = [];
  for (const image of images) {
    let parent: string | null = null;
    let applied = 0;
    let present = 0;
    for (const [i, diffId] of image.diffIds.entries()) {
      const chainId = chainIdOf(parent, diffId);
      if (writer.hasLayer(chainId)) present++;
      else {
        await loadLayer(source, opts, parent, image.layerMembers[i], diffId);
        applied++;
      }
      parent = chainId;
    }
    counts.push({ applied, present });
  }
  const ids = images.map((image) => writer.writeImageConfig(image.configBytes));
  // docker load records manifest.json's Parent once the parent image is in the store (loaded just now or
  // before), refusing one whose history and layers do not start the child's, as dockerd does.
  for (const [i, image] of images.entries()) {
    if (!image.parent) continue;
    const parentId = image.parent.startsWith(SHA256_PREFIX) ? image.parent : SHA256_PREFIX + image.parent;
    const loaded = ids.indexOf(parentId);
    const parentConfig = loaded >= 0 ? images[loaded].config : writer.readImageConfig(parentId);
    if (!parentConfig) throw new LoadError(`manifest.json names ${parentId} as the parent of ${ids[i]}, but no such image is in the archive or the store`, { file: source.label });
    if (!isValidParent(image.config, parentConfig)) throw new LoadError(`image ${parentId} is not a valid parent for ${ids[i]}`, { file: source.label });
    writer.writeImageParent(ids[i], parentId);
  }
  const untagged = writer.tag(images.map((image, i) => ({ refs: image.tags, imageId: ids[i] })));
  return {
    layout: found.layout,
    warnings: found.warnings,
    images: images.map((image, i) => ({ id: ids[i], tags: image.tags, untagged: untagged[i], layersApplied: counts[i].applied, layersPresent: counts[i].present })),
  };
}

/** Loads what `input` holds (see openLoadInput) into the session's store. */
export async function loadImages(input: LoadInput, opts: LoadOptions): Promise<LoadResult> {
  const progress = opts.progress ?? NO_PROGRESS;
  const source: MemberSource =
    input.kind === 'directory' ? new DirectorySource(input.path) : await archiveSource(input.file, () => join(opts.session.writer.meta, 'layerdb', 'tmp'), progress);
  try {
    return await loadFromSource(source, opts);
  } catch (err) {
    throw namingInput(err, source.label);
  } finally {
    source.close();
  }
}

/** Loads an archive file or layout directory (what `strata demo` loads its sample images with). */
export async function loadArchive(path: string, opts: LoadOptions): Promise<LoadedImage[]> {
  const input = openLoadInput(path);
  try {
    return (await loadImages(input, opts)).images;
  } finally {
    closeLoadInput(input);
  }
}

/**
 * What `docker load` prints for a load: per reference, a note when it moved away from another image, then
 * "Loaded image: name:tag". For a save archive, dockerd 20.10 prints "Loaded image ID:" lines — of every
 * image loaded — only when the last image of manifest.json has no tags; for an OCI layout docker ≥ 25
 * prints one line per image, by name or, without one, by ID.
 */
export function loadMessages(result: Pick<LoadResult, 'layout' | 'images'>): string[] {
  const lines: string[] = [];
  for (const image of result.images) {
    const moved = new Map(image.untagged.map((m) => [m.ref, m.previous]));
    const keys = tagKeys(image.tags);
    for (const { ref } of keys) {
      const previous = moved.get(ref);
      if (previous) lines.push(`The image ${ref} already exists, renaming the old one with ID ${previous} to empty string`);
      lines.push(`Loaded image: ${ref}`);
    }
    if (result.layout === 'oci' && keys.length === 0) lines.push(`Loaded image ID: ${image.id}`);
  }
  const last = result.images[result.images.length - 1];
  if (result.layout === 'docker-save' && last && last.tags.length === 0) for (const image of result.images) lines.push(`Loaded image ID: ${image.id}`);
  return lines;
}

function readCacheId(writer: StoreWriter, chainId: string): string {
  const file = `${writer.layerDir(chainId)}/cache-id`;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw fsError(file, err, "the parent layer's cache-id");
  }
}
