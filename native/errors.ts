// The one error base of strata. Every failure a user can cause or fix is a StrataError: it names the file
// (when there is one) and the reason in words, and the CLI prints it as one line. Anything else that
// reaches the CLI is a bug. This module sits below drivers/, snapshots/ and inspect/, so all may use it.
import { lstatSync, readdirSync } from 'node:fs';
import { displayPath } from './names.js';

export interface StrataErrorOptions {
  /** The file (or directory, or tar entry) the problem is about. Buffers are shown as docker shows names. */
  file?: string | Buffer;
  /** The error underneath (an errno error, a parse error), kept for STRATA_DEBUG. */
  cause?: unknown;
}

export class StrataError extends Error {
  override name = 'StrataError';
  /** The file the problem is about, as printed. */
  readonly file: string | undefined;
  /** Why, in words, without the file. */
  readonly reason: string;

  constructor(reason: string, opts: StrataErrorOptions = {}) {
    const file = opts.file === undefined ? undefined : typeof opts.file === 'string' ? opts.file : displayPath(opts.file);
    super(file === undefined ? reason : `${file}: ${reason}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.file = file;
    this.reason = reason;
  }
}

/** The hint given once with a permission problem: Docker's files belong to root. */
export const PERMISSION_HINT = "Docker's files are root's: run as root";

const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EIO: 'I/O error',
  ELOOP: 'is a symbolic link (not followed)',
  EEXIST: 'exists already',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only filesystem',
  ENOTEMPTY: 'directory not empty',
  EXDEV: 'on another filesystem',
  EMFILE: 'too many open files',
  ENXIO: 'no such device or address (a socket cannot be opened as a file)',
  EBUSY: 'busy (mounted or in use)',
  EINVAL: 'invalid argument',
  ENAMETOOLONG: 'name too long',
  EPIPE: 'the reader closed the pipe',
};

/** The errno code of an error from node:fs or a child process, if it has one. */
export function errnoOf(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') return (err as { code: string }).code;
  return undefined;
}

/** An error's reason in words: errno codes become words, a StrataError keeps its reason, others their message. */
export function reasonOf(err: unknown): string {
  if (err instanceof StrataError) return err.reason;
  const code = errnoOf(err);
  if (code && ERRNO_WORDS[code]) return ERRNO_WORDS[code];
  return err instanceof Error ? err.message : String(err);
}

/**
 * Wraps an error met while doing I/O on `file` into a StrataError naming the file and the reason in
 * words (a StrataError passes through unchanged). Permission problems carry the hint that Docker's files
 * are root's.
 */
export function fsError(file: string | Buffer, err: unknown, what?: string): StrataError {
  if (err instanceof StrataError) return err;
  const code = errnoOf(err);
  let reason = reasonOf(err);
  if (code === 'EACCES' || code === 'EPERM') reason = `${reason} (${PERMISSION_HINT})`;
  return new StrataError(what ? `${what}: ${reason}` : reason, { file, cause: err });
}

/** Whether an error is a permission problem (EACCES, EPERM). */
export function isPermissionError(err: unknown): boolean {
  const code = errnoOf(err instanceof StrataError ? err.cause : err) ?? errnoOf(err);
  return code === 'EACCES' || code === 'EPERM';
}

/**
 * Whether `path` exists: true, false (it does not: ENOENT or a parent that is not a directory), or null
 * when that cannot be told (permission denied on the way, an I/O error) — never "absent" for "unreadable".
 */
export function presence(path: string | Buffer): boolean | null {
  try {
    lstatSync(path);
    return true;
  } catch (err) {
    const code = errnoOf(err);
    return code === 'ENOENT' || code === 'ENOTDIR' ? false : null;
  }
}

/** A directory's entries; [] when it does not exist; a StrataError naming it when it cannot be read. */
export function listDirectory(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw fsError(dir, err);
  }
}
