// docker/cli's cli/command/formatter conventions: `--format` strings ("table …", `\t`, the header line
// rendered from the same template over the column names), the tabwriter, {{json .}} of a row, and the
// go-units sizes and durations and Go time strings docker prints in its columns.
import { goJsonEncode } from './go-json.js';
import { formatFloat, goTypeInfo } from './go-fmt.js';
import { asFormatterContext, asGoMap, dockerHeaderFuncs, executeTemplate, parseTemplate, TemplateError } from './go-template.js';
import { tabwrite, DOCKER_TABWRITER } from './go-tabwriter.js';
import { goLocalZone } from './go-time.js';

export { tabwrite, DOCKER_TABWRITER } from './go-tabwriter.js';

/** docker's Format.IsTable: the format starts with "table". */
export function isTableFormat(format: string): boolean {
  return format.startsWith('table');
}

export interface RenderOptions {
  /** What `--format table` alone means for this command (docker's default table format, "table {{.ID}}\t…"). */
  defaultTable?: string;
  /**
   * The Go type docker's rows have, for its error about an unknown field, e.g. "*formatter.imageContext"
   * (images), "*formatter.historyContext", "*formatter.containerContext" (ps). Rows not yet marked with
   * asStruct/asFormatterContext are marked with it.
   */
  typeName?: string;
}

/** The format as docker executes it: "table" cut off, spaces trimmed, the two characters \t and \n made real. */
export function dockerFinalFormat(format: string): string {
  let f = isTableFormat(format) ? format.slice('table'.length) : format;
  f = f.replace(/^ +| +$/g, '');
  return f.replace(/\\t|\\n/g, (m) => (m === '\\t' ? '\t' : '\n'));
}

/**
 * Render rows as docker's formatter does: each row through the template and a newline; with "table", a
 * header line first (the template executed over the column names, docker's functions leaving them as they
 * are), all aligned by docker's tabwriter. Errors are docker's one line: "template parsing error: template: …".
 * A header with no entry in headers prints "<no value>", as docker's does.
 */
export function renderFormat(format: string, rows: object[], headers: Record<string, string>, opts: RenderOptions = {}): string {
  if ((format === 'table' || format === '') && opts.defaultTable !== undefined) format = opts.defaultTable;
  const table = isTableFormat(format);
  const text = dockerFinalFormat(format);
  const tmpl = wrapErrors(() => parseTemplate(text));
  let body = '';
  for (const row of rows) {
    if (goTypeInfo(row) === undefined) asFormatterContext(row, opts.typeName ?? '*formatter.Context');
    body += wrapErrors(() => executeTemplate(tmpl, row)) + '\n';
  }
  if (!table) return body;
  const headerMap = asGoMap({ ...headers }, 'formatter.SubHeaderContext', '');
  // SubHeaderContext.Label: the header of `{{.Label "com.example.my-label"}}` is "my label".
  Object.defineProperty(headerMap, 'Label', { value: headerLabel, enumerable: false });
  const header = executeTemplate(tmpl, headerMap, { funcs: dockerHeaderFuncs(), partialOnError: true });
  return tabwrite(`${header}\n${body}`, DOCKER_TABWRITER);
}

function headerLabel(name: string): string {
  const parts = name.split('.');
  return parts[parts.length - 1].replace(/[-_]/g, ' ');
}

function wrapErrors<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TemplateError) throw new TemplateError(`template parsing error: ${e.message}`);
    throw e;
  }
}

/** Go's json.Marshal of v: HTML characters escaped, key order kept (sorted for Go maps and docker's rows). */
export function goJson(v: unknown): string {
  return goJsonEncode(v, { escapeHTML: true });
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/**
 * go-units HumanSizeWithPrecision: decimal units and Go's %.{sigDigits}g (round half to even on the exact
 * value): 0 → "0B", 1234 → "1.23kB", 41834567 → "41.8MB" (4 digits: "41.83MB"), 999999 → "1e+03kB".
 */
export function dockerHumanSize(bytes: number, sigDigits = 3): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < DECIMAL_UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return formatFloat(size, 'g', sigDigits) + DECIMAL_UNITS[i];
}

/** go-units HumanDuration of a duration in milliseconds. */
export function dockerHumanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

