// The journal of a resumable strata migration (issue 16): <root>/.strata-migrate/journal.json names every
// directory the migration created or uses, so that a migration interrupted halfway can go on — and so that
// nothing else (prune above all) takes its half-built layers for leftovers. The directory's name is not a
// strata temp name (native/temp-names.ts) on purpose: it must outlive the process that wrote it.
//
// journal.json: { "version": 1, "command": "migrate", "started": "<RFC 3339>", "from": "aufs", "to": "overlay2",
//                 "directories": ["overlay2/<id>", "image/overlay2/layerdb/sha256/<hex>", …] }
// Directories are relative to the data-root (or absolute inside it); nothing may climb out of it.
import { readFileSync } from 'node:fs';
import { isAbsolute, join, normalize, relative } from 'node:path';
import { errnoOf, reasonOf } from '../native/errors.js';

export const MIGRATE_DIR = '.strata-migrate';
export const JOURNAL_FILE = 'journal.json';

export interface MigrateJournal {
  version: 1;
  command?: string;
  started?: string;
  from?: string;
  to?: string;
  /** Directories (or files) the migration created or uses, relative to the data-root. */
  directories: string[];
}

export type JournalState =
  | { state: 'none'; file: string }
  | { state: 'read'; file: string; journal: MigrateJournal; /** absolute paths, the journal's directory first */ paths: string[] }
  | { state: 'unreadable'; file: string; reason: string };

export function journalPath(root: string): string {
  return join(root, MIGRATE_DIR, JOURNAL_FILE);
}

/** A journal entry as an absolute path inside `root`, or null when it would leave it. */
function insideRoot(root: string, entry: string): string | null {
  const abs = normalize(isAbsolute(entry) ? entry : join(root, entry));
  const rel = relative(normalize(root), abs);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? null : abs;
}

/** Checks a parsed journal; the reason it is not one, or null. */
function journalProblem(data: unknown): string | null {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'not a JSON object';
  const j = data as Record<string, unknown>;
  if (j.version !== 1) return `version ${JSON.stringify(j.version)} is not one strata knows (1)`;
  if (!Array.isArray(j.directories) || !j.directories.every((d) => typeof d === 'string' && d !== '')) return '"directories" is not a list of paths';
  return null;
}

/** Reads the journal if there is one. Anything but a clean read or a clean absence is 'unreadable'. */
export function readMigrateJournal(root: string): JournalState {
  const file = journalPath(root);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // No journal, and no .strata-migrate directory either: no migration.
    if (errnoOf(err) === 'ENOENT') return { state: 'none', file };
    return { state: 'unreadable', file, reason: reasonOf(err) };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { state: 'unreadable', file, reason: `corrupt JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  const problem = journalProblem(data);
  if (problem) return { state: 'unreadable', file, reason: problem };
  const journal = data as MigrateJournal;
  const paths = [join(root, MIGRATE_DIR)];
  for (const entry of journal.directories) {
    const abs = insideRoot(root, entry);
    if (!abs) return { state: 'unreadable', file, reason: `names ${JSON.stringify(entry)}, outside the data-root` };
    paths.push(abs);
  }
  return { state: 'read', file, journal, paths };
}

/** Whether `a` and `b` are the same path or one holds the other. */
export function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}
