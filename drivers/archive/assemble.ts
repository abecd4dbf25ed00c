// Rebuilds a layer's original tar byte for byte from its tar-split and the files on disk
// (what moby's layer store does for `docker save`): segments verbatim, file contents read by name,
// each opened beneath the layer's directory and checked against its record before it is read.
import { errnoOf, StrataError } from '../../native/errors.js';
import { fileTypeWords } from '../../native/index.js';
import { joinBytes } from '../../native/names.js';
import { LayerEntryError, openLayerDir, type LayerFiles } from '../../native/open-beneath.js';
import { closeSync } from 'node:fs';
import { ChunkBuilder, type TarPiece } from './chunks.js';
import { Crc64 } from './crc64.js';
import { FILE, readTarSplit, TarSplitError, type FileEntry } from './tar-split.js';

export class LayerContentError extends StrataError {
  override name = 'LayerContentError';
  constructor(file: string | Buffer, reason: string) {
    super(reason, { file });
  }
}

export interface AssembleOptions {
  /** Check each file's CRC-64 against the tar-split (costs CPU; the DiffID check covers the whole stream). */
  verifyCrc?: boolean;
}

const SLASH = 0x2f;

/** The on-disk path of a tar entry name below `contentDir`, refusing names that climb out of it. */
export function contentPath(contentDir: string, nameBytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= nameBytes.length; i++) {
    if (i === nameBytes.length || nameBytes[i] === SLASH) {
      const part = nameBytes.subarray(start, i);
      start = i + 1;
      if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
      if (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e) throw new TarSplitError(`entry name climbs out of the layer: ${nameBytes.toString('utf8')}`);
      parts.push(part);
    }
  }
  const pieces: Buffer[] = [Buffer.from(contentDir, 'utf8')];
  for (const p of parts) pieces.push(Buffer.of(SLASH), p);
  return Buffer.concat(pieces);
}

/**
 * Yields the layer tar in large chunks; throws LayerContentError naming the file that does not match.
 * Each file is opened beneath the layer's directory following no symlink (`layer`: from the driver's
 * openLayer; a string is a directory the caller trusts, opened as given), and must be a regular file of
 * the size the tar-split records: that is checked before any of its bytes go out.
 */
export async function* assembleFromTarSplit(tarSplitPath: string, layer: LayerFiles | string, opts: AssembleOptions = {}): AsyncGenerator<TarPiece> {
  const files = typeof layer === 'string' ? openLayerDir(layer, []) : layer;
  const out = new ChunkBuilder();
  try {
    for await (const entry of readTarSplit(tarSplitPath)) {
      if (entry.type !== FILE) {
        yield* out.add(entry.payload);
        continue;
      }
      if (entry.size === 0) continue;
      const fd = openRecorded(files, entry);
      try {
        const crc = opts.verifyCrc ? new Crc64() : null;
        const mismatch = (left: number) => new LayerContentError(shownName(files, entry.nameBytes), `ended ${left} bytes early`);
        yield* out.readOpened(fd, entry.size, mismatch, crc ? (piece) => crc.update(piece) : undefined);
        if (crc && entry.crc && !crc.digest().equals(entry.crc)) {
          throw new LayerContentError(shownName(files, entry.nameBytes), `content differs from what the layer recorded (CRC-64 ${crc.hex()}, expected ${entry.crc.toString('hex')})`);
        }
      } finally {
        closeSync(fd);
      }
    }
  } catch (err) {
    if (err instanceof TarSplitError) throw new LayerContentError(tarSplitPath, `corrupt tar-split: ${err.message}`);
    throw err;
  } finally {
    if (files !== layer) files.close();
  }
  yield* out.finish();
}

function shownName(files: LayerFiles, name: Buffer): Buffer {
  return joinBytes(files.dir, name);
}

/** Opens a file the tar-split records with `entry.size` bytes, refusing (naming it) anything else on disk. */
function openRecorded(files: LayerFiles, entry: FileEntry): number {
  const recorded = `the layer's tar-split lists it with ${entry.size} bytes`;
  let opened;
  try {
    opened = files.openEntry(entry.nameBytes);
  } catch (err) {
    const file = err instanceof StrataError && err.file !== undefined ? err.file : shownName(files, entry.nameBytes);
    if (err instanceof LayerEntryError && /climbs out/.test(err.reason)) throw new LayerContentError(file, `${err.reason}`);
    const reason = errnoOf((err as { cause?: unknown }).cause) === 'ENOENT' ? 'missing' : err instanceof StrataError ? err.reason : String(err);
    throw new LayerContentError(file, `${reason} (${recorded})`);
  }
  const { fd, stat } = opened;
  if (fd === null) throw new LayerContentError(shownName(files, entry.nameBytes), `is ${fileTypeWords(stat.mode)}, not a regular file (${recorded}; not read)`);
  if (stat.size !== entry.size) {
    closeSync(fd);
    throw new LayerContentError(shownName(files, entry.nameBytes), `is ${stat.size} bytes, the tar-split recorded ${entry.size}`);
  }
  return fd;
}
