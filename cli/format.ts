// Text formatting shared by the commands, matching the docker CLI's own output (go-units, tabwriter).
import { containerStatusText } from '../inspect/containers-list.js';
import { StrataError } from '../native/errors.js';
import { dockerHumanDuration } from './docker-format.js';

/** Go's %.{precision}g: shortest of fixed/exponent, trailing zeros removed, exponent as e+03. */
export function goFormatG(value: number, precision: number): string {
  if (value === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(value.toPrecision(precision)))));
  if (exp < -4 || exp >= precision) {
    const [mantissa, e] = value.toExponential(precision - 1).split('e');
    const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const fixed = value.toFixed(Math.max(0, precision - 1 - exp));
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** docker images' SIZE column (units.HumanSizeWithPrecision(size, 3)): 1.98MB. */
export function humanSize(bytes: number, precision = 3): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < DECIMAL_UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return goFormatG(size, precision) + DECIMAL_UNITS[i];
}

/** Sizes in the tree, as the old --tree printed them: "Virtual Size: 1.982 MB". */
export function humanSizeSpaced(bytes: number): string {
  return humanSize(bytes, 4).replace(/^([\d.e+-]+)/, '$1 ');
}

/** go-units HumanDuration (docker-format's; kept under this name for the older commands). */
export const humanDuration = dockerHumanDuration;

export function ago(created: string, now = Date.now()): string {
  const t = Date.parse(created);
  return Number.isNaN(t) ? 'N/A' : `${humanDuration(now - t)} ago`;
}

/** Columns aligned like the docker CLI's tabwriter (min width 10, padding 3). */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, col) =>
    Math.max(10, ...all.map((r) => [...(r[col] ?? '')].length + 3)),
  );
  return all
    .map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col] - ([...cell].length - cell.length)))).join('').trimEnd())
    .map((l) => `${l}\n`)
    .join('');
}

/** "example.com/team/app:v1" → ["example.com/team/app", "v1"] (the tag follows the last colon). */
export function splitRepoTag(ref: string): [string, string] {
  const i = ref.lastIndexOf(':');
  return [ref.slice(0, i), ref.slice(i + 1)];
}

export function shortHex(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** The STATUS column of docker ps (container/state.go String), for a container no daemon is said to run. */
export function containerStatus(c: { state: string; exitCode: number; startedAt: string; finishedAt: string }, now = Date.now()): string {
  return containerStatusText(c, now, true, humanDuration);
}

/** yargs coerce for a byte count: a whole number above 0, else a one-line usage error. */
export function byteCount(option: string): (value: unknown) => number | undefined {
  return (value) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n <= 0) throw new StrataError(`takes a whole number of bytes above 0, not ${JSON.stringify(String(value))}`, { file: `--${option}` });
    return n;
  };
}
