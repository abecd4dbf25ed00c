// Problems met while reading a store: each names the file and the reason, so a user can act on it.
import { reasonOf, StrataError } from '../native/errors.js';

export interface Warning {
  file: string;
  message: string;
}

export function formatWarning(w: Warning): string {
  return `${w.file}: ${w.message}`;
}

export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err) {
    const code = String((err as { code: unknown }).code);
    const known: Record<string, string> = {
      ENOENT: 'missing',
      EACCES: 'permission denied',
      EPERM: 'operation not permitted',
      EISDIR: 'is a directory, expected a file',
      ENOTDIR: 'not a directory',
      EIO: 'I/O error',
    };
    if (known[code]) return known[code];
  }
  // Other errno codes in the words an error would use (native/errors.ts), so a warning and an error read alike.
  return err instanceof Error && !(err instanceof StrataError) ? reasonOf(err) : err instanceof Error ? err.message : String(err);
}
