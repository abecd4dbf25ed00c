// The terminal the TUI takes: the alternate screen while it runs, the user's screen back after it, on q,
// Ctrl-C, a signal or a crash alike. Free of ink, so the first frame can be drawn before ink has loaded.
const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';
const SHOW_CURSOR = '\x1b[?25h';

let taken: { stdout: NodeJS.WriteStream; restore: () => void } | null = null;

/** Switches to the alternate screen (once) and returns what gives the user's screen back (idempotent). */
export function takeScreen(stdout: NodeJS.WriteStream = process.stdout): () => void {
  if (taken) return taken.restore;
  let on = true;
  const restore = () => {
    if (!on) return;
    on = false;
    stdout.write(SHOW_CURSOR + LEAVE_ALT_SCREEN);
    process.off('uncaughtException', restore);
    process.off('unhandledRejection', restore);
    process.off('exit', restore);
  };
  // A crash is reported on the screen the user gets back, not on the one that goes away: these run before
  // the CLI's last-resort handlers (cli/index.ts), which print and exit.
  process.prependListener('uncaughtException', restore);
  process.prependListener('unhandledRejection', restore);
  process.on('exit', restore);
  stdout.write(ENTER_ALT_SCREEN);
  taken = { stdout, restore };
  return restore;
}
