// A progress line on stderr for long walks, drawn only when stderr is a terminal (never when piped).
export interface Progress {
  tick(count: number, label?: string): void;
  done(): void;
}

const SILENT: Progress = { tick() {}, done() {} };

export function createProgress(title: string, enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY) return SILENT;
  let last = 0;
  let drawn = false;
  return {
    tick(count, label = '') {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      drawn = true;
      const width = process.stderr.columns ?? 80;
      const line = `${title}: ${count.toLocaleString('en-US')} entries ${label}`.slice(0, width - 1);
      process.stderr.write(`\r${line}\x1b[K`);
    },
    done() {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}
