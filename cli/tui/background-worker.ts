// The TUI's background steps (cli/tui/background.ts) in a process of their own, started with an IPC
// channel: the store read again here, the figures sent to the app as they come, the warnings at the end.
// A process, not a worker thread, so that quitting the TUI does not wait for the data-root walk's threads
// to reach a point where they can be stopped: this process is killed, the TUI exits at once.
import { openStore } from '../../inspect/open-store.js';
import type { Warning } from '../../inspect/warnings.js';
import { startBackground, type BackgroundMessage } from './background.js';

const [root, driver] = process.argv.slice(2);
const post = (m: BackgroundMessage) => process.send?.(m);
// The TUI has gone: so does this.
process.on('disconnect', () => process.exit(0));
const warnings: Warning[] = [];
try {
  const store = await openStore({ root, driver: driver || undefined, layerFields: 'all' });
  await startBackground(store.model, store.driver, warnings, (patch) => post({ patch }));
  post({ warnings, done: true });
} catch (err) {
  post({ error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
}
process.disconnect?.();
