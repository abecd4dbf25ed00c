// Exporting a layer as its tar: exact bytes rebuilt from tar-split where Docker kept one, otherwise a fresh
// tar from the driver. Also which layer a user means (ChainID, DiffID, cache id, image + index, container).
import { StrataError } from '../native/errors.js';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { assembleFromTarSplit, nativeExactOf, nativeExactRebuild, withNativeExact, type NativeExact } from '../drivers/archive/assemble.js';
import { bytesOf, PLAN_BYTES, type TarPiece } from '../drivers/archive/chunks.js';
import { nativeHelpers, type NativeHelpers, type PlanOp } from '../native/index.js';
import type { LayerRef, StorageDriver } from '../drivers/types.js';
import { SHA256_PREFIX } from './digest.js';
import type { Container, StoreModel } from './model.js';
import { fdSink, isClosedPipe, outputError, stdoutSink, type OutputTarget, type Sink } from './output-file.js';
import { layerEntryDir } from './docker/layerdb.js';
import { tarSplitPath } from './tar-split-path.js';
import { ImageReferenceError, resolveImage } from './reference.js';
import { unreadFieldOf } from './unreadable.js';

export type LayerTarget =
  | { kind: 'layer'; chainId: string; diffId: string | null; ref: LayerRef; tarSplit: string | null }
  | { kind: 'container'; container: Container; ref: LayerRef };

export function layerTargetOf(model: StoreModel, chainId: string): LayerTarget {
  const layer = model.layers.get(chainId);
  if (!layer) throw new ImageReferenceError(`layer ${chainId} is not in layerdb`);
  if (!layer.cacheId) {
    // A cache-id that could not be read is not one that is absent: say which it is.
    if (layer.unread.includes('cacheId')) {
      const why = unreadFieldOf(model, chainId, 'cacheId');
      throw new StrataError(`${why.reason} — cannot find the layer's files`, { file: why.file });
    }
    throw new ImageReferenceError(`${join(layerEntryDir(model, chainId), 'cache-id')}: missing — cannot find the layer's files`);
  }
  const parentCacheId = layer.parent ? model.layers.get(layer.parent)?.cacheId ?? null : null;
  return {
    kind: 'layer',
    chainId,
    diffId: layer.diffId,
    ref: { cacheId: layer.cacheId, parentCacheId },
    tarSplit: tarSplitPath(model, chainId),
  };
}

export function containerTarget(c: Container): LayerTarget {
  if (!c.mountId) throw new ImageReferenceError(`container ${c.id.slice(0, 12)} has no read-write layer record (layerdb/mounts/${c.id}/mount-id)`);
  return { kind: 'container', container: c, ref: { cacheId: c.mountId, parentCacheId: c.initId } };
}

function uniqueMatch<T>(what: string, input: string, matches: T[], describe: (t: T) => string): T | null {
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) throw new ImageReferenceError(`ambiguous ${what} ${input}: ${matches.length} match, give more characters`, matches.map(describe));
  return null;
}

