// Where a command's output goes (-o PATH): stdout for "-"; a character device or a FIFO, written through
// as `tar -f` does; a regular file (or none yet), replaced only by renaming a complete, checked temporary
// file from the same directory over it. A directory, a socket, a block device and — unless followed — a
// symbolic link are refused in one line. Nothing is ever renamed over anything but a regular file.
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, fsyncSync, lstatSync, open, readlinkSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { isatty } from 'node:tty';
import { promisify } from 'node:util';
import { errnoOf, reasonOf, StrataError } from '../native/errors.js';
import { tempName } from '../native/temp-names.js';

export class OutputError extends StrataError {
  override name = 'OutputError';
}

/** What a command writing an archive says when its output is a terminal (save, export): docker's words. */
export function tarTerminalRefusal(name: string): OutputError {
  return new OutputError('cowardly refusing to save to a terminal. Use the -o flag or redirect', { file: name });
}

/** The reader of the output (a pipe, a FIFO) went away before everything was written. */
export class OutputClosedError extends StrataError {
  override name = 'OutputClosedError';
}

/** Where the bytes go: stdout, a device or FIFO written through, or a regular file replaced by rename. */
export type OutputKind = 'stdout' | 'device' | 'fifo' | 'file';

/** Something bytes are written to, in order. */
export interface Sink {
  /** The output as named in messages: the path, or "stdout". */
  readonly name: string;
  /** Writes all of `chunk`; returns a promise when the next write must wait for it (stdout is full). */
  write(chunk: Buffer): Promise<void> | void;
  /** Resolves once every byte written has left the process. */
  flush(): Promise<void>;
}

export interface OutputTarget extends Sink {
  readonly kind: OutputKind;
  /** The descriptor written to: 1, the device or FIFO, or the temporary file. */
  readonly fd: number;
  readonly isTerminal: boolean;
  /** Bytes reach the target as they are written (stdout, device, FIFO): a failed check cannot take them back. */
  readonly writesThrough: boolean;
  /** Makes what was written the output: closes it and, for a regular file, renames the temporary file into place. */
  commit(): Promise<void>;
  /** Drops what was written where it can (the temporary file is removed) and closes the output. */
  abort(): void;
}

export interface OutputOptions {
  /** Write to where a symbolic link at the path points (by the same rules) instead of refusing it. */
  follow?: boolean;
}

const openFd = promisify(open);
const EPIPE = osConstants.errno.EPIPE;

/** Whether an error says the reader of a pipe went away (Node's EPIPE, the native writer's errno, a destroyed stdout). */
export function isClosedPipe(err: unknown): boolean {
  // A wrapped error (the native writer names the file it was splicing when the pipe closed) counts too.
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = errnoOf(e);
    if (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') return true;
    const errno = (e as { errno?: unknown }).errno;
    if (typeof errno === 'number' && Math.abs(errno) === EPIPE) return true;
  }
  return false;
}

/** An error met writing to `name`, in words (no hint about Docker's files: the output is the user's). */
export function outputError(name: string, err: unknown, what?: string): StrataError {
  if (err instanceof OutputClosedError) return err;
  if (isClosedPipe(err)) return new OutputClosedError('the reader closed the pipe', { file: name, cause: err });
  if (err instanceof StrataError) return err;
  const reason = reasonOf(err);
  return new OutputError(what ? `${what}: ${reason}` : reason, { file: name, cause: err });
}

/** A sink writing to a file descriptor opened for blocking writes (a file, a device, a FIFO). */
export function fdSink(fd: number, name: string): Sink {
  return {
    name,
    write(chunk) {
      let off = 0;
      try {
        while (off < chunk.length) off += writeSync(fd, chunk, off);
      } catch (err) {
        throw outputError(name, err);
      }
    },
    async flush() {},
  };
}

let stdoutFailure: unknown = null;
let watchingStdout = false;

/**
 * Starts noting stdout's asynchronous write errors (a closed pipe is reported as an 'error' event after
 * the write returned); without a listener Node would crash on them.
 */
export function watchStdout(onFailure?: (err: unknown) => void): void {
  if (!watchingStdout) {
    watchingStdout = true;
    process.stdout.on('error', (err) => {
      stdoutFailure ??= err;
    });
  }
  if (onFailure) process.stdout.on('error', onFailure);
}

