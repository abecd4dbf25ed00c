// Small helpers shared by the benchmark sections (bench/run.ts, bench/export.ts).
import { spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = join(REPO, 'dist', 'strata.js');
export const OUT = join(REPO, 'bench', 'out');

/** The children run the built bundle, without tsx. */
export const childEnv: NodeJS.ProcessEnv = { ...process.env };
delete childEnv.NODE_OPTIONS;
export const devnull = openSync('/dev/null', 'w');

export interface Bench {
  id: string;
  label: string;
  argv: string[];
  /** Seconds; a median above it misses the target. */
  target?: number;
  samples: number[];
}

export function strata(root: string, ...args: string[]): string[] {
  return [process.execPath, CLI, '--root', root, ...args];
}

/** argv with its stdout through `| cat >/dev/null` (a pipe, as a user would pipe it), failing if either side fails. */
export function throughCat(argv: string[]): string[] {
  return ['/bin/bash', '-c', 'set -o pipefail; "$@" | cat >/dev/null', 'bash', ...argv];
}

/** Runs argv once with stdout to /dev/null; returns wall seconds. Fails on a non-zero exit or any stderr. */
export function timeOnce(b: Bench): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(b.argv[0], b.argv.slice(1), { stdio: ['ignore', devnull, 'pipe'], env: childEnv, encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0 || r.stderr) throw new Error(`${b.label} exited ${r.status}${r.stderr ? `: ${r.stderr.slice(0, 400)}` : ''}`);
  return seconds;
}

/** Runs argv once and returns its stdout (for the sanity checks). */
export function output(argv: string[]): string {
  const r = spawnSync(argv[0], argv.slice(1), { env: childEnv, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0 || r.stderr) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 400)}`);
  return r.stdout;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const fmtS = (s: number) => (s < 0.1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(3)} s`);
export const thousands = (n: number) => n.toLocaleString('en-US');

export function pad(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd()).join('\n');
}