interface GoInstant {
  /** Whole seconds since the epoch (floor). */
  sec: number;
  /** Nanoseconds within the second. */
  nsec: number;
}

/** An RFC 3339 time as Go writes it ("2026-12-01T10:00:00.123456789Z", "…+02:00"), to the nanosecond. */
export function parseGoTime(iso: string): GoInstant | undefined {
  const m = /^(-?\d{4,})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$/i.exec(iso.trim());
  if (!m) return undefined;
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), 0);
  let sec = Math.floor(d.getTime() / 1000);
  if (m[8].toUpperCase() !== 'Z') {
    const sign = m[8][0] === '-' ? -1 : 1;
    const hm = m[8].slice(1).replace(':', '');
    sec -= sign * (Number(hm.slice(0, 2)) * 3600 + Number(hm.slice(2)) * 60);
  }
  const nsec = m[7] ? Number(m[7].slice(0, 9).padEnd(9, '0')) : 0;
  return Number.isNaN(sec) ? undefined : { sec, nsec };
}

/**
 * docker's CREATED column: go-units HumanDuration(now − created) + " ago", with created cut to whole
 * seconds as docker has it (the API gives Unix seconds). "N/A" for a time that cannot be read.
 */
export function dockerCreatedSince(iso: string, now = Date.now()): string {
  const t = parseGoTime(iso);
  if (!t) return 'N/A';
  return `${dockerHumanDuration(now - t.sec * 1000)} ago`;
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** Go's time.Time.Format layouts docker uses, for a Unix second in the local zone (TZ, /etc/localtime). */
function goLocalParts(sec: number): { date: string; time: string; offset: number; abbrev: string } {
  const zone = goLocalZone(sec);
  const d = new Date((sec + zone.offset) * 1000);
  const y = d.getUTCFullYear();
  const year = y < 0 ? `-${String(-y).padStart(4, '0')}` : String(y).padStart(4, '0');
  return {
    date: `${year}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}`,
    time: `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`,
    offset: zone.offset,
    abbrev: zone.abbrev,
  };
}

function offsetString(offset: number, colon: boolean): string {
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  return `${sign}${two(Math.floor(a / 3600))}${colon ? ':' : ''}${two(Math.floor((a % 3600) / 60))}`;
}

/**
 * docker's CreatedAt: Go's time.Unix(created, 0).String() in the local zone, "2026-12-01 10:00:00 +0000 UTC".
 * The time is cut to whole seconds, as the API gives it.
 */
export function dockerCreatedAt(iso: string): string {
  const t = parseGoTime(iso);
  if (!t) return 'N/A';
  const p = goLocalParts(t.sec);
  return `${p.date} ${p.time} ${offsetString(p.offset, false)} ${p.abbrev}`;
}

/** Go's time.RFC3339 of a Unix second in the local zone ("2026-12-01T10:00:00Z", "…+01:00"): history's CreatedAt. */
export function dockerTimeRFC3339(iso: string): string {
  const t = parseGoTime(iso);
  if (!t) return 'N/A';
  const p = goLocalParts(t.sec);
  return `${p.date}T${p.time}${p.offset === 0 ? 'Z' : offsetString(p.offset, true)}`;
}

/** Go's strconv.Quote (docker ps quotes COMMAND with it). */
export { goQuote } from './go-fmt.js';

/** docker's stringid.TruncateID: what follows the first ':' (the algorithm), cut to 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  const s = i >= 0 ? id.slice(i + 1) : id;
  return s.length > 12 ? s.slice(0, 12) : s;
}

// East Asian Wide and Fullwidth ranges (Unicode's EastAsianWidth W and F), as golang.org/x/text/width
// classes them for docker's display widths.
const WIDE_RANGES: [number, number][] = [
  [0x1100, 0x115f], [0x231a, 0x231b], [0x2329, 0x232a], [0x23e9, 0x23ec], [0x23f0, 0x23f0], [0x23f3, 0x23f3],
  [0x25fd, 0x25fe], [0x2614, 0x2615], [0x2648, 0x2653], [0x267f, 0x267f], [0x2693, 0x2693], [0x26a1, 0x26a1],
  [0x26aa, 0x26ab], [0x26bd, 0x26be], [0x26c4, 0x26c5], [0x26ce, 0x26ce], [0x26d4, 0x26d4], [0x26ea, 0x26ea],
  [0x26f2, 0x26f3], [0x26f5, 0x26f5], [0x26fa, 0x26fa], [0x26fd, 0x26fd], [0x2705, 0x2705], [0x270a, 0x270b],
  [0x2728, 0x2728], [0x274c, 0x274c], [0x274e, 0x274e], [0x2753, 0x2755], [0x2757, 0x2757], [0x2795, 0x2797],
  [0x27b0, 0x27b0], [0x27bf, 0x27bf], [0x2b1b, 0x2b1c], [0x2b50, 0x2b50], [0x2b55, 0x2b55], [0x2e80, 0x303e],
  [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xa000, 0xa4cf], [0xa960, 0xa97f], [0xac00, 0xd7a3],
  [0xf900, 0xfaff], [0xfe10, 0xfe19], [0xfe30, 0xfe6f], [0xff00, 0xff60], [0xffe0, 0xffe6], [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff], [0x1b000, 0x1b2ff], [0x1f004, 0x1f004], [0x1f0cf, 0x1f0cf], [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a], [0x1f200, 0x1f251], [0x1f300, 0x1f320], [0x1f32d, 0x1f335], [0x1f337, 0x1f37c],
  [0x1f37e, 0x1f393], [0x1f3a0, 0x1f3ca], [0x1f3cf, 0x1f3d3], [0x1f3e0, 0x1f3f0], [0x1f3f4, 0x1f3f4],
  [0x1f3f8, 0x1f43e], [0x1f440, 0x1f440], [0x1f442, 0x1f4fc], [0x1f4ff, 0x1f53d], [0x1f54b, 0x1f54e],
  [0x1f550, 0x1f567], [0x1f57a, 0x1f57a], [0x1f595, 0x1f596], [0x1f5a4, 0x1f5a4], [0x1f5fb, 0x1f64f],
  [0x1f680, 0x1f6c5], [0x1f6cc, 0x1f6cc], [0x1f6d0, 0x1f6d2], [0x1f6d5, 0x1f6d7], [0x1f6eb, 0x1f6ec],
  [0x1f6f4, 0x1f6fc], [0x1f7e0, 0x1f7eb], [0x1f90c, 0x1f93a], [0x1f93c, 0x1f945], [0x1f947, 0x1f9ff],
  [0x1fa70, 0x1faff], [0x20000, 0x2fffd], [0x30000, 0x3fffd],
];

/** 2 for an East Asian wide or fullwidth rune, else 1 (docker's formatter charWidth). */
export function dockerCharWidth(cp: number): number {
  let lo = 0;
  let hi = WIDE_RANGES.length - 1;
  while (lo <= hi) {
    const m = (lo + hi) >> 1;
    if (cp < WIDE_RANGES[m][0]) hi = m - 1;
    else if (cp > WIDE_RANGES[m][1]) lo = m + 1;
    else return 2;
  }
  return 1;
}

/**
 * docker/cli formatter.Ellipsis: s cut to fit maxDisplayWidth display columns (wide runes count 2) with "…"
 * appended; width 1 gives the first rune, 0 or less "".
 */
export function dockerEllipsis(s: string, maxDisplayWidth: number): string {
  if (maxDisplayWidth <= 0) return '';
  const rs = Array.from(s);
  if (maxDisplayWidth === 1) return rs[0] ?? '';
  if (Buffer.byteLength(s, 'utf8') === rs.length) {
    return rs.length <= maxDisplayWidth ? s : rs.slice(0, maxDisplayWidth - 1).join('') + '…';
  }
  const display: number[] = [];
  let width = 0;
  for (const r of rs) {
    width += dockerCharWidth(r.codePointAt(0)!);
    display.push(width);
  }
  if (width <= maxDisplayWidth) return s;
  for (let i = 0; i < display.length - 1; i++) {
    if (display[i] <= maxDisplayWidth - 1 && display[i + 1] > maxDisplayWidth - 1) return rs.slice(0, i + 1).join('') + '…';
  }
  return s;
}
