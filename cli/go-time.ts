// Go's local time zone, as the docker CLI prints times: TZ (unset: /etc/localtime; empty: UTC), read from
// the TZif zoneinfo files Go reads, abbreviations included ("CET", "+03"), with the POSIX rule of the
// file's footer for times after its last transition. A zone that cannot be read is UTC, as in Go.
import { readFileSync } from 'node:fs';

export interface ZoneAt {
  /** Seconds east of UTC. */
  offset: number;
  abbrev: string;
}

interface ZoneType {
  offset: number;
  isDst: boolean;
  abbrev: string;
}

interface Zone {
  transitions: number[];
  typeIndex: number[];
  types: ZoneType[];
  extend: string;
}

const UTC_ZONE: Zone = { transitions: [], typeIndex: [], types: [{ offset: 0, isDst: false, abbrev: 'UTC' }], extend: '' };

/** Parse a TZif file (versions 1 to 4). */
export function parseTzif(buf: Buffer): Zone | undefined {
  if (buf.length < 44 || buf.toString('latin1', 0, 4) !== 'TZif') return undefined;
  const version = buf[4];
  const counts = (at: number) => {
    const c = [0, 1, 2, 3, 4, 5].map((i) => buf.readUInt32BE(at + 20 + i * 4));
    return { isut: c[0], isstd: c[1], leap: c[2], time: c[3], type: c[4], char: c[5] };
  };
  let at = 0;
  let c = counts(0);
  let timeSize = 4;
  if (version >= 0x32) {
    // Skip the version-1 block: the 64-bit one follows.
    at = 44 + c.time * 4 + c.time + c.type * 6 + c.char + c.leap * 8 + c.isstd + c.isut;
    if (buf.length < at + 44 || buf.toString('latin1', at, at + 4) !== 'TZif') return undefined;
    c = counts(at);
    timeSize = 8;
  }
  let p = at + 44;
  const transitions: number[] = [];
  for (let i = 0; i < c.time; i++, p += timeSize) transitions.push(timeSize === 8 ? Number(buf.readBigInt64BE(p)) : buf.readInt32BE(p));
  const typeIndex: number[] = [];
  for (let i = 0; i < c.time; i++) typeIndex.push(buf[p++]);
  const raw: { offset: number; isDst: boolean; idx: number }[] = [];
  for (let i = 0; i < c.type; i++, p += 6) raw.push({ offset: buf.readInt32BE(p), isDst: buf[p + 4] !== 0, idx: buf[p + 5] });
  const chars = buf.toString('latin1', p, p + c.char);
  p += c.char + c.leap * (timeSize + 4) + c.isstd + c.isut;
  const types = raw.map((t) => ({ offset: t.offset, isDst: t.isDst, abbrev: chars.slice(t.idx, chars.indexOf('\0', t.idx) < 0 ? undefined : chars.indexOf('\0', t.idx)) }));
  let extend = '';
  if (timeSize === 8 && buf[p] === 0x0a) {
    const end = buf.indexOf(0x0a, p + 1);
    if (end > p) extend = buf.toString('latin1', p + 1, end);
  }
  if (types.length === 0) return undefined;
  return { transitions, typeIndex, types, extend };
}

// POSIX TZ rules ("CET-1CEST,M3.5.0,M10.5.0/3").

interface Rule {
  kind: 'J' | 'N' | 'M';
  day: number;
  week: number;
  mon: number;
  time: number;
}

function parseName(s: string): [string, string] | undefined {
  if (s.startsWith('<')) {
    const e = s.indexOf('>');
    return e < 0 ? undefined : [s.slice(1, e), s.slice(e + 1)];
  }
  const m = /^[A-Za-z]{3,}/.exec(s);
  return m ? [m[0], s.slice(m[0].length)] : undefined;
}

function parseOffset(s: string): [number, string] | undefined {
  const m = /^([+-]?)(\d{1,3})(?::(\d\d)(?::(\d\d))?)?/.exec(s);
  if (!m) return undefined;
  const v = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  return [m[1] === '-' ? -v : v, s.slice(m[0].length)];
}

function parseRule(s: string): [Rule, string] | undefined {
  let r: Rule;
  let m: RegExpExecArray | null;
  if ((m = /^J(\d{1,3})/.exec(s))) r = { kind: 'J', day: Number(m[1]), week: 0, mon: 0, time: 7200 };
  else if ((m = /^M(\d{1,2})\.(\d)\.(\d)/.exec(s))) r = { kind: 'M', mon: Number(m[1]), week: Number(m[2]), day: Number(m[3]), time: 7200 };
  else if ((m = /^(\d{1,3})/.exec(s))) r = { kind: 'N', day: Number(m[1]), week: 0, mon: 0, time: 7200 };
  else return undefined;
  let rest = s.slice(m[0].length);
  if (rest.startsWith('/')) {
    const o = parseOffset(rest.slice(1));
    if (!o) return undefined;
    r.time = o[0];
    rest = o[1];
  }
  return [r, rest];
}

