// Runs the TUI on the terminal (cli/tui/terminal.ts takes the screen and gives it back).
import { render } from 'ink';
import type { Warning } from '../../inspect/warnings.js';
import { App, type TuiSource } from './app.js';
import type { FileListing, FilesApi } from './files-api.js';
import { handOverInput, onRestore, quitRequested, requestQuit, takeScreen } from './terminal.js';

export interface RunTuiOptions {
  load: Promise<TuiSource>;
  /** The store, when read already: the first frame shows it. */
  initial?: TuiSource | null;
  files: FilesApi | null;
  /** Listings started before ink loaded (App's prefetched). */
  prefetched?: Map<string, FileListing>;
  /** Where warnings met while browsing go (the prefetched listings' too). */
  warnings?: Warning[];
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
}

/** Runs until the user quits; returns the warnings met (the store's, and any while browsing). */
export async function runTui(opts: RunTuiOptions): Promise<Warning[]> {
  const stdout = opts.stdout ?? process.stdout;
  const stdin = opts.stdin ?? process.stdin;
  // Taken already when the first frame was drawn before ink loaded.
  const restore = takeScreen(stdout, stdin);
  const warnings: Warning[] = opts.warnings ?? [];
  try {
    handOverInput();
    const app = render(<App load={opts.load} initial={opts.initial ?? null} files={opts.files} prefetched={opts.prefetched} warnings={warnings} onQuit={requestQuit} quitRequested={quitRequested} />, { stdout, stdin, exitOnCtrlC: false, patchConsole: false });
    // A signal quits from anywhere: ink's last frame goes to the alternate screen before it is left.
    onRestore(() => app.unmount());
    await app.waitUntilExit();
  } finally {
    restore();
  }
  return warnings;
}
