// Test harness: a private, throw-away dockerd (Debian docker.io 20.10).
//
// Every daemon gets its own data-root, exec-root, unix socket, containerd
// (spawned by dockerd under the exec-root) and an empty daemon config file, so
// several daemons (ours and anybody else's) can coexist on the machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

/** Always the client that matches the 20.10 daemon (never /usr/local/bin/docker). */
export const DOCKER_CLIENT = '/usr/bin/docker';
export const DOCKERD = '/usr/sbin/dockerd';
const RUNC = '/usr/sbin/runc';

export type StorageDriverName = 'overlay2' | 'vfs';

export interface DockerOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  cwd?: string;
}

export interface Dockerd {
  /** --data-root (the directory strata reads) */
  root: string;
  /** --exec-root (holds the socket, pid file, log, containerd state) */
  execRoot: string;
  /** path of the unix socket */
  sock: string;
  driver: StorageDriverName;
  /** pid of the dockerd process */
  pid: number;
  /** dockerd's stdout+stderr */
  logFile: string;
  /** Run /usr/bin/docker against this daemon; resolves with stdout, throws (args + stderr) on non-zero exit. */
  docker(args: string[], opts?: DockerOptions): Promise<string>;
  /** HTTP GET on the daemon socket, JSON-parsed; throws on non-2xx. */
  api<T = any>(path: string): Promise<T>;
  /** SIGTERM, wait for exit (SIGKILL after 30 s), reap leftovers, unmount everything under root and execRoot. Idempotent. */
  stop(): Promise<void>;
  /** stop() if needed, then rm -rf root and execRoot. Idempotent. */
  remove(): Promise<void>;
}

export interface StartDockerdOptions {
  driver: StorageDriverName;
  /** Reuse an existing data-root (e.g. to restart a daemon on a store built earlier). */
  root?: string;
  /** Milliseconds to wait for GET /_ping (default 60 000). */
  startTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** True while the process exists and is not a zombie. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e: any) {
    return e?.code === 'EPERM';
  }
  return true;
}

async function pidZombieOrGone(pid: number): Promise<boolean> {
  if (!pidAlive(pid)) return true;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

async function tailFile(file: string, lines: number): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch (e: any) {
    return `(could not read ${file}: ${e?.message ?? e})`;
  }
}

/** Generic HTTP GET over the unix socket. */
function httpGet(sock: string, urlPath: string, timeoutMs = 30_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, path: urlPath, method: 'GET', headers: { Host: 'docker' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${urlPath}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function runDocker(sock: string, clientConfigDir: string, args: string[], opts: DockerOptions = {}): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_API_VERSION']) delete env[k];
  env.DOCKER_CONFIG = clientConfigDir;
  Object.assign(env, opts.env ?? {});
  const fullArgs = ['-H', `unix://${sock}`, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER_CLIENT, fullArgs, { env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => reject(new Error(`docker ${args.join(' ')}: ${e.message}`)));
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      if (code === 0) return resolve(stdout);
      const stderr = Buffer.concat(err).toString('utf8').trim();
      reject(
        new Error(
          `docker ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')} ` +
            `exited with ${code ?? signal}\nstderr: ${stderr}${stdout ? `\nstdout: ${stdout.slice(-2000)}` : ''}`,
        ),
      );
    });
    child.stdin.on('error', () => {}); // EPIPE if docker exits early; the exit code tells the story
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or under any of the given directories, deepest first. */
export async function mountsUnder(dirs: string[]): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const found = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const mp = unescapeMountinfo(line.split(' ')[4] ?? '');
    for (const d of dirs) {
      if (mp === d || mp.startsWith(d + '/')) found.add(mp);
    }
  }
  return [...found].sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
}

function runCmd(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', (e) => resolve({ code: -1, stderr: String(e), stdout }));
    child.on('close', (code) => resolve({ code, stderr, stdout }));
  });
}

async function unmountAllUnder(dirs: string[]): Promise<void> {
  // Mounts can stack (same mount point several times); loop until nothing is left.
  for (let round = 0; round < 5; round++) {
    const mps = await mountsUnder(dirs);
    if (mps.length === 0) return;
    for (const mp of mps) {
      const r = await runCmd('umount', [mp]);
      if (r.code !== 0) await runCmd('umount', ['-l', mp]);
    }
  }
  const left = await mountsUnder(dirs);
  if (left.length) throw new Error(`still mounted after umount/umount -l:\n${left.join('\n')}`);
}

/** Pids of processes (other than `except`) whose command line mentions `needle` (our containerd, shims). */
async function pidsMentioning(needle: string, except: number[]): Promise<number[]> {
  const pids: number[] = [];
  for (const ent of await readdir('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    const pid = Number(ent);
    if (pid === process.pid || except.includes(pid)) continue;
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      if (cmdline.some((a) => a === needle || a.startsWith(needle + '/'))) pids.push(pid);
    } catch {
      /* gone */
    }
  }
  return pids;
}

