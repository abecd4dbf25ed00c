// The image config and ID Docker 1.10's own v1 migration gives a v1 image (moby migrate/v1 with image/v1's
// HistoryFromConfig and MakeConfigFromV1Config): the v1 JSON without its v1-only fields (id, parent,
// parent_id, Size, layer_id, throwaway), plus `rootfs` (the parent's DiffIDs and this layer's) and
// `history` (the parent's steps and one for this image), encoded as Go's encoding/json encodes a map of raw
// messages — keys sorted by their bytes, each value compacted with <, >, & and U+2028/9 escaped — and the
// ID is the sha256 of those bytes.
//
// Not matched exactly: images written by Docker < 1.8.3 (or naming no docker_version), whose JSON Docker
// 1.10 first re-encoded through its own V1Image struct (dropping unknown fields and reordering known ones);
// strata keeps their JSON as it is, so their migrated IDs may differ from the ones Docker 1.10 gave them.
import { StrataError } from '../../native/errors.js';
import { sha256Digest } from '../digest.js';
import { goJsonString } from '../go-json-string.js';

/** A string as json.Marshal writes it (HTML-safe). */
export const goString = (s: string): string => goJsonString(s, true);

export interface MigratedHistoryStep {
  created: string;
  author?: string;
  created_by?: string;
  comment?: string;
}

export interface MigratedV1Image {
  config: Buffer;
  /** sha256:<hex> of config. */
  id: string;
  diffIds: string[];
  history: MigratedHistoryStep[];
  /** Written by a Docker older than 1.8.3: see above. */
  approximate: boolean;
}

export class V1MigrationError extends StrataError {
  override name = 'V1MigrationError';
}

const DROPPED = new Set(['id', 'parent', 'Size', 'parent_id', 'layer_id', 'throwaway']);

/**
 * The migrated config of one v1 image from its JSON bytes, its parent's migrated DiffIDs and history (none
 * for a base) and its own layer's DiffID. Throws V1MigrationError where Docker 1.10's migration failed too.
 */
