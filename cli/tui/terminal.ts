// The terminal the TUI takes: the alternate screen while it runs, the user's screen back after it, on q,
// Ctrl-C, a signal or a crash alike. Free of ink, so the first frame can be drawn before ink has loaded.
const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';
const SHOW_CURSOR = '\x1b[?25h';
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

let taken: { stdout: NodeJS.WriteStream; restore: () => void } | null = null;
/** Reads the keys typed before ink has taken stdin (see takeScreen); null once handed over. */
let early: { stdin: NodeJS.ReadStream; read: () => void; keys: string[] } | null = null;
let quitting = false;
const beforeRestore: Array<() => void> = [];

/** The user has asked to quit: work not started yet is not started. */
export function quitRequested(): boolean {
  return quitting;
}

/** Marks the quit the app is on its way to (ink exits, then the CLI gives the screen back and exits). */
export function requestQuit(): void {
  quitting = true;
}

/** ink takes stdin now: the keys typed before it are handed to it, in order, to be read as if typed now. */
export function handOverInput(): void {
  if (!early) return;
  const { stdin, read, keys } = early;
  early = null;
  stdin.off('readable', read);
  if (keys.length) stdin.unshift(keys.join(''));
}

/** Runs `f` (ink's unmount) before the screen is given back, so its last frame lands on the alternate screen. */
export function onRestore(f: () => void): void {
  beforeRestore.push(f);
}

/** Gives the screen back and exits with `code` at once: the TUI writes nothing to the store, so nothing is cut short. */
export function quit(code = 0): never {
  quitting = true;
  taken?.restore();
  process.exit(code);
}

/**
 * Switches to the alternate screen (once) and returns what gives the user's screen back (idempotent).
 * From here on the terminal is in raw mode: keys typed before ink has loaded are neither echoed over the
 * first frame nor lost (ink reads them when it takes stdin), and Ctrl-C is a key the app reads, not a
 * SIGINT that would kill the process (and the shell that started it) with the alternate screen up.
 * A SIGINT or SIGTERM from elsewhere quits as q does: status 0, the terminal as it was.
 */
export function takeScreen(stdout: NodeJS.WriteStream = process.stdout, stdin: NodeJS.ReadStream = process.stdin): () => void {
  if (taken) return taken.restore;
  let on = true;
  const onSignal = () => quit(0);
  const restore = () => {
    if (!on) return;
    on = false;
    for (const f of beforeRestore.splice(0)) {
      try {
        f();
      } catch {
        // The screen is given back whatever ink does.
      }
    }
    handOverInput();
    try {
      if (stdin.isTTY) stdin.setRawMode(false);
    } catch {
      // A terminal already gone has no mode to give back.
    }
    stdout.write(SHOW_CURSOR + LEAVE_ALT_SCREEN);
    process.off('uncaughtException', restore);
    process.off('unhandledRejection', restore);
    process.off('exit', restore);
    for (const s of SIGNALS) process.off(s, onSignal);
  };
  // A crash is reported on the screen the user gets back, not on the one that goes away: these run before
  // the CLI's last-resort handlers (cli/index.ts), which print and exit.
  process.prependListener('uncaughtException', restore);
  process.prependListener('unhandledRejection', restore);
  process.on('exit', restore);
  for (const s of SIGNALS) process.on(s, onSignal);
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    // Until ink has loaded, Ctrl-C is looked for here; the other keys wait for ink (handOverInput).
    stdin.setEncoding('utf8');
    const keys: string[] = [];
    const read = () => {
      let chunk: string | null;
      while ((chunk = stdin.read() as string | null) !== null) {
        if (chunk.includes('\x03')) quit(0);
        keys.push(chunk);
      }
    };
    early = { stdin, read, keys };
    stdin.on('readable', read);
  }
  stdout.write(ENTER_ALT_SCREEN);
  taken = { stdout, restore };
  return restore;
}