function isLeap(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}

/** Seconds from the start of the year to the rule's day (00:00 local). */
function ruleDaySeconds(r: Rule, year: number): number {
  if (r.kind === 'J') {
    let d = r.day - 1;
    if (isLeap(year) && r.day >= 60) d++;
    return d * 86400;
  }
  if (r.kind === 'N') return r.day * 86400;
  const first = Date.UTC(year, r.mon - 1, 1);
  const wd = new Date(first).getUTCDay();
  let day = 1 + ((r.day - wd + 7) % 7) + (r.week - 1) * 7;
  const dim = new Date(Date.UTC(year, r.mon, 0)).getUTCDate();
  while (day > dim) day -= 7;
  return (first - Date.UTC(year, 0, 1)) / 1000 + (day - 1) * 86400;
}

/** The zone a POSIX TZ string gives at a Unix second, or undefined if it cannot be read. */
export function posixZoneAt(tz: string, sec: number): ZoneAt | undefined {
  const std = parseName(tz);
  if (!std) return undefined;
  const so = parseOffset(std[1]);
  if (!so) return undefined;
  const stdZone = { offset: -so[0], abbrev: std[0] };
  let rest = so[1];
  if (rest === '') return stdZone;
  const dst = parseName(rest);
  if (!dst) return undefined;
  rest = dst[1];
  let dstOffset = stdZone.offset + 3600;
  if (rest !== '' && rest[0] !== ',') {
    const o = parseOffset(rest);
    if (!o) return undefined;
    dstOffset = -o[0];
    rest = o[1];
  }
  if (rest === '') rest = ',M3.2.0,M11.1.0'; // POSIX's default rule, as Go's tzset
  if (rest[0] !== ',') return undefined;
  const r1 = parseRule(rest.slice(1));
  if (!r1 || r1[1][0] !== ',') return undefined;
  const r2 = parseRule(r1[1].slice(1));
  if (!r2 || r2[1] !== '') return undefined;
  const year = new Date((sec + stdZone.offset) * 1000).getUTCFullYear();
  const yearStart = Date.UTC(year, 0, 1) / 1000;
  const start = yearStart + ruleDaySeconds(r1[0], year) + r1[0].time - stdZone.offset;
  const end = yearStart + ruleDaySeconds(r2[0], year) + r2[0].time - dstOffset;
  const dstZone = { offset: dstOffset, abbrev: dst[0] };
  if (start < end) return sec >= start && sec < end ? dstZone : stdZone;
  return sec >= end && sec < start ? stdZone : dstZone;
}

function zoneAt(z: Zone, sec: number): ZoneAt {
  const t = z.transitions;
  if (t.length === 0 || sec < t[0]) {
    if (t.length === 0 && z.extend) return posixZoneAt(z.extend, sec) ?? pick(z.types[0]);
    // Before the first transition: the first standard-time type (Go's lookupFirstZone).
    const first = t.length && z.types[z.typeIndex[0]].isDst ? z.types.find((x) => !x.isDst) : undefined;
    return pick(first ?? z.types[0]);
  }
  if (sec >= t[t.length - 1] && z.extend) {
    const ext = posixZoneAt(z.extend, sec);
    if (ext) return ext;
  }
  let lo = 0;
  let hi = t.length;
  while (hi - lo > 1) {
    const m = (lo + hi) >> 1;
    if (sec < t[m]) hi = m;
    else lo = m;
  }
  return pick(z.types[z.typeIndex[lo]]);
}

function pick(t: ZoneType): ZoneAt {
  return { offset: t.offset, abbrev: t.abbrev };
}

let cached: { key: string | undefined; zone: Zone } | undefined;

function loadFile(file: string): Zone | undefined {
  try {
    return parseTzif(readFileSync(file));
  } catch {
    return undefined;
  }
}

/** Go's time.Local: TZ unset → /etc/localtime; TZ="" or unreadable → UTC; TZ=name → the zoneinfo file. */
function localZone(): Zone {
  const tz = process.env.TZ;
  if (cached && cached.key === tz) return cached.zone;
  let zone: Zone | undefined;
  if (tz === undefined) zone = loadFile('/etc/localtime');
  else if (tz !== '' && tz !== 'UTC') {
    const name = tz.startsWith(':') ? tz.slice(1) : tz;
    if (name.startsWith('/')) zone = loadFile(name);
    else if (!name.includes('..')) {
      const dirs = [process.env.ZONEINFO, '/usr/share/zoneinfo', '/usr/share/lib/zoneinfo', '/usr/lib/locale/TZ'].filter(Boolean) as string[];
      for (const d of dirs) if ((zone = loadFile(`${d}/${name}`))) break;
    }
  }
  cached = { key: tz, zone: zone ?? UTC_ZONE };
  return cached.zone;
}

/** The local zone's offset and abbreviation at a Unix second, as Go's time.Local gives them. */
export function goLocalZone(sec: number): ZoneAt {
  return zoneAt(localZone(), sec);
}