export function findContainer(model: StoreModel, input: string): Container | null {
  const text = input.replace(/^\//, '');
  const byName = model.containers.find((c) => c.name === text);
  if (byName) return byName;
  if (!/^[0-9a-f]+$/.test(text)) return null;
  return uniqueMatch('container id', input, model.containers.filter((c) => c.id.startsWith(text)), (c) => `${c.id.slice(0, 12)} ${c.name}`);
}

/** What a user typed → a layer or a container's read-write layer. `layerIndex` (1-based; negative from the top) picks an image's layer. */
export function resolveLayerTarget(model: StoreModel, input: string, layerIndex?: number): LayerTarget {
  if (layerIndex !== undefined) {
    const image = resolveImage(model, input);
    const n = image.chainIds.length;
    const i = layerIndex < 0 ? n + layerIndex : layerIndex - 1;
    if (!Number.isInteger(layerIndex) || layerIndex === 0 || i < 0 || i >= n) {
      throw new ImageReferenceError(`${input} has ${n} layers; --layer takes 1…${n} (or -1 for the top)`);
    }
    return layerTargetOf(model, image.chainIds[i]);
  }
  const container = findContainer(model, input);
  if (container) return containerTarget(container);
  const hex = /^(?:sha256:)?([0-9a-f]+)$/.exec(input)?.[1];
  if (hex) {
    const chain = uniqueMatch('layer ChainID', input, [...model.layers.keys()].filter((c) => c.startsWith(SHA256_PREFIX + hex)), (c) => c);
    if (chain) return layerTargetOf(model, chain);
    // Layers with the same DiffID hold the same content (on other parents): any of them gives its tar.
    const byDiff = [...model.layers.values()].filter((l) => l.diffId?.startsWith(SHA256_PREFIX + hex)).sort((a, b) => (a.chainId < b.chainId ? -1 : 1));
    const diffIds = [...new Set(byDiff.map((l) => l.diffId!))];
    const diffId = uniqueMatch('layer DiffID', input, diffIds, (d) => d);
    if (diffId) return layerTargetOf(model, byDiff.find((l) => l.diffId === diffId)!.chainId);
    const byCache = uniqueMatch('cache id', input, [...model.layers.values()].filter((l) => l.cacheId?.startsWith(hex)), (l) => `${l.cacheId} (layer ${l.chainId})`);
    if (byCache) return layerTargetOf(model, byCache.chainId);
  }
  let imageHint = '';
  try {
    const image = resolveImage(model, input);
    imageHint = ` — ${input} is an image with ${image.chainIds.length} layers: add --layer N`;
  } catch {
    // not an image either
  }
  throw new ImageReferenceError(`no layer or container matches ${input}${imageHint}`);
}

/** What `strata mount` mounts: a container's layers, an image's whole stack, or a layer's stack. */
export function resolveMountTarget(model: StoreModel, input: string): LayerTarget {
  const container = findContainer(model, input);
  if (container) return containerTarget(container);
  try {
    const image = resolveImage(model, input);
    const top = image.chainIds[image.chainIds.length - 1];
    if (!top) throw new ImageReferenceError(`${input} has no layers to mount`);
    return layerTargetOf(model, top);
  } catch (err) {
    if (err instanceof ImageReferenceError && /has no layers/.test(err.message)) throw err;
    return resolveLayerTarget(model, input);
  }
}

export interface LayerStream {
  chunks: AsyncIterable<TarPiece>;
  /** True when rebuilt from tar-split: the bytes Docker exported, so their sha256 must be the DiffID. */
  exact: boolean;
  expectedDiffId: string | null;
}

/**
 * A layer's tar. With `passFiles`, a fresh export leaves file contents on disk, in TarPlans, for the writer
 * to copy inside the kernel (see canCopyInKernel); every consumer here also reads them where needed.
 */
export function layerStream(driver: StorageDriver, target: LayerTarget, opts: { fresh?: boolean; verifyCrc?: boolean; passFiles?: boolean } = {}): LayerStream {
  if (target.kind === 'layer' && target.tarSplit && !opts.fresh) {
    const chunks = exactChunks(driver, target.ref.cacheId, target.tarSplit, opts.verifyCrc ?? false);
    // The same bytes assembled and hashed natively, for writers that hash (a CRC check stays in JavaScript).
    const native = opts.verifyCrc ? null : nativeExactRebuild(target.tarSplit, () => driver.openLayer(target.ref.cacheId));
    return { chunks: native ? withNativeExact(chunks, native) : chunks, exact: true, expectedDiffId: target.diffId };
  }
  return { chunks: driver.diff(target.ref, { passFiles: opts.passFiles ?? false }), exact: false, expectedDiffId: null };
}

/** The exact rebuild, its files opened through the driver (beneath the layer's directory), held only while it runs. */
async function* exactChunks(driver: StorageDriver, cacheId: string, tarSplit: string, verifyCrc: boolean): AsyncGenerator<TarPiece> {
  const layer = driver.openLayer(cacheId);
  try {
    yield* assembleFromTarSplit(tarSplit, layer, { verifyCrc });
  } finally {
    layer.close();
  }
}

export interface WriteResult {
  bytes: number;
  /** sha256 of the bytes, when it was computed. */
  digest: string | null;
}

/**
 * Why a layer's exact tar does not hash to its DiffID: rebuilt again with a CRC-64 check on every file
 * against the tar-split, which names the file that changed.
 */
export async function diagnoseLayer(driver: StorageDriver, target: LayerTarget): Promise<string> {
  try {
    await digestStream(layerStream(driver, target, { verifyCrc: true }).chunks);
    return 'every file matches its tar-split record, so the tar-split itself differs from the original';
  } catch (err) {
    return (err as Error).message;
  }
}

/** Hashes the stream and sends it nowhere (verify). */
export async function digestStream(chunks: AsyncIterable<TarPiece>, onBytes?: (n: number) => void): Promise<WriteResult> {
  const native = nativeExactOf(chunks);
  if (native) return native(-1, onBytes);
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const piece of chunks) {
    for (const c of bytesOf(piece)) {
      hash.update(c);
      bytes += c.length;
      onBytes?.(c.length);
    }
  }
  return { bytes, digest: SHA256_PREFIX + hash.digest('hex') };
}

