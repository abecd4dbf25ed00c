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
  const started = Date.now();
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
      // The time left at the pace so far, once there is a pace to go by.
      const elapsed = (now - started) / 1000;
      const eta = elapsed >= 1 && frac > 0 && frac < 1 ? ` ETA ${formatSeconds((elapsed * (1 - frac)) / frac)}` : '';
      line = `${title} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${amount(done)}/${amount(total)}${eta} ${text}`;
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

/** 75 s → "1m15s", 9 s → "9s". */
export function formatSeconds(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
