// The one place strata mounts anything: it executes the mount descriptions drivers return as data —
// kernel overlay, bind mounts, aufs, and fuse-overlayfs where the kernel lacks aufs.
import { errnoOf, fsError, reasonOf, StrataError } from '../native/errors.js';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
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
      // The kernel follows a symlink in the source's place: a device's planted /rootfs -> / would bind the host's root.
      if (lstatSync(desc.source, { throwIfNoEntry: false })?.isSymbolicLink()) throw new MountError('is a symbolic link (not followed): a bind mount is made of a real directory only', { file: desc.source });
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
    case 'xfs':
    case 'ext4':
      // A devicemapper layer's filesystem image (a file): mount(8) sets up the loop device, and frees it on umount.
      run('mount', ['-t', desc.type, '-o', desc.options.join(','), desc.source, desc.target], desc.target);
      return `${desc.type} image on a loop device`;
    default:
      throw new MountError(`strata cannot mount ${desc.type} filesystems`);
  }
}

/**
 * Carries out descriptions in order; when one fails, those already made are undone (last first), and a
 * device image strata assembled for them is removed, so that a failed mount leaves nothing mounted.
 */
export function executeMounts(descs: readonly MountDescription[], onMounted: (desc: MountDescription, how: string) => void = () => {}): void {
  const done: MountDescription[] = [];
  try {
    for (const d of descs) {
      onMounted(d, executeMount(d));
      done.push(d);
    }
  } catch (err) {
    for (const d of done.reverse()) {
      try {
        run('umount', [d.target], d.target);
      } catch {
        // reported by the error below; nothing more to undo for it
      }
    }
    for (const d of descs) if (/\/strata-dm-mount-[^/]+\/device\.img$/.test(d.source)) rmSync(dirname(d.source), { recursive: true, force: true });
    throw err;
  }
}

/**
 * Detaches a mount strata made for itself (a devicemapper device image) even while this process still has
 * files open in it: the kernel lets go of it, and of its loop device, once they are closed.
 */
export function detachOwnMount(target: string): void {
  run('umount', ['--lazy', target], target);
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
  const behind = imageMountBehind(target);
  run('umount', [target], target);
  if (behind && !mountedElsewhere(behind.device, behind.mountPoint)) {
    run('umount', [behind.mountPoint], behind.mountPoint);
    rmSync(dirname(behind.mountPoint), { recursive: true, force: true });
  }
}

export interface MountInfoLine {
  device: string;
  root: string;
  mountPoint: string;
}

/** /proc/self/mountinfo's mounts (octal escapes such as \040 undone). */
export function mountInfo(): MountInfoLine[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' '))
    .map((f) => ({ device: f[2], root: unescape(f[3]), mountPoint: unescape(f[4]) }));
}

/**
 * The device image strata mount assembled for a devicemapper layer bound at `target` (its loop mount in a
 * strata-dm-mount-* directory), so that umount can let go of it too.
 */
function imageMountBehind(target: string): { device: string; mountPoint: string } | null {
  let real: string;
  try {
    real = realpathSync(target);
  } catch {
    return null;
  }
  const mounts = mountInfo();
  const bound = mounts.filter((m) => m.mountPoint === real).pop();
  if (!bound) return null;
  const image = mounts.find((m) => m.device === bound.device && m.mountPoint !== real && /\/strata-dm-mount-[^/]+\/mnt$/.test(m.mountPoint));
  return image ? { device: image.device, mountPoint: image.mountPoint } : null;
}

function mountedElsewhere(device: string, except: string): boolean {
  return mountInfo().some((m) => m.device === device && m.mountPoint !== except);
}
