// The legacy v1 layer records of a `docker save` archive (<v1 id>/json) and their ids, as dockerd 20.10
// computes them (image/tarexport/save.go, image/v1 CreateID): the image config decoded into Go's V1Image
// struct and encoded again by encoding/json. So this module encodes as Go does: struct fields in their
// declared order with their omitempty rules, maps with sorted keys, HTML-safe string escapes, and times
// in RFC 3339 with trailing zeros of the fraction dropped. Only the types V1Image holds are covered.
import { chainIdsOf, sha256Digest, hexOf } from './digest.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const HEX = '0123456789abcdef';

/** Go's encoding/json string: ", \ and control characters escaped, and (HTML-safe) < > & U+2028 U+2029 as \u escapes. */
export function goString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | null = null;
    if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = '\\\\';
    else if (c === 0x0a) esc = '\\n';
    else if (c === 0x0d) esc = '\\r';
    else if (c === 0x09) esc = '\\t';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) esc = `\\u00${HEX[c >> 4]}${HEX[c & 15]}`;
    else if (c === 0x2028 || c === 0x2029) esc = `\\u${c.toString(16)}`;
    else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate is no valid UTF-8: Go writes U+FFFD for it.
      const pair = c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
      if (pair) {
        i++;
        continue;
      }
      esc = '\ufffd';
    }
    if (esc === null) continue;
    out += s.slice(start, i) + esc;
    start = i + 1;
  }
  return out + s.slice(start) + '"';
}

/** Go sorts map keys by their UTF-8 bytes. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Go's decoder matches a JSON key to a field exactly or, failing that, case-insensitively; of several keys
 * for one field the last one wins. Returns the value for `field` (undefined when no key matches).
 */
function fieldOf(obj: JsonObject, field: string): Json | undefined {
  if (Object.hasOwn(obj, field)) {
    // An exact key wins unless a later folded one overrides it: Go assigns in document order.
    let value: Json | undefined;
    for (const [k, v] of Object.entries(obj)) if (k === field || k.toLowerCase() === field.toLowerCase()) value = v;
    return value;
  }
  let value: Json | undefined;
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === field.toLowerCase()) value = v;
  return value;
}

const str = (v: Json | undefined): string => (typeof v === 'string' ? v : '');
const bool = (v: Json | undefined): boolean => v === true;

/** A []string (null stays nil: "null"). */
function stringList(v: Json | undefined): string | null {
  if (!Array.isArray(v)) return null;
  return `[${v.map((x) => goString(str(x))).join(',')}]`;
}

/** strslice.StrSlice: an array, or a lone string taken as a one-element array. */
function strSlice(v: Json | undefined): string | null {
  if (typeof v === 'string') return `[${goString(v)}]`;
  return stringList(v);
}

/** map[string]struct{}: sorted keys, each value {}. */
function stringSet(v: Json | undefined): string | null {
  if (!isObject(v)) return null;
  return `{${Object.keys(v).sort(byUtf8).map((k) => `${goString(k)}:{}`).join(',')}}`;
}

/** map[string]string. */
function stringMap(v: Json | undefined): string | null {
  if (!isObject(v)) return null;
  return `{${Object.keys(v).sort(byUtf8).map((k) => `${goString(k)}:${goString(str(v[k]))}`).join(',')}}`;
}

function integer(v: Json | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 0;
}

/** A Go struct encoded from fields in order; a field whose value is undefined is left out (omitempty). */
function struct(fields: Array<[string, string | undefined]>): string {
  return `{${fields.filter(([, v]) => v !== undefined).map(([k, v]) => `${goString(k)}:${v}`).join(',')}}`;
}

const orNull = (v: string | null) => v ?? 'null';
/** omitempty for a slice or map: absent when nil or empty. */
const omitEmpty = (v: string | null) => (v === null || v === '[]' || v === '{}' ? undefined : v);
const omitFalse = (v: boolean) => (v ? 'true' : undefined);
const omitZero = (n: number) => (n === 0 ? undefined : String(n));
const omitEmptyString = (s: string) => (s === '' ? undefined : goString(s));

/** container.HealthConfig (20.10: Test, Interval, Timeout, StartPeriod, Retries; all omitempty). */
function healthConfig(v: JsonObject): string {
  return struct([
    ['Test', omitEmpty(stringList(fieldOf(v, 'Test')))],
    ['Interval', omitZero(integer(fieldOf(v, 'Interval')))],
    ['Timeout', omitZero(integer(fieldOf(v, 'Timeout')))],
    ['StartPeriod', omitZero(integer(fieldOf(v, 'StartPeriod')))],
    ['Retries', omitZero(integer(fieldOf(v, 'Retries')))],
  ]);
}

