// The one place strata mounts anything: it executes the mount descriptions drivers return as data —
// kernel overlay, bind mounts, aufs, and fuse-overlayfs where the kernel lacks aufs.
import { StrataError } from '../native/errors.js';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

function run(cmd: string, args: string[], cwd?: string): void {
  try {
    execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new MountError(`${cmd} ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
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
      run('mount', ['-t', 'overlay', desc.source, '-o', desc.options.join(','), desc.target], desc.cwd);
      return 'overlay';
    case 'bind':
      run('mount', ['--bind', desc.source, desc.target]);
      if (desc.options.includes('ro')) run('mount', ['-o', 'remount,bind,ro', desc.target]);
      return desc.options.includes('ro') ? 'read-only bind' : 'bind';
    case 'aufs': {
      if (kernelHas('aufs')) {
        run('mount', ['-t', 'aufs', '-o', desc.options.join(','), desc.source, desc.target]);
        return 'aufs';
      }
      const fuse = which('fuse-overlayfs');
      if (!fuse) throw new MountError(`this kernel has no aufs, and fuse-overlayfs is not installed (apt-get install fuse-overlayfs) to mount ${desc.target}`);
      const options = aufsAsFuseOverlay(desc);
      const work = options.find((o) => o.startsWith('workdir='));
      if (work) run('mkdir', ['-p', work.slice('workdir='.length)]);
      run(fuse, ['-o', options.join(','), desc.target]);
      return 'fuse-overlayfs';
    }
    default:
      throw new MountError(`strata cannot mount ${desc.type} filesystems`);
  }
}

export function unmount(target: string): void {
  run('umount', [target]);
}
