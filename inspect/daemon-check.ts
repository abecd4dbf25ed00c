// Is a dockerd using this data-root right now? strata writes to a store only when none is: two writers
// would corrupt it. Evidence: a dockerd process whose data-root is this one, or the lock dockerd holds
// on its volume database.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

export function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The data-root a dockerd command line uses (flag, config file, or the default). */
export function dataRootOf(args: string[]): string {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    for (const flag of ['--data-root', '-g', '--graph']) {
      if (a === flag && args[i + 1]) return args[i + 1];
      if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
    }
  }
  const configIndex = args.findIndex((a) => a === '--config-file' || a.startsWith('--config-file='));
  const configFile = configIndex < 0 ? '/etc/docker/daemon.json' : args[configIndex].includes('=') ? args[configIndex].split('=')[1] : args[configIndex + 1];
  try {
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { 'data-root'?: string; graph?: string };
    if (config['data-root'] || config.graph) return (config['data-root'] ?? config.graph)!;
  } catch {
    // no readable config: the default applies
  }
  return '/var/lib/docker';
}

/** A one-line reason when a dockerd is using `root`, else null. */
export function daemonUsing(root: string): string | null {
  const wanted = realpathOr(root);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    if (args.length === 0 || !/(^|\/)dockerd$/.test(args[0])) continue;
    if (realpathOr(dataRootOf(args)) === wanted) return `dockerd (pid ${pid}) is running on ${root}`;
  }
  const lockFile = join(root, 'volumes', 'metadata.db');
  if (existsSync(lockFile)) {
    try {
      execFileSync('flock', ['--nonblock', '--shared', lockFile, 'true'], { stdio: 'ignore' });
    } catch (err) {
      if ((err as { status?: number }).status === 1) return `${lockFile} is locked: a daemon is using ${root}`;
    }
  }
  return null;
}
