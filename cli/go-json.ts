// Go's encoding/json output for JS values: no spaces, strings escaped as Go escapes them (<, >, & as
// \u003c… unless HTML escaping is off, U+2028 and U+2029 always, control characters as \u00XX), object keys
// in their order (Go structs), Go maps (asGoMap) and docker's formatter contexts with sorted keys.
import { GoFloat, GoNil, goTypeInfo, sortedKeys } from './go-fmt.js';

export interface GoJsonOptions {
  /** json.Marshal escapes <, > and & (true); docker's `json` template function turns that off (false). */
  escapeHTML?: boolean;
}

import { goJsonString } from '../inspect/go-json-string.js';

export { goJsonString };

function goJsonNumber(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`json: unsupported value: ${n}`);
  // Go uses %f below 1e21 and above 1e-6, else %e with a short exponent: the same as JS.
  return Object.is(n, -0) ? '-0' : String(n);
}

/** encoding/json's output for v (json.Marshal with escapeHTML, or an Encoder with SetEscapeHTML(false)). */
export function goJsonEncode(v: unknown, opts: GoJsonOptions = {}): string {
  const escapeHTML = opts.escapeHTML ?? true;
  const enc = (x: unknown, esc: boolean): string => {
    if (x === undefined || x === null || typeof x === 'function' || typeof x === 'symbol') return 'null';
    switch (typeof x) {
      case 'string':
        return goJsonString(x, esc);
      case 'number':
        return goJsonNumber(x);
      case 'bigint':
        return x.toString();
      case 'boolean':
        return x ? 'true' : 'false';
    }
    if (Buffer.isBuffer(x)) return goJsonString(x.toString('base64'), esc); // []byte is base64
    if (Array.isArray(x)) return `[${x.map((e) => enc(e, esc)).join(',')}]`;
    if (typeof (x as { toJSON?: unknown }).toJSON === 'function') return enc((x as { toJSON: () => unknown }).toJSON(), esc);
    const obj = x as Record<string, unknown>;
    const info = goTypeInfo(obj);
    if (info?.formatterContext) {
      // docker's MarshalJSON of a context: a map of its zero-argument methods, through json.Marshal
      // (so always HTML-escaped), then copied as is by the outer encoder.
      const m: Record<string, unknown> = {};
      for (const k of allKeys(obj)) {
        const p = obj[k];
        if (typeof p === 'function') {
          if (p.length === 0) m[k] = (p as () => unknown).call(obj);
        } else m[k] = p;
      }
      return `{${sortedKeys(m)
        .map((k) => `${goJsonString(k, true)}:${enc(m[k], true)}`)
        .join(',')}}`;
    }
    const keys = info?.kind === 'map' ? sortedKeys(obj) : Object.keys(obj);
    const omit = info?.kind === 'struct' && info.omitEmpty ? new Set(info.omitEmpty) : undefined;
    const parts: string[] = [];
    for (const k of keys) {
      const p = obj[k];
      if (p === undefined || typeof p === 'function') continue;
      if (omit?.has(k) && isEmptyValue(p)) continue;
      parts.push(`${goJsonString(k, esc)}:${enc(p, esc)}`);
    }
    return `{${parts.join(',')}}`;
  };
  return enc(v, escapeHTML);
}

/** encoding/json's isEmptyValue: false, 0, "", nil, and empty slices and maps (never a struct). */
export function isEmptyValue(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '' || v === 0n) return true;
  if (v instanceof GoNil) return true;
  if (v instanceof GoFloat) return v.value === 0;
  if (Array.isArray(v) || Buffer.isBuffer(v)) return v.length === 0;
  if (typeof v === 'object') {
    const info = goTypeInfo(v);
    if (info?.kind === 'struct' || typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
    return Object.keys(v).length === 0;
  }
  return false;
}

/** Own enumerable keys and the getters/methods of its class (a context may be a class instance). */
function allKeys(obj: object): string[] {
  const keys = new Set(Object.keys(obj));
  for (let p = Object.getPrototypeOf(obj); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) if (k !== 'constructor' && /^[A-Z]/.test(k)) keys.add(k);
  }
  return [...keys].filter((k) => /^[A-Z]/.test(k));
}