export class DigestMismatchError extends StrataError {
  override name = 'DigestMismatchError';
}

export interface WriteOptions {
  onBytes?: (n: number) => void;
  /** Compute the sha256 of what is written (needed only to check an exact rebuild). */
  digest?: boolean;
  /** The sha256 the bytes must have: a regular file is not replaced otherwise, and any output fails. */
  expectDigest?: string | null;
}

/**
 * Whether writeToFd copies file contents inside the kernel (splice into a pipe, sendfile into a file):
 * the native helpers are built and nothing needs to see the bytes (no digest).
 */
export function canCopyInKernel(opts: Pick<WriteOptions, 'digest' | 'expectDigest'> = {}): boolean {
  return !opts.digest && !opts.expectDigest && nativeHelpers() !== null;
}

/** Writes the stream to a file descriptor or, with null, to stdout. */
export async function writeToFd(fd: number | null, chunks: AsyncIterable<TarPiece>, opts: WriteOptions = {}): Promise<WriteResult> {
  return writeToSink(fd === null ? stdoutSink() : fdSink(fd, `fd ${fd}`), fd ?? 1, chunks, opts);
}

/**
 * Writes a layer's tar to an output (inspect/output-file.ts) and commits it. With `expectDigest`, a tar that
 * hashes otherwise fails: a regular file is then left as it was, while a device, a FIFO or stdout has the
 * bytes already and only the error says they are wrong.
 */
export async function writeToOutput(out: OutputTarget, chunks: AsyncIterable<TarPiece>, opts: WriteOptions = {}): Promise<WriteResult> {
  try {
    const result = await writeToSink(out, out.fd, chunks, opts);
    if (opts.expectDigest && result.digest !== opts.expectDigest) {
      throw new DigestMismatchError(
        out.writesThrough
          ? `the tar written hashes to ${result.digest}, not the layer's DiffID ${opts.expectDigest}`
          : `rebuilt tar hashes to ${result.digest}, not the layer's DiffID ${opts.expectDigest}; nothing written`,
        out.kind === 'stdout' ? {} : { file: out.name },
      );
    }
    await out.commit();
    return result;
  } catch (err) {
    out.abort();
    throw err;
  }
}

