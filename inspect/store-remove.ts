// Removing things from a store so that no moment of it leaves a half-removed thing that looks alive: each
// group's paths are renamed, in the order given (metadata first, so an interrupted group leaves only data
// nothing names), into one trash directory at the data-root's top, then deleted. The trash carries a strata
// temp name (native/temp-names.ts): if strata is killed meanwhile, df sees it and the next write session
// removes it as stale. And the check that nothing uses the root before anything is removed from it.
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errnoOf, reasonOf, StrataError } from '../native/errors.js';
import { tempName } from '../native/temp-names.js';
import { measureTree } from '../snapshots/measure.js';
import { daemonUsing } from './daemon-check.js';

export interface RemovalGroup {
  /** What the group is, as printed: "image sha256:…", "layer sha256:…", "directory <id>". */
  label: string;
  /** Absolute paths inside the data-root, files or directories, each renamed whole, in this order. */
  paths: string[];
}

export interface RemovalResult {
  removed: RemovalGroup[];
  failed: Array<{ group: RemovalGroup; reason: string }>;
  /** Bytes of what was removed (du -sb: st_size of every entry, each inode once). */
  bytesFreed: number;
  /** The trash directory, when deleting it failed (the next write session removes it), with the reason. */
  trashLeft: { path: string; reason: string } | null;
}

/** Refused removals: the store is in use, or a path may not be removed. */
export class RemovalRefusedError extends StrataError {
  override name = 'RemovalRefusedError';
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** Whether `path` is `dir` or below it (both absolute, normalised). */
function isUnder(path: string, dir: string, orEqual = false): boolean {
  return (orEqual && path === dir) || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** Why a group's path may not be renamed into the trash, or null. */
function pathProblem(root: string, trashDev: number, path: string): string | null {
  const abs = resolve(path);
  if (!isUnder(abs, root)) return `${path} is not inside the data-root ${root}`;
  let dev: number;
  try {
    dev = lstatSync(abs).dev;
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return null;
    return `${path}: ${reasonOf(err)}`;
  }
  if (dev !== trashDev) return `${path} is on another filesystem than ${root} (strata removes by renaming within one filesystem; not removed)`;
  return null;
}

/** Renames `moved` (trash path → original path) back, last first; returns what could not be put back. */
function putBack(moved: Array<[from: string, to: string]>): string[] {
  const stuck: string[] = [];
  for (const [original, inTrash] of [...moved].reverse()) {
    try {
      renameSync(inTrash, original);
    } catch (err) {
      stuck.push(`${original} (${reasonOf(err)})`);
    }
  }
  return stuck;
}

/**
 * Each group all or nothing: its paths renamed into one trash directory under the root; opts.commit(group)
 * runs after the group's renames (e.g. rewriting repositories.json) and, if it throws, the group is put back;
 * then the group's trash is deleted. A path already absent is nothing to move. Paths outside the root, or on
 * another filesystem than the root's top, fail their group with a one-line reason.
 */
export function removeGroups(root: string, groups: RemovalGroup[], opts: { commit?: (g: RemovalGroup) => void } = {}): RemovalResult {
  const realRoot = realpathOr(root);
  const result: RemovalResult = { removed: [], failed: [], bytesFreed: 0, trashLeft: null };
  if (groups.length === 0) return result;
  const trash = join(realRoot, tempName('trash'));
  try {
    mkdirSync(trash, { mode: 0o700 });
  } catch (err) {
    throw new RemovalRefusedError(`cannot create the trash directory: ${reasonOf(err)}`, { file: trash, cause: err });
  }
  const trashDev = lstatSync(trash).dev;
  const seenInodes = new Set<number>();
  groups.forEach((group, g) => {
    // The given paths under the real root, so that a root named through a symlink compares as itself.
    const paths = group.paths.map((p) => (isUnder(resolve(p), resolve(root), true) ? join(realRoot, resolve(p).slice(resolve(root).length)) : resolve(p)));
    const problem = paths.map((p) => pathProblem(realRoot, trashDev, p)).find((p) => p !== null);
    if (problem) {
      result.failed.push({ group, reason: problem });
      return;
    }
    const groupDir = join(trash, String(g));
    const moved: Array<[string, string]> = [];
    try {
      mkdirSync(groupDir);
      paths.forEach((path, i) => {
        const target = join(groupDir, String(i));
        try {
          renameSync(path, target);
        } catch (err) {
          // Gone already (or with an earlier path of the group that held it): nothing left to move.
          if (errnoOf(err) === 'ENOENT') return;
          if (errnoOf(err) === 'EXDEV') throw new StrataError(`is on another filesystem than ${realRoot} (strata removes by renaming within one filesystem; not removed)`, { file: path });
          throw new StrataError(`cannot move it aside: ${reasonOf(err)}`, { file: path, cause: err });
        }
        moved.push([path, target]);
      });
      opts.commit?.(group);
    } catch (err) {
      const stuck = putBack(moved);
      const reason = err instanceof StrataError ? err.message : reasonOf(err);
      result.failed.push({ group, reason: stuck.length ? `${reason}; could not put back ${stuck.join(', ')}` : reason });
      return;
    }
    result.bytesFreed += groupBytes(groupDir, seenInodes);
    result.removed.push(group);
    try {
      rmSync(groupDir, { recursive: true, force: true });
    } catch {
      // left in the trash: its deletion below says why
    }
  });
  try {
    rmSync(trash, { recursive: true, force: true });
  } catch (err) {
    result.trashLeft = { path: trash, reason: reasonOf(err) };
  }
  return result;
}

/** Bytes of what a group moved (its trash directory itself not counted), each inode once across the call. */
function groupBytes(groupDir: string, seenInodes: Set<number>): number {
  let bytes = 0;
  for (const name of readdirSync(groupDir)) bytes += measureTree(join(groupDir, name), { seenInodes }).apparentBytes;
  return bytes;
}

/** mountinfo's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash) decoded. */
export function decodeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points (field 5 of a mountinfo line, decoded) under `root`, the root itself excluded (it may be a mount of its own). */
export function mountsUnder(mountinfo: string, root: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 5) continue;
    const point = decodeMountPath(fields[4]);
    if (isUnder(point, root)) out.push(point);
  }
  return out;
}