/** container.Config as docker 20.10 declares it (api/types/container/config.go); `v` absent gives the zero Config. */
export function containerConfigJson(v: Json | undefined): string {
  const c = isObject(v) ? v : {};
  const health = fieldOf(c, 'Healthcheck');
  const stopTimeout = fieldOf(c, 'StopTimeout');
  return struct([
    ['Hostname', goString(str(fieldOf(c, 'Hostname')))],
    ['Domainname', goString(str(fieldOf(c, 'Domainname')))],
    ['User', goString(str(fieldOf(c, 'User')))],
    ['AttachStdin', String(bool(fieldOf(c, 'AttachStdin')))],
    ['AttachStdout', String(bool(fieldOf(c, 'AttachStdout')))],
    ['AttachStderr', String(bool(fieldOf(c, 'AttachStderr')))],
    ['ExposedPorts', omitEmpty(stringSet(fieldOf(c, 'ExposedPorts')))],
    ['Tty', String(bool(fieldOf(c, 'Tty')))],
    ['OpenStdin', String(bool(fieldOf(c, 'OpenStdin')))],
    ['StdinOnce', String(bool(fieldOf(c, 'StdinOnce')))],
    ['Env', orNull(stringList(fieldOf(c, 'Env')))],
    ['Cmd', orNull(strSlice(fieldOf(c, 'Cmd')))],
    ['Healthcheck', isObject(health) ? healthConfig(health) : undefined],
    ['ArgsEscaped', omitFalse(bool(fieldOf(c, 'ArgsEscaped')))],
    ['Image', goString(str(fieldOf(c, 'Image')))],
    ['Volumes', orNull(stringSet(fieldOf(c, 'Volumes')))],
    ['WorkingDir', goString(str(fieldOf(c, 'WorkingDir')))],
    ['Entrypoint', orNull(strSlice(fieldOf(c, 'Entrypoint')))],
    ['NetworkDisabled', omitFalse(bool(fieldOf(c, 'NetworkDisabled')))],
    ['MacAddress', omitEmptyString(str(fieldOf(c, 'MacAddress')))],
    ['OnBuild', orNull(stringList(fieldOf(c, 'OnBuild')))],
    ['Labels', orNull(stringMap(fieldOf(c, 'Labels')))],
    ['StopSignal', omitEmptyString(str(fieldOf(c, 'StopSignal')))],
    ['StopTimeout', typeof stopTimeout === 'number' ? String(Math.trunc(stopTimeout)) : undefined],
    ['Shell', omitEmpty(strSlice(fieldOf(c, 'Shell')))],
  ]);
}

export interface GoTime {
  /** As Go's Time.MarshalJSON writes it (RFC 3339, fraction without trailing zeros, Z for UTC). */
  text: string;
  /** Whole seconds since the epoch (what a tar header of a file with this mtime holds). */
  seconds: number;
}

const TIME = /^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)$/;

/** Go's zero time.Time, which an image without "created" has. */
export const GO_ZERO_TIME: GoTime = { text: '0001-01-01T00:00:00Z', seconds: -62135596800 };

/** A time as Go parses an RFC 3339 string and writes it again; null when Go could not parse it. */
export function goTime(text: string | undefined): GoTime | null {
  if (text === undefined) return GO_ZERO_TIME;
  const m = TIME.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac = '', zone] = m;
  const fraction = frac.slice(0, 9).replace(/0+$/, '');
  const offset = zone.toUpperCase() === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000 - offset * 60;
  const shownZone = offset === 0 ? 'Z' : zone;
  return { text: `${y}-${mo}-${d}T${h}:${mi}:${s}${fraction ? `.${fraction}` : ''}${shownZone}`, seconds: Math.floor(utc) };
}

/** The V1Image fields of a config, each as [JSON key, encoded value], in struct order (id and parent not included). */
interface V1Fields {
  before: Array<[string, string]>; // comment (after id, parent)
  rest: Array<[string, string]>; // created … Size
}

