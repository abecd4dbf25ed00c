// The one place strata mounts anything: it executes the mount descriptions drivers return as data —
// kernel overlay, bind mounts, aufs, and fuse-overlayfs where the kernel lacks aufs.
import { errnoOf, fsError, reasonOf, StrataError } from '../native/errors.js';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { MountDescription } from './types.js';

export class MountError extends StrataError {
  override name = 'MountError';
}

function kernelHas(fs: string): boolean {
  try {
    return readFileSync('/proc/filesystems', 'utf8').split('\n').some((l) => l.trim().split(/\s+/).pop() === fs);
  } catch {
    return false;
  }
}

function which(tool: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) if (existsSync(`${dir}/${tool}`)) return `${dir}/${tool}`;
  return null;
}

/**
 * The one line a failed mount tool's stderr says, without its "mount: <target>: " prefix (the error
 * names the target itself), e.g. "not mounted." for umount of a directory nothing is mounted on.
 */
export function toolMessage(tool: string, target: string, stderr: string): string {
  const text = stderr.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  const prefixes = [`${basename(tool)}: `, `${target}: `];
  let rest = text;
  for (const p of prefixes) if (rest.startsWith(p)) rest = rest.slice(p.length);
  return rest.replace(/\.$/, '');
}

/** Runs a mount tool on `target`; a failure is one line naming the target and saying what the tool said. */
function run(cmd: string, args: string[], target: string, cwd?: string): void {
  try {
    execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') throw new MountError(`${cmd} is not installed (apt-get install util-linux)`, { file: target, cause: err });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new MountError(stderr.trim() ? toolMessage(cmd, target, stderr) : `${basename(cmd)} failed: ${reasonOf(err)}`, { file: target, cause: err });
  }
}

/** The directory a mount goes on, as its real path: it must exist and be a directory. */
export function mountPoint(dir: string): string {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (err) {
    throw fsError(dir, err);
  }
  let st;
  try {
    st = statSync(real);
  } catch (err) {
    throw fsError(dir, err);
  }
  if (!st.isDirectory()) throw new MountError('not a directory (a mount goes on one)', { file: dir });
  return real;
}

/** aufs branches ("br:/a=rw:/b=ro+wh") as fuse-overlayfs options, which read .wh. whiteout files too. */
export function aufsAsFuseOverlay(desc: MountDescription): string[] {
  const br = desc.options.find((o) => o.startsWith('br:'));
  if (!br) throw new MountError(`aufs mount of ${desc.target} without branches`);
  const branches = br.slice(3).split(':').map((b) => b.replace(/=(rw|ro\+wh|ro)$/, ''));
  const readOnly = desc.options.includes('ro') || !br.includes('=rw');
  // fuse-overlayfs needs a work directory beside the upper one: aufs/mnt/<id>-work, outside the branches.
  const work = branches[0].replace(/\/diff\/([^/]+)$/, '/mnt/$1-work');
  return readOnly ? [`lowerdir=${branches.join(':')}`] : [`lowerdir=${branches.slice(1).join(':')}`, `upperdir=${branches[0]}`, `workdir=${work}`];
}

/** Carries out one description; returns how it was mounted (for messages). */
export function executeMount(desc: MountDescription): string {
  switch (desc.type) {
    case 'overlay':
      run('mount', ['-t', 'overlay', desc.source, '-o', desc.options.join(','), desc.target], desc.target, desc.cwd);
      return 'overlay';
    case 'bind':
      run('mount', ['--bind', desc.source, desc.target], desc.target);
      if (desc.options.includes('ro')) run('mount', ['-o', 'remount,bind,ro', desc.target], desc.target);
      return desc.options.includes('ro') ? 'read-only bind' : 'bind';
    case 'aufs': {
      if (kernelHas('aufs')) {
        run('mount', ['-t', 'aufs', '-o', desc.options.join(','), desc.source, desc.target], desc.target);
        return 'aufs';
      }
      const fuse = which('fuse-overlayfs');
      if (!fuse) throw new MountError(`this kernel has no aufs, and fuse-overlayfs is not installed (apt-get install fuse-overlayfs) to mount ${desc.target}`);
      const options = aufsAsFuseOverlay(desc);
      const work = options.find((o) => o.startsWith('workdir='));
      if (work) run('mkdir', ['-p', work.slice('workdir='.length)], work.slice('workdir='.length));
      run(fuse, ['-o', options.join(','), desc.target], desc.target);
      return 'fuse-overlayfs';
    }
    default:
      throw new MountError(`strata cannot mount ${desc.type} filesystems`);
  }
}

export function unmount(target: string): void {
  // Only a missing directory is told apart here: a dead FUSE mount fails every stat, yet umount clears it.
  if (!existsSync(target)) {
    try {
      lstatSync(target);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') throw fsError(target, err);
    }
  }
  run('umount', [target], target);
}