async function writeToSink(sink: Sink, fd: number, chunks: AsyncIterable<TarPiece>, opts: WriteOptions): Promise<WriteResult> {
  const exact = opts.digest || opts.expectDigest ? nativeExactOf(chunks) : null;
  if (exact) return writeExact(exact, fd, sink, opts.onBytes);
  const native = canCopyInKernel(opts) ? nativeHelpers() : null;
  if (native) return writeThroughPlans(native, fd, sink.name, chunks, opts.onBytes);
  const hash = opts.digest || opts.expectDigest ? createHash('sha256') : null;
  let bytes = 0;
  // The next chunk is read while the last one drains (stdout); only then is the drain awaited.
  let draining: Promise<void> | void = undefined;
  for await (const piece of chunks) {
    for (const c of bytesOf(piece)) {
      hash?.update(c);
      if (draining) await draining;
      draining = sink.write(c);
      bytes += c.length;
      opts.onBytes?.(c.length);
    }
  }
  if (draining) await draining;
  await sink.flush();
  return { bytes, digest: hash ? SHA256_PREFIX + hash.digest('hex') : null };
}

/** An exact rebuild written and hashed by the native helpers (drivers/archive/assemble.ts writeExactNatively). */
async function writeExact(exact: NativeExact, fd: number, sink: Sink, onBytes?: (n: number) => void): Promise<WriteResult> {
  nativeHelpers()?.growPipe(fd, PIPE_BYTES);
  let result;
  try {
    result = await exact(fd, onBytes);
  } catch (err) {
    throw err instanceof StrataError ? err : nativeWriteError(err, sink.name);
  }
  await sink.flush();
  return result;
}

/** A pipe is grown to this, so the writer moves more per wake-up of the reader. */
const PIPE_BYTES = 1 << 20;

/**
 * The native writer's failure in words: a closed pipe, a failed write to the output (its message starts
 * with "write:"), or a layer file it could not read (its message names the file).
 */
function nativeWriteError(err: unknown, outName: string): unknown {
  if (isClosedPipe(err)) return outputError(outName, err);
  const message = err instanceof Error ? err.message : String(err);
  if (message.startsWith('write: ')) return new StrataError(message.slice('write: '.length), { file: outName, cause: err });
  return new StrataError(message, { cause: err });
}

/**
 * The native writer: each plan is written on a libuv thread (files spliced or sent from the page cache)
 * while the next one is being built; one plan in flight keeps the order.
 */
async function writeThroughPlans(native: NativeHelpers, fd: number, outName: string, chunks: AsyncIterable<TarPiece>, onBytes?: (n: number) => void): Promise<WriteResult> {
  native.growPipe(fd, PIPE_BYTES);
  let bytes = 0;
  let inFlight: Promise<number> | null = null;
  const submit = async (ops: PlanOp[], planBytes: number) => {
    if (inFlight) {
      try {
        await inFlight;
      } catch (err) {
        throw nativeWriteError(err, outName);
      }
    }
    inFlight = null;
    if (ops.length === 0) return;
    const plan = native.writePlan(fd, ops);
    plan.catch(() => {}); // awaited by the next submit; this only keeps a failure from counting as unhandled meanwhile
    inFlight = plan;
    onBytes?.(planBytes);
  };
  let loose: Buffer[] = [];
  let looseBytes = 0;
  try {
    for await (const piece of chunks) {
      if (Buffer.isBuffer(piece)) {
        loose.push(piece);
        looseBytes += piece.length;
        bytes += piece.length;
        if (looseBytes < PLAN_BYTES) continue;
      }
      if (loose.length > 0) await submit(loose, looseBytes);
      loose = [];
      looseBytes = 0;
      if (!Buffer.isBuffer(piece)) {
        await submit(piece.ops, piece.bytes);
        bytes += piece.bytes;
      }
    }
    await submit(loose, looseBytes);
    await submit([], 0);
  } finally {
    // A plan still being written uses the output's descriptor: the caller may close it only after.
    await (inFlight as Promise<number> | null)?.catch(() => {});
  }
  return { bytes, digest: null };
}