async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let alive = pids;
  while (true) {
    const next: number[] = [];
    for (const p of alive) if (!(await pidZombieOrGone(p))) next.push(p);
    alive = next;
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await sleep(100);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** True while the daemon process exists (and is not a zombie). */
export async function isDockerdRunning(d: Pick<Dockerd, 'pid'>): Promise<boolean> {
  return d.pid > 0 && !(await pidZombieOrGone(d.pid));
}

export async function startDockerd(opts: StartDockerdOptions): Promise<Dockerd> {
  const driver = opts.driver;
  const createdRoot = !opts.root;
  const root = opts.root ? await realpath(opts.root) : await realpath(await mkdtemp('/tmp/strata-root-'));
  // exec-root must stay short: it holds the unix socket (sun_path < 108 bytes) and containerd's sockets.
  const execRoot = await realpath(await mkdtemp('/tmp/sd-'));
  const sock = path.join(execRoot, 'sock');
  const logFile = path.join(execRoot, 'dockerd.log');
  const configFile = path.join(execRoot, 'daemon.json');
  const clientConfigDir = path.join(execRoot, 'client');
  await mkdir(clientConfigDir, { recursive: true });
  await writeFile(path.join(clientConfigDir, 'config.json'), '{}\n');
  await writeFile(configFile, '{}\n'); // keep /etc/docker/daemon.json out of the picture

  const args = [
    '--data-root', root,
    '--exec-root', execRoot,
    '--pidfile', path.join(execRoot, 'pid'),
    '-H', `unix://${sock}`,
    '--config-file', configFile,
    '--storage-driver', driver,
    '--iptables=false',
    '--ip-masq=false',
    '--bridge=none',
  ];
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(DOCKERD, args, { detached: true, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let spawnError: Error | null = null;
  child.on('exit', (code, sig) => (exited = { code, signal: sig }));
  child.on('error', (e) => (spawnError = e));
  child.unref();
  const pid = child.pid ?? -1;

  let stopped = false;
  let removed = false;

  const d: Dockerd = {
    root,
    execRoot,
    sock,
    driver,
    pid,
    logFile,
    docker: (a, o) => runDocker(sock, clientConfigDir, a, o),
    async api<T = any>(urlPath: string): Promise<T> {
      const r = await httpGet(sock, urlPath);
      if (r.status < 200 || r.status > 299) throw new Error(`GET ${urlPath}: HTTP ${r.status}: ${r.body.trim()}`);
      return JSON.parse(r.body) as T;
    },
    async stop() {
      if (stopped) return;
      if (pid > 0 && !exited && !(await pidZombieOrGone(pid))) {
        signal(pid, 'SIGTERM');
        let left = await waitGone([pid], 30_000);
        if (left.length) {
          signal(pid, 'SIGKILL');
          left = await waitGone([pid], 10_000);
          if (left.length) throw new Error(`dockerd ${pid} survived SIGKILL`);
        }
      }
      // After a clean shutdown dockerd has stopped its containers and containerd. After a
      // SIGKILL (or a crash) containers, shims and containerd may remain: clean them up.
      const runcRoot = path.join(execRoot, 'runtime-runc', 'moby');
      const listed = await runCmd(RUNC, ['--root', runcRoot, 'list', '-q']);
      if (listed.code === 0) {
        for (const id of listed.stdout.split('\n').filter(Boolean)) {
          await runCmd(RUNC, ['--root', runcRoot, 'delete', '--force', id]);
        }
      }
      const leftovers = await pidsMentioning(execRoot, [pid]);
      for (const p of leftovers) signal(p, 'SIGTERM');
      const stubborn = await waitGone(leftovers, 10_000);
      for (const p of stubborn) signal(p, 'SIGKILL');
      await waitGone(stubborn, 5_000);
      await unmountAllUnder([root, execRoot]);
      stopped = true;
    },
    async remove() {
      if (removed) return;
      await d.stop();
      // Never rm -rf through a live mount.
      const still = await mountsUnder([root, execRoot]);
      if (still.length) throw new Error(`refusing to remove, still mounted:\n${still.join('\n')}`);
      await rm(execRoot, { recursive: true, force: true });
      await rm(root, { recursive: true, force: true });
      removed = true;
    },
  };

  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  while (true) {
    if (spawnError || exited) {
      const why = spawnError
        ? `failed to spawn: ${(spawnError as Error).message}`
        : `exited early (code ${(exited as any).code}, signal ${(exited as any).signal})`;
      const tail = await tailFile(logFile, 30);
      await cleanupAfterFailedStart(d, createdRoot);
      throw new Error(`dockerd (${driver}, root ${root}) ${why}\n--- last 30 lines of ${logFile} ---\n${tail}`);
    }
    try {
      const r = await httpGet(sock, '/_ping', 2_000);
      if (r.status === 200 && r.body.trim() === 'OK') break;
      lastErr = `HTTP ${r.status}: ${r.body.trim()}`;
    } catch (e: any) {
      lastErr = e?.message ?? String(e);
    }
    if (Date.now() > deadline) {
      const tail = await tailFile(logFile, 30);
      await cleanupAfterFailedStart(d, createdRoot);
      throw new Error(
        `dockerd (${driver}, root ${root}) did not answer /_ping within ${timeoutMs} ms (last: ${lastErr})\n` +
          `--- last 30 lines of ${logFile} ---\n${tail}`,
      );
    }
    await sleep(200);
  }

  // Make sure the daemon really runs the driver we asked for (it silently keeps the old one otherwise).
  const info = await d.api<{ Driver: string }>('/info');
  if (info.Driver !== driver) {
    const tail = await tailFile(logFile, 30);
    await cleanupAfterFailedStart(d, createdRoot);
    throw new Error(`dockerd reports storage driver ${info.Driver}, expected ${driver}\n${tail}`);
  }
  return d;
}

async function cleanupAfterFailedStart(d: Dockerd, createdRoot: boolean): Promise<void> {
  try {
    await d.stop();
    await rm(d.execRoot, { recursive: true, force: true });
    if (createdRoot && (await mountsUnder([d.root])).length === 0) await rm(d.root, { recursive: true, force: true });
  } catch {
    /* the original error is more useful */
  }
}
