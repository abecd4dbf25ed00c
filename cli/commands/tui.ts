// strata tui: the store in a full-screen terminal app (cli/tui/). Its modules, ink and React are imported
// only here, ink and React once the first frame is drawn, so other commands do not load them and the TUI's
// first screen does not wait for them.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { findStore } from '../../inspect/open-store.js';
import { buildImageTree } from '../../inspect/tree.js';
import type { Warning } from '../../inspect/warnings.js';
import { StrataError } from '../../native/errors.js';
import type { TuiSource } from '../tui/app.js';
import { viewKey } from '../tui/data.js';
import type { FileEntry, FileListing } from '../tui/files-api.js';
import { firstFrame, firstLayer } from '../tui/first-frame.js';
import { takeScreen } from '../tui/terminal.js';
import { loadStore, printWarnings, runCommand, type GlobalArgs } from '../output.js';

export const command = 'tui';
export const describe = 'Browse the store in a full-screen terminal app: the image tree, layers, files, wasted space (plain `strata` on a terminal opens it)';

export function builder(y: Argv) {
  return y.example('$0 --root /mnt/old-docker tui', 'walk a copied data-root: images, their layers and files, why each is kept');
}

/** A terminal on both ends: the TUI reads keys and draws the screen. */
export function onTerminal(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

export async function handler(args: ArgumentsCamelCase<GlobalArgs>): Promise<void> {
  await runCommand(async () => {
    if (!onTerminal()) throw new StrataError('strata tui needs a terminal: stdin and stdout must be a TTY (use strata images --tree, layers, changes on a pipe)');
    // No store there: said on the terminal as it is, before the TUI takes the screen (a few stat calls).
    findStore(args.root, args.driver);
    // The read starts now (the file listing's modules load while it runs; ink and React once the first frame
    // is drawn). Its failure is the app's to report. The tree is built as soon as the model is there, and
    // drawn at once; the app draws the same over it.
    let ready: TuiSource | null = null;
    let inkStarted = false;
    const warnings: Warning[] = [];
    const prefetched = new Map<string, FileListing>();
    const filesLoad = import('../tui/files.js').then((m) => m.filesApi());
    const load = loadStore(args, 'all').then((s): TuiSource => {
      const src: TuiSource = { ...s, tree: buildImageTree(s.model) };
      ready = src;
      // ink is not there yet: the first frame is drawn now, and the app draws the same over it.
      if (!inkStarted) {
        takeScreen();
        process.stdout.write(firstFrame(s.model, src.tree!, process.stdout.columns || 80, process.stdout.rows || 24, true, s.driver));
        // The first layer's files are read while ink loads; the app takes the listing over (App's prefetched).
        filesLoad.then((files) => {
          const first = files && firstLayer(s.model, src.tree!);
          const key = first && viewKey(first.image.id, first.layerIndex, 'layer');
          if (!files || !first || !key || prefetched.has(key)) return;
          const listing = files.layerChanges({ model: s.model, driver: s.driver, warnings }, first.image, first.layerIndex);
          prefetched.set(key, listing);
          // Listed before ink is there (its first render of a whole screen takes a while): drawn at once,
          // and again with the totals when they come first too.
          const shown: { entries: FileEntry[] | null; totals: { files: number; bytes: number } | null } = { entries: null, totals: null };
          const redraw = () => {
            if (!inkStarted && shown.entries) process.stdout.write(firstFrame(s.model, src.tree!, process.stdout.columns || 80, process.stdout.rows || 24, true, s.driver, shown));
          };
          listing.list(Buffer.alloc(0)).then((entries) => ((shown.entries = entries), redraw()), () => {});
          listing.totals().then((totals) => ((shown.totals = totals), redraw()), () => {});
        }, () => {});
      }
      return src;
    });
    // ink and React load once the first frame is drawn (or the read failed): compiling them meanwhile would
    // hold this thread while the read waits on its threads, and so delay the first screen.
    const inkLoad = load.then(
      () => import('../tui/main.js'),
      () => import('../tui/main.js'),
    );
    // ink draws nothing until it exits when it thinks it runs in CI; on a terminal it always draws.
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
    const [{ runTui }, files] = await Promise.all([inkLoad, filesLoad]);
    inkStarted = true;
    await runTui({ load, files, initial: ready, prefetched, warnings });
    printWarnings(warnings);
    // The data-root walk's threads may still run: the user has quit.
    process.exit(process.exitCode ?? 0);
  });
}