function readOr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** A containerd shim whose command line, working directory or mounts refer to `root`: one line, or null. */
function shimUsing(root: string): string | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  for (const pid of pids) {
    const args = readOr(`/proc/${pid}/cmdline`)?.split('\0').filter(Boolean);
    if (!args || args.length === 0 || !/(^|\/)containerd-shim[^/]*$/.test(args[0])) continue;
    const refersToRoot = (value: string) => {
      const path = value.includes('=') && !value.startsWith('/') ? value.slice(value.indexOf('=') + 1) : value;
      return path.startsWith('/') && isUnder(realpathOr(path), root, true);
    };
    if (args.some(refersToRoot)) return `a containerd shim (pid ${pid}) runs with ${root} on its command line`;
    let cwd: string | null = null;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // another user's process: its cwd and mounts cannot be read
    }
    if (cwd && isUnder(cwd, root, true)) return `a containerd shim (pid ${pid}) works in ${cwd}`;
    const mounts = readOr(`/proc/${pid}/mountinfo`);
    const under = mounts ? mountsUnder(mounts, root) : [];
    if (under.length > 0) return `a containerd shim (pid ${pid}) has ${under[0]} mounted`;
  }
  return null;
}

/** Throws a one-line StrataError when a dockerd, a containerd shim, or any mount under the root uses it. */
export function assertRootIdle(root: string): void {
  const real = realpathOr(root);
  const daemon = daemonUsing(root);
  if (daemon) throw new RemovalRefusedError(`${daemon}; stop it first (strata removes from a store only when nothing uses it)`);
  const shim = shimUsing(real);
  if (shim) throw new RemovalRefusedError(`${shim}; a container may be running on ${root}: stop it first`);
  const mountinfo = readOr('/proc/self/mountinfo') ?? readOr('/proc/mounts')?.split('\n').map((l) => `0 0 0:0 / ${l.split(' ')[1] ?? ''}`).join('\n') ?? '';
  const under = mountsUnder(mountinfo, real);
  if (under.length > 0) {
    const more = under.length > 1 ? ` (and ${under.length - 1} more)` : '';
    throw new RemovalRefusedError(`${under[0]} is mounted${more}: something uses ${root}; unmount it first`);
  }
}