/** Whether a write to stdout failed already (its reader went away); later writes are then dropped. */
export function stdoutFailed(): boolean {
  return stdoutFailure !== null || process.stdout.destroyed;
}

/** The sink of stdout: through its stream (Node keeps a pipe non-blocking), waiting when it is full. */
export function stdoutSink(): Sink {
  watchStdout();
  const failure = (err?: unknown) => outputError('stdout', stdoutFailure ?? err ?? Object.assign(new Error('stdout closed'), { code: 'EPIPE' }));
  return {
    name: 'stdout',
    write(chunk) {
      if (stdoutFailed()) throw failure();
      let ok: boolean;
      try {
        ok = process.stdout.write(chunk);
      } catch (err) {
        throw failure(err);
      }
      if (ok) return;
      return new Promise<void>((resolvePromise, reject) => {
        const done = (err?: unknown) => {
          process.stdout.off('drain', onDrain);
          process.stdout.off('error', onError);
          process.stdout.off('close', onClose);
          if (err === undefined) resolvePromise();
          else reject(failure(err));
        };
        const onDrain = () => done();
        const onError = (err: unknown) => done(err);
        const onClose = () => done(stdoutFailure ?? Object.assign(new Error('stdout closed'), { code: 'EPIPE' }));
        process.stdout.on('drain', onDrain);
        process.stdout.on('error', onError);
        process.stdout.on('close', onClose);
      });
    },
    flush() {
      if (stdoutFailed()) return Promise.reject(failure());
      // A write's callback runs once it and every write before it have left (or failed).
      return new Promise<void>((resolvePromise, reject) => {
        process.stdout.write(Buffer.alloc(0), (err) => (err || stdoutFailure ? reject(failure(err)) : resolvePromise()));
      });
    },
  };
}

function lstatOrNull(path: string, name: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    // A missing path, or one under a file: what is wrong with its directory is said by directoryOf.
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return null;
    throw outputError(name, err);
  }
}

/** Where a chain of symbolic links ends (the last component may be missing); `path` when it is none. */
function followLinks(path: string): string {
  let current = path;
  for (let hops = 0; hops < 40; hops++) {
    const st = lstatOrNull(current, path);
    if (!st?.isSymbolicLink()) return current;
    current = resolve(dirname(current), readlinkSync(current));
  }
  throw new OutputError('too many levels of symbolic links', { file: path });
}

function refusal(st: Stats): string | null {
  if (st.isSymbolicLink()) return 'is a symbolic link: strata does not write through one (--follow writes where it points)';
  if (st.isDirectory()) return 'is a directory: name a file to write';
  if (st.isSocket()) return 'is a socket: a file cannot be written to one';
  if (st.isBlockDevice()) return 'is a block device: strata writes only to files, FIFOs and character devices';
  return null;
}

/**
 * Opens the output named by `path`: "-" is stdout; a character device or a FIFO is opened for writing
 * (a FIFO waits for its reader); a regular file or a missing one gets a temporary file beside it.
 */
export async function openOutput(path: string, opts: OutputOptions = {}): Promise<OutputTarget> {
  // /dev/stdout is this process's standard output whatever it is (a pipe, a file): written as stdout.
  if (path === '-' || path === '/dev/stdout') return stdoutTarget();
  if (path === '') throw new OutputError('an empty path', { file: '""' });
  const target = opts.follow ? followLinks(path) : path;
  const st = lstatOrNull(target, path);
  if (st) {
    const refused = refusal(st);
    if (refused) throw new OutputError(refused, { file: target === path ? path : `${path} -> ${target}` });
  }
  if (st === null || st.isFile()) return replacingTarget(path, target, st);
  return writeThroughTarget(path, target, st.isFIFO() ? 'fifo' : 'device');
}

/**
 * Opens the output, runs `body` on it, and commits it when `body` succeeds; on any error what was written
 * is dropped where it can be (a regular file stays as it was) and the error passes on.
 */
export async function withOutput<T>(path: string, opts: OutputOptions, body: (out: OutputTarget) => Promise<T>): Promise<T> {
  const out = await openOutput(path, opts);
  let result: T;
  try {
    result = await body(out);
    await out.commit();
  } catch (err) {
    out.abort();
    throw err;
  }
  return result;
}

