// Leftovers a real dockerd makes, for test/docker/prune.test.ts: a partial overlay2 layer and a
// layerdb/tmp/write-set-* from a dockerd killed (SIGKILL) in the middle of a `docker import`, the
// listing of a data-root's paths (to tell what a removal touched), and the driver directories dockerd
// itself reports in use (GraphDriver data of `docker inspect`).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Dockerd } from './dockerd.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A ustar header for one regular file (root-owned, 0644). */
export function tarFileHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s, off, len, 'latin1');
  const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(Math.floor(Date.now() / 1000), 12), 136, 12);
  put('        ', 148, 8); // the checksum counts its own field as spaces
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put('root', 265, 32);
  put('root', 297, 32);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

export interface KilledImport {
  /** The overlay2 directory id the import was writing (no layerdb entry points to it). */
  cacheId: string;
  /** Bytes of the file in its diff/ when dockerd was killed. */
  bytesWritten: number;
  /** Bytes fed to `docker import -` before the kill. */
  bytesFed: number;
}

/**
 * `docker import - ref` of one big file of random bytes, fed through a pipe this function controls, and
 * dockerd killed with SIGKILL once the new overlay2 directory's diff holds more than `killAfterBytes`.
 * Deterministic: nothing more is fed while the partial file is checked, and the feed stops at the kill.
 */
export async function killDockerdDuringImport(
  d: Dockerd,
  opts: { ref: string; fileName: string; declaredBytes: number; killAfterBytes: number; dockerConfigDir: string },
): Promise<KilledImport> {
  const home = join(d.root, 'overlay2');
  const before = new Set(readdirSync(home));
  const client = spawn('/usr/bin/docker', ['-H', `unix://${d.sock}`, 'import', '-', opts.ref], {
    stdio: ['pipe', 'ignore', 'pipe'],
    env: { ...process.env, DOCKER_CONFIG: opts.dockerConfigDir },
  });
  let clientGone = false;
  let clientErr = '';
  client.stderr.on('data', (c) => (clientErr += c));
  client.on('close', () => (clientGone = true));
  client.stdin.on('error', () => {}); // EPIPE once dockerd is gone
  const write = (b: Buffer) =>
    new Promise<void>((resolve) => {
      if (clientGone) return resolve();
      if (client.stdin.write(b)) resolve();
      else client.stdin.once('drain', resolve);
    });
  /** The new directory whose diff/ holds the file being imported, and that file's size. */
  const growing = (): { cacheId: string; size: number } | null => {
    for (const id of readdirSync(home)) {
      if (before.has(id)) continue;
      try {
        return { cacheId: id, size: statSync(join(home, id, 'diff', opts.fileName)).size };
      } catch {
        /* not created yet */
      }
    }
    return null;
  };
  const chunk = 1 << 20;
  let fed = 0;
  try {
    await write(tarFileHeader(opts.fileName, opts.declaredBytes));
    while (fed < opts.declaredBytes) {
      if (clientGone) throw new Error(`docker import ended before dockerd was killed: ${clientErr.trim()}`);
      await write(randomBytes(Math.min(chunk, opts.declaredBytes - fed)));
      fed += Math.min(chunk, opts.declaredBytes - fed);
      // Let the daemon catch up a little, then look; stop feeding the moment the threshold is passed.
      for (let i = 0; i < 20; i++) {
        const g = growing();
        if (g && g.size > opts.killAfterBytes) {
          process.kill(d.pid, 'SIGKILL');
          const deadline = Date.now() + 10_000;
          while (Date.now() < deadline) {
            try {
              process.kill(d.pid, 0);
            } catch {
              break;
            }
            let stat = '';
            try {
              stat = readFileSync(`/proc/${d.pid}/stat`, 'utf8');
            } catch {
              break;
            }
            if (/^\S+ \(.*\) [ZX]/.test(stat)) break;
            await sleep(20);
          }
          return { cacheId: g.cacheId, bytesWritten: statSync(join(home, g.cacheId, 'diff', opts.fileName)).size, bytesFed: fed };
        }
        if (fed < opts.killAfterBytes) break; // nothing to wait for yet
        await sleep(5);
      }
    }
    throw new Error(`fed all ${fed} bytes without seeing a diff directory grow past ${opts.killAfterBytes}`);
  } finally {
    client.kill('SIGKILL');
    client.stdin.destroy();
  }
}

export interface PathEntry {
  path: string;
  /** 'd', 'f <size> <mode>', 'l <target>', or 'o <mode>' for anything else */
  what: string;
}

/** Every path under `root` (root itself excluded), sorted, with its type (and size and mode for files). */
export function listPaths(root: string): PathEntry[] {
  const out: PathEntry[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out.push({ path: p, what: `d ${(st.mode & 0o7777).toString(8)}` });
        walk(p);
      } else if (st.isFile()) out.push({ path: p, what: `f ${st.size} ${(st.mode & 0o7777).toString(8)}` });
      else if (st.isSymbolicLink()) out.push({ path: p, what: 'l' });
      else out.push({ path: p, what: `o ${st.mode.toString(8)}` });
    }
  };
  walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** True when `p` is `base` or lies under it. */
export function isAtOrUnder(p: string, base: string): boolean {
  return p === base || p.startsWith(base + '/');
}

/** overlay2 directory ids named by GraphDriver data (UpperDir, LowerDir, MergedDir, WorkDir). */
export function graphDriverIds(home: string, data: Record<string, string> | null | undefined): string[] {
  const ids: string[] = [];
  for (const v of Object.values(data ?? {})) {
    for (const p of v.split(':')) {
      if (isAtOrUnder(p, home)) ids.push(p.slice(home.length + 1).split('/')[0]);
    }
  }
  return ids;
}

/** Every overlay2 directory id dockerd reports in use by an image (docker images -a) or a container (docker ps -a). */
export async function idsDockerdUses(d: Dockerd): Promise<{ ids: Set<string>; images: string[]; containers: string[] }> {
  const home = join(d.root, 'overlay2');
  const images = (await d.docker(['images', '-a', '-q', '--no-trunc'])).split('\n').filter(Boolean);
  const containers = (await d.docker(['ps', '-a', '-q', '--no-trunc'])).split('\n').filter(Boolean);
  const ids = new Set<string>();
  for (const [kind, list] of [['image', [...new Set(images)]], ['container', containers]] as const) {
    if (list.length === 0) continue;
    const inspected = JSON.parse(await d.docker([kind, 'inspect', ...list])) as Array<{ GraphDriver: { Name: string; Data: Record<string, string> } }>;
    for (const i of inspected) for (const id of graphDriverIds(home, i.GraphDriver.Data)) ids.add(id);
  }
  return { ids, images, containers };
}
