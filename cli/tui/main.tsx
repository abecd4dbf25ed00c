// Runs the TUI on the terminal: the alternate screen while it runs, and the terminal as it was after, on
// q, Ctrl-C, a signal or a crash alike.
import { render } from 'ink';
import type { Warning } from '../../inspect/warnings.js';
import { App, type TuiSource } from './app.js';
import type { FilesApi } from './files-api.js';

const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';
const SHOW_CURSOR = '\x1b[?25h';

export interface RunTuiOptions {
  load: Promise<TuiSource>;
  /** The store, when read already: the first frame shows it. */
  initial?: TuiSource | null;
  files: FilesApi | null;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
}

/** Runs until the user quits; returns the warnings met (the store's, and any while browsing). */
export async function runTui(opts: RunTuiOptions): Promise<Warning[]> {
  const stdout = opts.stdout ?? process.stdout;
  const stdin = opts.stdin ?? process.stdin;
  let onAltScreen = true;
  const restore = () => {
    if (!onAltScreen) return;
    onAltScreen = false;
    stdout.write(SHOW_CURSOR + LEAVE_ALT_SCREEN);
  };
  // A crash is reported on the terminal the user gets back, not on the screen that goes away: these run
  // before the CLI's last-resort handlers (cli/index.ts), which print and exit.
  process.prependListener('uncaughtException', restore);
  process.prependListener('unhandledRejection', restore);
  process.on('exit', restore);
  stdout.write(ENTER_ALT_SCREEN);
  const warnings: Warning[] = [];
  try {
    const app = render(<App load={opts.load} initial={opts.initial ?? null} files={opts.files} warnings={warnings} />, { stdout, stdin, exitOnCtrlC: true, patchConsole: false });
    await app.waitUntilExit();
  } finally {
    restore();
    process.off('uncaughtException', restore);
    process.off('unhandledRejection', restore);
    process.off('exit', restore);
  }
  return warnings;
}