function v1Fields(config: JsonObject, created: GoTime): V1Fields {
  const put = (list: Array<[string, string]>, key: string, value: string | undefined) => {
    if (value !== undefined) list.push([key, value]);
  };
  const before: Array<[string, string]> = [];
  const rest: Array<[string, string]> = [];
  put(before, 'comment', omitEmptyString(str(fieldOf(config, 'comment'))));
  put(rest, 'created', goString(created.text));
  put(rest, 'container', omitEmptyString(str(fieldOf(config, 'container'))));
  put(rest, 'container_config', containerConfigJson(fieldOf(config, 'container_config')));
  put(rest, 'docker_version', omitEmptyString(str(fieldOf(config, 'docker_version'))));
  put(rest, 'author', omitEmptyString(str(fieldOf(config, 'author'))));
  const inner = fieldOf(config, 'config');
  put(rest, 'config', isObject(inner) ? containerConfigJson(inner) : undefined);
  put(rest, 'architecture', omitEmptyString(str(fieldOf(config, 'architecture'))));
  put(rest, 'variant', omitEmptyString(str(fieldOf(config, 'variant'))));
  put(rest, 'os', omitEmptyString(str(fieldOf(config, 'os'))));
  put(rest, 'Size', omitZero(integer(fieldOf(config, 'Size'))));
  return { before, rest };
}

function objectOf(pairs: Array<[string, string]>): string {
  return `{${pairs.map(([k, v]) => `${goString(k)}:${v}`).join(',')}}`;
}

/**
 * v1.CreateID: the V1Image without id encoded, its keys taken as a map (so sorted), plus layer_id and the
 * parent's v1 id, encoded again; the id is the sha256 of that.
 */
function createV1Id(fields: Array<[string, string]>, chainId: string, parent: string | null): string {
  const map = new Map(fields);
  map.set('layer_id', goString(chainId));
  if (parent !== null) map.set('parent', goString(parent));
  const keys = [...map.keys()].sort(byUtf8);
  return sha256Digest(`{${keys.map((k) => `${goString(k)}:${map.get(k)}`).join(',')}}`);
}

export interface LegacyLayer {
  /** The v1 id (hex): the directory name in the archive. */
  v1Id: string;
  chainId: string;
  diffId: string;
  /** <v1 id>/json as docker writes it. */
  json: Buffer;
}

/** The epoch as dockerd's time.Unix(0, 0) writes it (a daemon running in UTC). */
const EPOCH: GoTime = { text: '1970-01-01T00:00:00Z', seconds: 0 };

/**
 * The v1 records of an image's layers, base first, as saveImage makes them: every layer but the top one
 * gets an empty V1Image created at the epoch; the top one the image's own V1Image. Each id chains on the
 * one below it. Throws when the config's created time is not one Go could parse (docker could not load it).
 */
export function legacyLayers(config: JsonObject, diffIds: readonly string[]): LegacyLayer[] {
  const raw = fieldOf(config, 'created');
  const created = raw === undefined || raw === null ? GO_ZERO_TIME : goTime(str(raw));
  if (!created) throw new Error(`created time ${JSON.stringify(raw)} is not RFC 3339`);
  const chainIds = chainIdsOf(diffIds);
  const os = omitEmptyString(str(fieldOf(config, 'os')));
  const out: LegacyLayer[] = [];
  let parent: string | null = null;
  diffIds.forEach((diffId, i) => {
    const top = i === diffIds.length - 1;
    const fields = top ? v1Fields(config, created) : { before: [], rest: [['created', goString(EPOCH.text)], ['container_config', containerConfigJson(undefined)]] as Array<[string, string]> };
    const all = [...fields.before, ...fields.rest];
    const v1Id = createV1Id(all, chainIds[i], parent);
    // The saved record: id and parent first, then the rest; os is set on every layer after the id is made.
    const saved: Array<[string, string]> = [['id', goString(hexOf(v1Id))]];
    if (parent !== null) saved.push(['parent', goString(hexOf(parent))]);
    saved.push(...fields.before, ...fields.rest);
    if (!top && os !== undefined) saved.push(['os', os]);
    out.push({ v1Id: hexOf(v1Id), chainId: chainIds[i], diffId, json: Buffer.from(objectOf(saved)) });
    parent = v1Id;
  });
  return out;
}

/** The created time of an image config, as Go reads it (the zero time when absent or unparsable). */
export function createdOf(config: JsonObject): GoTime {
  const raw = fieldOf(config, 'created');
  return (raw === undefined || raw === null ? GO_ZERO_TIME : goTime(str(raw))) ?? GO_ZERO_TIME;
}

export type { Json, JsonObject };
