// A progress bar on stderr for long work, drawn only when stderr is a terminal (never when piped or with --json).
import { humanSize } from './format.js';

export interface Progress {
  /** Adds done work (bytes or entries). */
  add(n: number): void;
  /** Changes the label shown after the bar. */
  label(text: string): void;
  done(): void;
}

const SILENT: Progress = { add() {}, label() {}, done() {} };

/** `amount` writes done and total (bytes by default; a counter of other things passes its own). */
export function createProgress(title: string, total: number | null, enabled: boolean, amount: (n: number) => string = humanSize): Progress {
  if (!enabled || !process.stderr.isTTY) return SILENT;
  let done = 0;
  let text = '';
  let last = 0;
  let drawn = false;
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - last < 80) return;
    last = now;
    drawn = true;
    const width = process.stderr.columns ?? 80;
    let line: string;
    if (total && total > 0) {
      const frac = Math.min(1, done / total);
      const barWidth = 24;
      const filled = Math.round(frac * barWidth);
      line = `${title} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${amount(done)}/${amount(total)} ${text}`;
    } else {
      line = `${title} ${amount(done)} ${text}`;
    }
    process.stderr.write(`\r${line.slice(0, width - 1)}\x1b[K`);
  };
  return {
    add(n) {
      done += n;
      draw();
    },
    label(t) {
      text = t;
      draw();
    },
    done() {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}
