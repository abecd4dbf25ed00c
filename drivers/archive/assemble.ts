// Rebuilds a layer's original tar byte for byte from its tar-split and the files on disk
// (what moby's layer store does for `docker save`): segments verbatim, file contents read by name.
import { StrataError } from '../../native/errors.js';
import { statSync } from 'node:fs';
import { ChunkBuilder, type TarPiece } from './chunks.js';
import { Crc64 } from './crc64.js';
import { FILE, readTarSplit, TarSplitError } from './tar-split.js';

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

/** Yields the layer tar in large chunks; throws LayerContentError naming the file that does not match. */
export async function* assembleFromTarSplit(tarSplitPath: string, contentDir: string, opts: AssembleOptions = {}): AsyncGenerator<TarPiece> {
  const out = new ChunkBuilder();
  try {
    for await (const entry of readTarSplit(tarSplitPath)) {
      if (entry.type !== FILE) {
        yield* out.add(entry.payload);
        continue;
      }
      if (entry.size === 0) continue;
      const path = contentPath(contentDir, entry.nameBytes);
      const shown = path.toString('utf8');
      let actual: number;
      try {
        actual = statSync(path).size;
      } catch (err) {
        throw new LayerContentError(shown, `${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message} (the layer's tar-split lists it with ${entry.size} bytes)`);
      }
      if (actual !== entry.size) throw new LayerContentError(shown, `is ${actual} bytes, the tar-split recorded ${entry.size}`);
      const crc = opts.verifyCrc ? new Crc64() : null;
      yield* out.readFile(path, entry.size, (left) => new LayerContentError(shown, `ended ${left} bytes early`), crc ? (piece) => crc.update(piece) : undefined);
      if (crc && entry.crc && !crc.digest().equals(entry.crc)) {
        throw new LayerContentError(shown, `content differs from what the layer recorded (CRC-64 ${crc.hex()}, expected ${entry.crc.toString('hex')})`);
      }
    }
  } catch (err) {
    if (err instanceof TarSplitError) throw new LayerContentError(tarSplitPath, `corrupt tar-split: ${err.message}`);
    throw err;
  }
  yield* out.finish();
}
