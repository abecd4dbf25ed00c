// Reading a Docker store's small metadata files. Tens of thousands of tiny files go through one shared
// buffer; a file that cannot be read is recorded twice, as a warning naming it and in the model's record
// of what could not be read, and comes back as an Unread value, so a caller never mistakes it for absent.
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import type { FileProblem } from '../../native/small-files.js';
import type { Unreadables } from '../model.js';
import { errorMessage, type Warning } from '../warnings.js';

/** A file (or directory) that could not be read: which, and why in words. */
export class Unread {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {}
}

export function emptyUnreadables(): Unreadables {
  return { parts: [], containers: [], images: [], layers: [], mounts: [], files: [] };
}

export const HEX64 = /^[0-9a-f]{64}$/;

/** Why a file of a bulk read (native/small-files.ts) could not be read, in the words a single read's error gets. */
export function problemReason(problem: FileProblem): string {
  return errorMessage(Object.assign(new Error(problem.message), { code: problem.code }));
}

/** A driver directory id as layerdb records it: one path component, nothing that climbs out of the driver's home. */
export function isDirectoryId(id: string): boolean {
  return id.length > 0 && id.length <= 255 && !id.includes('/') && !id.includes('\0') && id !== '.' && id !== '..';
}

/**
 * Every path a read looked at (file read, directory listed), for the metadata index (inspect/metadata-index.ts),
 * which validates a cached model by their stats. Bulk reads are kept as their groups: base/name/fileName.
 */
export interface ReadLog {
  paths: string[];
  groups: Array<[base: string, names: readonly string[], fileNames: readonly string[]]>;
}

export class MetadataReader {
  readonly warnings: Warning[] = [];
  readonly unreadable: Unreadables = emptyUnreadables();

  constructor(readonly log: ReadLog | null = null) {}

  /** Records a bulk read (readSmallFiles' base, names and fileNames) in the read log. */
  logFiles(base: string, names: readonly string[], fileNames: readonly string[]): number {
    return this.log ? this.log.groups.push([base, names, fileNames]) - 1 : -1;
  }

  warn(file: string, message: string): void {
    this.warnings.push({ file, message });
  }

  /** Records a file that exists (or must) but could not be read, with its warning. */
  cannotRead(file: string, reason: string): Unread {
    this.warn(file, reason);
    this.unreadable.files.push({ file, reason });
    return new Unread(file, reason);
  }

  private failed(file: string, err: unknown, optional: boolean): Unread | null {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return this.cannotRead(file, errorMessage(err));
  }

  /** Directory entries; null when absent and optional; Unread when it could not be listed. */
  list(dir: string, optional = false): string[] | null | Unread {
    this.log?.paths.push(dir);
    try {
      return readdirSync(dir);
    } catch (err) {
      return this.failed(dir, err, optional);
    }
  }

  /** Reads through one shared buffer: most metadata files are tiny, and a store holds tens of thousands. */
  private readonly scratch = Buffer.allocUnsafe(64 * 1024);

  /** The file's bytes, in the shared buffer when they fit (valid until the next read). */
  private readRaw(file: string, optional: boolean): Buffer | null | Unread {
    this.log?.paths.push(file);
    try {
      const fd = openSync(file, 'r');
      try {
        const n = readSync(fd, this.scratch, 0, this.scratch.length, 0);
        if (n < this.scratch.length) return this.scratch.subarray(0, n);
      } finally {
        closeSync(fd);
      }
      return readFileSync(file);
    } catch (err) {
      return this.failed(file, err, optional);
    }
  }

  /** The file's bytes; null when absent and optional; Unread when it could not be read. */
  bytes(file: string, optional = false): Buffer | null | Unread {
    const raw = this.readRaw(file, optional);
    return raw === null || raw instanceof Unread ? raw : Buffer.from(raw);
  }

  /** The file's text, trimmed; null when absent and optional; Unread when it could not be read. */
  text(file: string, optional = false): string | null | Unread {
    const raw = this.readRaw(file, optional);
    return raw === null || raw instanceof Unread ? raw : raw.toString('utf8').trim();
  }

  /** The file parsed as JSON; null when absent and optional; Unread when it could not be read or parsed. */
  json<T>(file: string, optional = false): T | null | Unread {
    const raw = this.readRaw(file, optional);
    if (raw === null || raw instanceof Unread) return raw;
    try {
      return JSON.parse(raw.toString('utf8')) as T;
    } catch (err) {
      return this.cannotRead(file, `corrupt JSON (${errorMessage(err)})`);
    }
  }
}