export function migrateV1Image(json: Buffer, parent: { diffIds: string[]; history: MigratedHistoryStep[] } | null, diffId: string): MigratedV1Image {
  const members = topLevelMembers(json);
  const byKey = new Map<string, Buffer>();
  for (const [k, v] of members) byKey.set(k, v); // Go's map: the last of a repeated key wins
  const value = (k: string): unknown => {
    const raw = byKey.get(k);
    return raw === undefined ? undefined : JSON.parse(raw.toString('utf8'));
  };
  const step = historyStep(value('created'), value('author'), value('comment'), value('container_config'));
  const diffIds = [...(parent?.diffIds ?? []), diffId];
  const history = [...(parent?.history ?? []), step];
  for (const k of DROPPED) byKey.delete(k);
  byKey.set('rootfs', Buffer.from(`{"type":"layers","diff_ids":[${diffIds.map(goString).join(',')}]}`));
  byKey.set('history', Buffer.from(`[${history.map(historyJson).join(',')}]`));
  const keys = [...byKey.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const parts: Buffer[] = [Buffer.from('{')];
  keys.forEach((k, i) => {
    parts.push(Buffer.from(`${i > 0 ? ',' : ''}${goString(k)}:`), goCompact(byKey.get(k)!));
  });
  parts.push(Buffer.from('}'));
  const config = Buffer.concat(parts);
  const version = value('docker_version');
  return { config, id: sha256Digest(config), diffIds, history, approximate: versionLess(typeof version === 'string' ? version : '', [1, 8, 3]) };
}

/** image/v1 HistoryFromConfig: author, created, created_by (container_config.Cmd joined by spaces), comment. */
function historyStep(created: unknown, author: unknown, comment: unknown, containerConfig: unknown): MigratedHistoryStep {
  const str = (v: unknown, field: string): string => {
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new V1MigrationError(`${field} is not a string`);
    return v;
  };
  let cmd: string[] = [];
  if (containerConfig !== undefined && containerConfig !== null) {
    if (typeof containerConfig !== 'object' || Array.isArray(containerConfig)) throw new V1MigrationError('container_config is not an object');
    const c = (containerConfig as Record<string, unknown>).Cmd;
    if (typeof c === 'string') cmd = [c];
    else if (Array.isArray(c) && c.every((a) => typeof a === 'string')) cmd = c;
    else if (c !== undefined && c !== null) throw new V1MigrationError('container_config.Cmd is neither a string nor a list of strings');
  }
  const step: MigratedHistoryStep = { created: goTimeText(created) };
  const a = str(author, 'author');
  if (a) step.author = a;
  const by = cmd.join(' ');
  if (by) step.created_by = by;
  const cm = str(comment, 'comment');
  if (cm) step.comment = cm;
  return step;
}

function historyJson(h: MigratedHistoryStep): string {
  let s = `{"created":${goString(h.created)}`;
  if (h.author) s += `,"author":${goString(h.author)}`;
  if (h.created_by) s += `,"created_by":${goString(h.created_by)}`;
  if (h.comment) s += `,"comment":${goString(h.comment)}`;
  return `${s}}`;
}

/** A v1 `created` as Go's time.Time round-trips it (RFC 3339 in, RFC3339Nano out); absent: the zero time. */
export function goTimeText(created: unknown): string {
  if (created === undefined || created === null) return '0001-01-01T00:00:00Z';
  if (typeof created !== 'string') throw new V1MigrationError('created is not a string');
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(created);
  if (!m) throw new V1MigrationError(`created ${JSON.stringify(created)} is not an RFC 3339 time`);
  const [, y, mo, d, h, mi, s, frac = '', zone] = m;
  // Go keeps nanoseconds (digits beyond nine are cut) and drops trailing zeros; a zero offset prints as Z.
  const nanos = frac.slice(0, 9).replace(/0+$/, '');
  const z = zone === 'Z' || /^[+-]00:00$/.test(zone) ? 'Z' : zone;
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${nanos ? `.${nanos}` : ''}${z}`;
}

/** pkg/version's LessThan: dot-separated numbers (a part that is no number counts 0), compared in order. */
function versionLess(v: string, than: number[]): boolean {
  const parts = v.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : 0));
  for (let i = 0; i < Math.max(parts.length, than.length); i++) {
    const a = parts[i] ?? 0;
    const b = than[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false;
}

const HEX = '0123456789abcdef';

/** Go's json.Compact with HTML escaping, as Marshal applies it to a RawMessage: whitespace outside strings dropped. */
export function goCompact(raw: Buffer): Buffer {
  const out: number[] = [];
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if (inString) {
      if (b === 0x5c) {
        out.push(b, raw[++i]);
        continue;
      }
      if (b === 0x22) inString = false;
      if (b === 0x3c || b === 0x3e || b === 0x26) {
        for (const c of `\\u00${HEX[b >> 4]}${HEX[b & 15]}`) out.push(c.charCodeAt(0));
        continue;
      }
      if (b === 0xe2 && raw[i + 1] === 0x80 && (raw[i + 2] === 0xa8 || raw[i + 2] === 0xa9)) {
        for (const c of `\\u202${raw[i + 2] === 0xa8 ? '8' : '9'}`) out.push(c.charCodeAt(0));
        i += 2;
        continue;
      }
      out.push(b);
      continue;
    }
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    if (b === 0x22) inString = true;
    out.push(b);
  }
  return Buffer.from(out);
}

/** The members of a JSON object's top level, in order, each value as its raw bytes. */
export function topLevelMembers(json: Buffer): Array<[string, Buffer]> {
  const text = json;
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === 0x20 || text[i] === 0x09 || text[i] === 0x0a || text[i] === 0x0d)) i++;
  };
  const stringEnd = (start: number): number => {
    let j = start + 1;
    while (j < text.length && text[j] !== 0x22) j += text[j] === 0x5c ? 2 : 1;
    if (j >= text.length) throw new V1MigrationError('unterminated string');
    return j + 1;
  };
  const valueEnd = (start: number): number => {
    if (text[start] === 0x22) return stringEnd(start);
    let depth = 0;
    let j = start;
    while (j < text.length) {
      const b = text[j];
      if (b === 0x22) {
        j = stringEnd(j);
        continue;
      }
      if (b === 0x7b || b === 0x5b) depth++;
      else if (b === 0x7d || b === 0x5d) {
        if (depth === 0) return j;
        depth--;
        if (depth === 0) return j + 1;
      } else if (depth === 0 && b === 0x2c) return j;
      j++;
    }
    if (depth !== 0) throw new V1MigrationError('unbalanced JSON');
    return j;
  };
  // Valid JSON first: the scan below trusts its structure.
  try {
    const parsed = JSON.parse(json.toString('utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new V1MigrationError('not a JSON object');
  } catch (err) {
    if (err instanceof V1MigrationError) throw err;
    throw new V1MigrationError(`corrupt JSON (${(err as Error).message})`);
  }
  ws();
  i++; // {
  const members: Array<[string, Buffer]> = [];
  ws();
  if (text[i] === 0x7d) return members;
  for (;;) {
    ws();
    const keyEnd = stringEnd(i);
    const key = JSON.parse(text.subarray(i, keyEnd).toString('utf8')) as string;
    i = keyEnd;
    ws();
    i++; // :
    ws();
    const end = valueEnd(i);
    let valueStop = end;
    while (valueStop > i && (text[valueStop - 1] === 0x20 || text[valueStop - 1] === 0x09 || text[valueStop - 1] === 0x0a || text[valueStop - 1] === 0x0d)) valueStop--;
    members.push([key, Buffer.from(text.subarray(i, valueStop))]);
    i = end;
    ws();
    if (text[i] === 0x2c) {
      i++;
      continue;
    }
    return members;
  }
}