function stdoutTarget(): OutputTarget {
  const sink = stdoutSink();
  return {
    ...sink,
    kind: 'stdout',
    fd: 1,
    isTerminal: isatty(1),
    writesThrough: true,
    commit: () => sink.flush(),
    abort() {},
  };
}

async function writeThroughTarget(name: string, path: string, kind: 'device' | 'fifo'): Promise<OutputTarget> {
  let fd: number;
  try {
    // Never created, never followed, never truncated: the device or FIFO that is there gets the bytes.
    fd = await openFd(path, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NOFOLLOW);
  } catch (err) {
    throw outputError(name, err);
  }
  const st = fstatSync(fd);
  if (!(kind === 'fifo' ? st.isFIFO() : st.isCharacterDevice())) {
    closeSync(fd);
    throw new OutputError('changed while strata opened it; nothing written', { file: name });
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    closeSync(fd);
  };
  return {
    ...fdSink(fd, name),
    kind,
    fd,
    isTerminal: isatty(fd),
    writesThrough: true,
    async commit() {
      try {
        close();
      } catch (err) {
        throw outputError(name, err);
      }
    },
    abort() {
      try {
        close();
      } catch {
        // what went out went out
      }
    },
  };
}

function directoryOf(name: string, path: string): string {
  const dir = dirname(path);
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (err) {
    throw new OutputError(errnoOf(err) === 'ENOENT' ? 'no such directory' : reasonOf(err), { file: dir, cause: err });
  }
  if (!st.isDirectory()) throw new OutputError('not a directory', { file: dir });
  return dir;
}

/** Temporary files being written, removed should the process be interrupted. */
const pendingTemps = new Set<string>();
let signalsWatched = false;

function removePendingTemps(signal: NodeJS.Signals): void {
  for (const temp of pendingTemps) rmSync(temp, { force: true });
  pendingTemps.clear();
  process.removeListener('SIGINT', removePendingTemps);
  process.removeListener('SIGTERM', removePendingTemps);
  process.kill(process.pid, signal);
}

function watchSignals(): void {
  if (signalsWatched) return;
  signalsWatched = true;
  process.once('SIGINT', removePendingTemps);
  process.once('SIGTERM', removePendingTemps);
}

async function replacingTarget(name: string, path: string, existing: Stats | null): Promise<OutputTarget> {
  const dir = directoryOf(name, path);
  const temp = join(dir, tempName());
  let fd: number;
  try {
    fd = await openFd(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666);
  } catch (err) {
    throw outputError(dir, err, 'cannot create a file here');
  }
  pendingTemps.add(temp);
  watchSignals();
  if (existing) {
    // The replacement keeps the mode (and, as root, the owner) of the file it replaces.
    try {
      fchmodSync(fd, existing.mode & 0o7777);
      if (process.getuid?.() === 0 && (existing.uid !== 0 || existing.gid !== 0)) fchownSync(fd, existing.uid, existing.gid);
    } catch {
      // the defaults will do
    }
  }
  let open = true;
  const drop = () => {
    if (open) {
      open = false;
      try {
        closeSync(fd);
      } catch {
        // nothing left to close
      }
    }
    rmSync(temp, { force: true });
    pendingTemps.delete(temp);
  };
  return {
    ...fdSink(fd, name),
    kind: 'file',
    fd,
    isTerminal: false,
    writesThrough: false,
    async commit() {
      try {
        fsyncSync(fd);
        open = false;
        closeSync(fd);
      } catch (err) {
        throw outputError(name, err);
      }
      // Checked again at the last moment: whatever took the path meanwhile is not renamed over unless it
      // is a regular file.
      const now = lstatOrNull(path, name);
      const refused = now && !now.isFile() ? refusal(now) ?? `is now a ${now.isFIFO() ? 'FIFO' : 'device'}` : null;
      if (refused) throw new OutputError(`${refused}; nothing written`, { file: name });
      try {
        renameSync(temp, path);
      } catch (err) {
        throw outputError(name, err);
      }
      pendingTemps.delete(temp);
    },
    abort: drop,
  };
}
