// Go's fmt package as far as templates need it: Sprint, Sprintln, Sprintf with the common verbs, and the
// exact float formatting of strconv (%e %f %g, round half to even on the exact binary value), so that
// `--format '{{printf "%.2f" .X}}'` and docker's "41.8MB" print exactly as the docker CLI prints them.
// Values are JS values seen as Go values: a string is a string, an integer number an int, any other number
// a float64, null is nil, an array a slice, an object a map (or a struct, see goTypeName).

/** The Go type information a JS object may carry (set by go-template.ts's asStruct/asGoMap). */
export const GO_TYPE = Symbol.for('strata.goType');

export interface GoTypeInfo {
  kind: 'struct' | 'map';
  /** As Go prints it in messages: "*formatter.imageContext", "map[string]string". */
  name: string;
  /** Docker's formatter contexts marshal themselves as a map of their methods: sorted keys, HTML-escaped. */
  formatterContext?: boolean;
  /** For a map: the zero value of its element type (what `index` gives for a missing key). */
  zero?: unknown;
  /** For a struct: fields tagged `json:",omitempty"`, left out of JSON when Go's isEmptyValue says empty. */
  omitEmpty?: readonly string[];
  /** For a struct: the Go type of fields that may be nil ("[]string", "map[string]string", "*T", or just
   * 'slice' | 'map' | 'pointer'), so that a null there prints "[]", "map[]" or "<nil>". */
  nilKinds?: Readonly<Record<string, string>>;
}

/** A struct field's null as the typed nil its Go type makes it. */
export function typedNil(info: GoTypeInfo | undefined, field: string): GoNil | undefined {
  const k = info?.nilKinds?.[field];
  if (k === undefined) return undefined;
  const name = k === 'slice' ? '[]interface {}' : k === 'map' ? 'map[string]interface {}' : k === 'pointer' ? '*struct {}' : k;
  return new GoNil(name);
}

/**
 * A float64 whose value is a whole number (JS cannot tell 1.0 from 1): the template literal 1.0 or 1e6,
 * or a float64 field of the data. It prints, compares and type-checks as Go's float64.
 */
export class GoFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
  toJSON(): number {
    return this.value;
  }
}

/**
 * A typed nil of a Go struct field: a nil slice prints "[]", a nil map "map[]", a nil pointer "<nil>";
 * all are JSON null and false. typeName is Go's ("[]string", "map[string]string", "*container.HealthConfig").
 */
export class GoNil {
  constructor(readonly typeName: string) {}
  toJSON(): null {
    return null;
  }
  get printed(): string {
    if (this.typeName.startsWith('[]')) return '[]';
    if (this.typeName.startsWith('map[')) return 'map[]';
    return '<nil>';
  }
}

/** A Go value's String method (fmt.Stringer): objects may carry one under this symbol (e.g. a time.Time). */
export const GO_STRINGER = Symbol.for('go.String');

/** The String() of a value that has one: the GO_STRINGER method, or the toString of a class instance. */
export function stringerOf(v: unknown): string | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof GoFloat || v instanceof GoNil) return undefined;
  const s = (v as { [GO_STRINGER]?: unknown })[GO_STRINGER];
  if (typeof s === 'function') return String(s.call(v));
  const proto = Object.getPrototypeOf(v);
  if (proto && proto !== Object.prototype && !Buffer.isBuffer(v) && typeof (v as object).toString === 'function' && (v as object).toString !== Object.prototype.toString) {
    return (v as object).toString();
  }
  return undefined;
}

export function goTypeInfo(v: unknown): GoTypeInfo | undefined {
  return v !== null && typeof v === 'object' ? (v as { [GO_TYPE]?: GoTypeInfo })[GO_TYPE] : undefined;
}

export function isGoStruct(v: unknown): boolean {
  return goTypeInfo(v)?.kind === 'struct';
}

/** A plain JS object, or one marked as a Go map. */
export function isGoMap(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v) || v instanceof GoFloat || v instanceof GoNil) return false;
  if (stringerOf(v) !== undefined) return false;
  const info = goTypeInfo(v);
  return info === undefined || info.kind === 'map';
}

/** The Go type name of a value, as Go's messages print it. */
export function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float64';
    case 'bigint':
      return 'int64';
    case 'function':
      return 'func()';
  }
  if (v instanceof GoFloat) return 'float64';
  if (v instanceof GoNil) return v.typeName;
  if (Array.isArray(v)) return v.length > 0 && v.every((e) => typeof e === 'string') ? '[]string' : '[]interface {}';
  if (Buffer.isBuffer(v)) return '[]uint8';
  const info = goTypeInfo(v);
  return info ? info.name : 'map[string]interface {}';
}

/** The keys of a Go map in the order fmt prints and range walks them (sorted; numbers before strings). */
export function sortedKeys(m: object): string[] {
  return Object.keys(m).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The fields of a struct-like object that are data (methods are not printed by %v). */
function structValues(o: object): unknown[] {
  const info = goTypeInfo(o);
  return Object.keys(o)
    .map((k) => {
      const v = (o as Record<string, unknown>)[k];
      return v === null ? (typedNil(info, k) ?? v) : v;
    })
    .filter((v) => typeof v !== 'function');
}

// ---------------------------------------------------------------------------------------------------------
// Exact decimal conversion and rounding of a float64 (strconv's job).

interface Digits {
  /** Decimal digits without leading zeros ("" for zero). */
  d: string;
  /** Position of the decimal point relative to the start of d: value = 0.d × 10^dp. */
  dp: number;
}

/** The exact decimal expansion of |v| (finite). */
function exactDigits(v: number): Digits {
  const a = Math.abs(v);
  if (a === 0) return { d: '', dp: 0 };
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, a);
  const hi = buf.getUint32(0);
  const lo = buf.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp2: number;
  if (biased === 0) exp2 = -1074;
  else {
    mant |= 1n << 52n;
    exp2 = biased - 1075;
  }
  let s: string;
  let dp: number;
  if (exp2 >= 0) {
    s = (mant << BigInt(exp2)).toString();
    dp = s.length;
  } else {
    // mant / 2^k = mant × 5^k / 10^k
    s = (mant * 5n ** BigInt(-exp2)).toString();
    dp = s.length + exp2;
  }
  const trimmed = s.replace(/0+$/, '');
  const lead = trimmed.length - trimmed.replace(/^0+/, '').length;
  return { d: trimmed.slice(lead), dp: dp - lead };
}

/** The shortest digits that read back as v (what strconv gives for precision -1); JS computes the same. */
function shortestDigits(v: number): Digits {
  const a = Math.abs(v);
  if (a === 0) return { d: '', dp: 0 };
  const [m, e] = a.toExponential().split('e');
  const d = m.replace('.', '').replace(/0+$/, '');
  return { d, dp: Number(e) + 1 };
}

/** Round digits to nd digits (nd may be ≤ 0), half to even, as strconv's decimal.Round. */
function roundDigits(x: Digits, nd: number): Digits {
  if (nd < 0 || x.d.length <= nd) return x;
  const next = x.d.charCodeAt(nd) - 48;
  let up: boolean;
  if (next > 5) up = true;
  else if (next < 5) up = false;
  else if (x.d.length > nd + 1) up = true; // more nonzero digits after the 5 (d has no trailing zeros)
  else up = nd > 0 && (x.d.charCodeAt(nd - 1) - 48) % 2 === 1; // exactly half: to even
  let d = x.d.slice(0, nd);
  let dp = x.dp;
  if (up) {
    let i = d.length - 1;
    while (i >= 0 && d[i] === '9') i--;
    if (i < 0) {
      d = '1';
      dp++;
    } else d = d.slice(0, i) + String.fromCharCode(d.charCodeAt(i) + 1);
  } else d = d.replace(/0+$/, '');
  return { d: d.replace(/0+$/, ''), dp: d === '' ? 0 : dp };
}

function digitAt(x: Digits, i: number): string {
  return i >= 0 && i < x.d.length ? x.d[i] : '0';
}

/** %e with prec digits after the point (x already rounded to prec+1 digits). */
function fmtE(x: Digits, prec: number, e: 'e' | 'E'): string {
  let s = x.d === '' ? '0' : x.d[0];
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) s += digitAt(x, i);
  }
  const exp = x.d === '' ? 0 : x.dp - 1;
  const ae = Math.abs(exp);
  return `${s}${e}${exp < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`;
}

/** %f with prec digits after the point (x already rounded). */
function fmtF(x: Digits, prec: number): string {
  let s = '';
  if (x.dp > 0) for (let i = 0; i < x.dp; i++) s += digitAt(x, i);
  else s = '0';
  if (prec > 0) {
    s += '.';
    for (let i = 0; i < prec; i++) s += digitAt(x, x.dp + i);
  }
  return s;
}

/** strconv.FormatFloat(v, verb, prec, 64) for finite and non-finite v. */
export function formatFloat(v: number, verb: 'e' | 'E' | 'f' | 'F' | 'g' | 'G', prec: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const neg = v < 0 || Object.is(v, -0);
  const sign = neg ? '-' : '';
  const shortest = prec < 0;
  let x: Digits;
  switch (verb) {
    case 'e':
    case 'E': {
      if (shortest) {
        x = shortestDigits(v);
        prec = Math.max(x.d.length - 1, 0);
      } else x = roundDigits(exactDigits(v), prec + 1);
      return sign + fmtE(x, prec, verb);
    }
    case 'f':
    case 'F': {
      if (shortest) {
        x = shortestDigits(v);
        prec = Math.max(x.d.length - x.dp, 0);
      } else x = roundDigits(exactDigits(v), exactDigits(v).dp + prec);
      return sign + fmtF(x, prec);
    }
    default: {
      let eprec: number;
      if (shortest) {
        x = shortestDigits(v);
        prec = x.d.length;
        eprec = 6;
      } else {
        if (prec === 0) prec = 1;
        x = roundDigits(exactDigits(v), prec);
        eprec = prec;
        if (eprec > x.d.length && x.d.length >= x.dp) eprec = x.d.length;
      }
      const exp = x.dp - 1; // -1 for zero, as strconv has it: zero is printed as %f
      if (exp < -4 || exp >= eprec) {
        if (prec > x.d.length) prec = x.d.length;
        return sign + fmtE(x, Math.max(prec - 1, 0), verb === 'G' ? 'E' : 'e');
      }
      if (prec > x.dp) prec = x.d.length;
      return sign + fmtF(x, Math.max(prec - x.dp, 0));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Quoting (strconv.Quote and friends).

function isPrintRune(cp: number): boolean {
  if (cp === 0x20) return true;
  // unicode.IsPrint: letters, marks, numbers, punctuation and symbols; no other spaces, no controls.
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(String.fromCodePoint(cp));
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** strconv.Quote (asciiOnly: QuoteToASCII). */
export function goQuote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x22) out += '\\"';
    else if (cp === 0x5c) out += '\\\\';
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd'; // lone surrogate: not valid UTF-8
    else if (asciiOnly ? cp >= 0x20 && cp < 0x7f : isPrintRune(cp)) out += ch;
    else {
      const short: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };
      if (short[cp]) out += short[cp];
      else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
      else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
      else out += `\\U${hex(cp, 8)}`;
    }
  }
  return out + '"';
}

function goQuoteRune(cp: number, asciiOnly = false): string {
  if (cp === 0x27) return "'\\''";
  if (cp === 0x22) return `'"'`;
  const q = goQuote(String.fromCodePoint(cp), asciiOnly);
  return `'${q.slice(1, -1)}'`;
}

function canBackquote(s: string): boolean {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x60 || cp === 0xfeff) return false;
    if (cp < 0x20 && cp !== 9) return false;
    if (cp === 0x7f) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Printing with a verb (fmt's pp).

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width?: number;
  prec?: number;
}

const NO_SPEC: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false };

function runeLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, spec: Spec, zeroOk = true): string {
  if (spec.width === undefined) return s;
  const n = spec.width - runeLen(s);
  if (n <= 0) return s;
  if (spec.minus) return s + ' '.repeat(n);
  if (spec.zero && zeroOk) {
    // The sign stays in front of the zeros.
    const m = /^[+\- ]/.exec(s);
    if (m) return m[0] + '0'.repeat(n) + s.slice(1);
    return '0'.repeat(n) + s;
  }
  return ' '.repeat(n) + s;
}

function badVerb(verb: string, v: unknown): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(v)}=${sprintValue(v, 'v', NO_SPEC)})`;
}

function fmtInteger(n: bigint, verb: string, spec: Spec): string {
  const neg = n < 0n;
  const a = neg ? -n : n;
  let digits: string;
  let prefix = '';
  switch (verb) {
    case 'd':
    case 'v':
      digits = a.toString(10);
      break;
    case 'b':
      digits = a.toString(2);
      if (spec.sharp) prefix = '0b';
      break;
    case 'o':
    case 'O':
      digits = a.toString(8);
      if (verb === 'O') prefix = '0o';
      else if (spec.sharp && digits !== '0') prefix = '0';
      break;
    case 'x':
      digits = a.toString(16);
      if (spec.sharp) prefix = '0x';
      break;
    case 'X':
      digits = a.toString(16).toUpperCase();
      if (spec.sharp) prefix = '0X';
      break;
    default:
      digits = a.toString(10);
  }
  if (spec.prec !== undefined) {
    if (spec.prec === 0 && a === 0n) digits = '';
    else digits = digits.padStart(spec.prec, '0');
  }
  const sign = neg ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  const body = prefix + digits;
  if (spec.zero && !spec.minus && spec.prec === undefined && spec.width !== undefined) {
    const n2 = spec.width - sign.length - body.length;
    if (n2 > 0) return sign + prefix + '0'.repeat(n2) + digits;
  }
  return pad(sign + body, spec, false);
}

/** The # flag on a float: always a decimal point, and %g keeps its trailing zeros (to 6 digits by default). */
function sharpFloat(num: string, verb: string, prec: number | undefined): string {
  let digits = verb === 'v' || verb === 'g' || verb === 'G' ? (prec ?? 6) : 0;
  let tail = '';
  const e = num.search(/[eE]/);
  if (e >= 0) {
    tail = num.slice(e);
    num = num.slice(0, e);
  }
  let hasPoint = false;
  let sawNonzero = false;
  for (let i = 0; i < num.length; i++) {
    const c = num[i];
    if (c === '-' || c === '+') continue;
    if (c === '.') {
      hasPoint = true;
      continue;
    }
    if (c !== '0') sawNonzero = true;
    if (sawNonzero) digits--;
  }
  if (!hasPoint) {
    if (num.replace(/^[+-]/, '') === '0') digits--;
    num += '.';
  }
  while (digits > 0) {
    num += '0';
    digits--;
  }
  return num + tail;
}

function fmtFloatVerb(v: number, verb: string, spec: Spec): string {
  let s: string;
  const prec = spec.prec;
  switch (verb) {
    case 'v':
    case 'g':
    case 'G':
      s = formatFloat(v, verb === 'G' ? 'G' : 'g', prec ?? -1);
      break;
    case 'e':
    case 'E':
      s = formatFloat(v, verb, prec ?? 6);
      break;
    case 'f':
    case 'F':
      s = formatFloat(v, 'f', prec ?? 6);
      break;
    default:
      return badVerb(verb, v);
  }
  if (s === '+Inf' || s === '-Inf' || s === 'NaN') {
    if (s === '+Inf' && !spec.plus) s = spec.space ? ' Inf' : 'Inf';
    return pad(s, spec, false);
  }
  if (spec.sharp) s = sharpFloat(s, verb, prec);
  if (!s.startsWith('-')) {
    if (spec.plus) s = '+' + s;
    else if (spec.space) s = ' ' + s;
  }
  return pad(s, spec, true);
}

function fmtString(s: string, verb: string, spec: Spec): string {
  if (spec.prec !== undefined && (verb === 's' || verb === 'v' || verb === 'q')) {
    const chars = Array.from(s);
    if (chars.length > spec.prec) s = chars.slice(0, spec.prec).join('');
  }
  switch (verb) {
    case 's':
    case 'v':
      return pad(s, spec, true);
    case 'q':
      if (spec.sharp && canBackquote(s)) return pad('`' + s + '`', spec, true);
      return pad(goQuote(s, spec.plus), spec, true);
    case 'x':
    case 'X': {
      let bytes = Buffer.from(s, 'utf8');
      if (spec.prec !== undefined && bytes.length > spec.prec) bytes = bytes.subarray(0, spec.prec);
      const parts = [...bytes].map((b) => {
        const h = hex(b, 2);
        return verb === 'X' ? h.toUpperCase() : h;
      });
      const px = spec.sharp ? (verb === 'X' ? '0X' : '0x') : '';
      const out = spec.space ? parts.map((p) => px + p).join(' ') : px + parts.join('');
      return pad(out, spec, true);
    }
    default:
      return badVerb(verb, s);
  }
}

/** One value printed with a verb, as fmt's printArg/printValue. */
export function sprintValue(v: unknown, verb: string, spec: Spec = NO_SPEC, depth = 0): string {
  if (v === undefined || v === null) {
    if (verb === 'v' || verb === 'T') return pad('<nil>', spec, false);
    return badVerb(verb, v);
  }
  if (verb === 'T') return pad(goTypeName(v), spec, false);
  if (v instanceof GoNil) return verb === 'v' || verb === 's' ? pad(v.printed, spec, false) : badVerb(verb, v);
  const str = stringerOf(v);
  if (str !== undefined) {
    if (verb === 'v' || verb === 's' || verb === 'q' || verb === 'x' || verb === 'X') return fmtString(str, verb, spec);
  }
  if (v instanceof GoFloat) return verb === 'v' && spec.sharp ? pad(formatFloat(v.value, 'g', -1), spec, false) : fmtFloatVerb(v.value, verb, spec);
  if (verb === 'v' && spec.sharp) return pad(goSyntax(v), { ...spec, sharp: false }, false);
  switch (typeof v) {
    case 'boolean':
      if (verb === 't' || verb === 'v') return pad(String(v), spec, false);
      return badVerb(verb, v);
    case 'bigint':
    case 'number': {
      if (typeof v === 'number' && !Number.isInteger(v)) return fmtFloatVerb(v, verb, spec);
      const n = BigInt(v);
      switch (verb) {
        case 'v':
          if (spec.sharp && depth === 0) return fmtInteger(n, 'd', spec);
          return fmtInteger(n, 'd', spec);
        case 'd':
        case 'b':
        case 'o':
        case 'O':
        case 'x':
        case 'X':
          return fmtInteger(n, verb, spec);
        case 'c':
          return pad(String.fromCodePoint(Number(n) >= 0 && Number(n) <= 0x10ffff ? Number(n) : 0xfffd), spec, false);
        case 'q':
          return pad(goQuoteRune(Number(n) >= 0 && Number(n) <= 0x10ffff ? Number(n) : 0xfffd, spec.plus), spec, false);
        case 'U': {
          const u = `U+${hex(Number(n), 4).toUpperCase()}`;
          return pad(spec.sharp ? `${u} '${String.fromCodePoint(Number(n))}'` : u, spec, false);
        }
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
          return badVerb(verb, v);
        default:
          return badVerb(verb, v);
      }
    }
    case 'string':
      if (verb === 'v' && spec.sharp) return pad(goQuote(v), spec, false);
      return fmtString(v, verb, spec);
    case 'function':
      return verb === 'v' || verb === 'p' ? '0x1' : badVerb(verb, v);
  }
  if (Buffer.isBuffer(v)) {
    if (verb === 's' || verb === 'q' || verb === 'x' || verb === 'X') return fmtString(v.toString('latin1'), verb, spec);
    return `[${[...v].map((b) => sprintValue(b, verb, spec, depth + 1)).join(' ')}]`;
  }
  if (Array.isArray(v)) {
    return `[${v.map((e) => sprintValue(e, verb, spec, depth + 1)).join(' ')}]`;
  }
  if (v instanceof Date) return pad(v.toISOString(), spec, false);
  const info = goTypeInfo(v);
  if (info?.kind === 'struct') {
    const inner = `{${structValues(v).map((e) => sprintValue(e, verb, spec, depth + 1)).join(' ')}}`;
    return depth === 0 && info.name.startsWith('*') ? `&${inner}` : inner;
  }
  const m = v as Record<string, unknown>;
  return `map[${sortedKeys(m)
    .map((k) => `${sprintValue(k, verb, spec, depth + 1)}:${sprintValue(m[k], verb, spec, depth + 1)}`)
    .join(' ')}]`;
}

/** %#v: a Go-syntax representation (strings quoted, slices and maps with their types). */
function goSyntax(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (v instanceof GoFloat) return formatFloat(v.value, 'g', -1);
  switch (typeof v) {
    case 'string':
      return goQuote(v);
    case 'number':
      return Number.isInteger(v) ? String(v) : formatFloat(v, 'g', -1);
    case 'boolean':
    case 'bigint':
      return String(v);
  }
  if (Array.isArray(v)) return `${goTypeName(v)}{${v.map(goSyntax).join(', ')}}`;
  const info = goTypeInfo(v);
  if (info?.kind === 'struct') {
    const o = v as Record<string, unknown>;
    const fields = Object.keys(o).filter((k) => typeof o[k] !== 'function');
    return `${info.name.startsWith('*') ? '&' : ''}${info.name.replace(/^\*/, '')}{${fields.map((k) => `${k}:${goSyntax(o[k])}`).join(', ')}}`;
  }
  const m = v as Record<string, unknown>;
  return `${goTypeName(v)}{${sortedKeys(m)
    .map((k) => `${goQuote(k)}:${goSyntax(m[k])}`)
    .join(', ')}}`;
}

/** fmt.Sprint: operands printed with %v, a space between two operands when neither is a string. */
export function goSprint(args: unknown[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    const isString = typeof args[i] === 'string';
    if (i > 0 && !isString && typeof args[i - 1] !== 'string') out += ' ';
    out += sprintValue(args[i], 'v');
  }
  return out;
}

/** fmt.Sprintln: always a space between operands, and a newline. */
export function goSprintln(args: unknown[]): string {
  return args.map((a) => sprintValue(a, 'v')).join(' ') + '\n';
}

/** fmt.Sprintf with Go's verbs, flags, width, precision, `*` and explicit argument indexes. */
export function goSprintf(format: string, args: unknown[]): string {
  let out = '';
  let argNum = 0;
  let reordered = false;
  let goodArgNum = true;
  const n = format.length;
  let i = 0;
  const parseNum = (): number | undefined => {
    const start = i;
    while (i < n && format[i] >= '0' && format[i] <= '9') i++;
    return i > start ? Number(format.slice(start, i)) : undefined;
  };
  const argIndex = (): void => {
    // [n] selects argument n (1-based) for what follows.
    if (i < n && format[i] === '[') {
      reordered = true;
      const close = format.indexOf(']', i);
      const num = close < 0 ? NaN : Number(format.slice(i + 1, close));
      if (close < 0 || !Number.isInteger(num) || num < 1 || format.slice(i + 1, close) === '') {
        goodArgNum = false;
        i = close < 0 ? n : close + 1;
        return;
      }
      argNum = num - 1;
      i = close + 1;
    }
  };
  while (i < n) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const spec: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false };
    goodArgNum = true;
    flags: while (i < n) {
      switch (format[i]) {
        case '#':
          spec.sharp = true;
          break;
        case '0':
          spec.zero = !spec.minus;
          break;
        case '+':
          spec.plus = true;
          break;
        case '-':
          spec.minus = true;
          spec.zero = false;
          break;
        case ' ':
          spec.space = true;
          break;
        default:
          break flags;
      }
      i++;
    }
    argIndex();
    if (i < n && format[i] === '*') {
      i++;
      const a = args[argNum++];
      if (typeof a === 'number' && Number.isInteger(a)) {
        spec.width = Math.abs(a);
        if (a < 0) {
          spec.minus = true;
          spec.zero = false;
        }
      } else out += '%!(BADWIDTH)';
      argIndex();
    } else spec.width = parseNum();
    if (i < n && format[i] === '.') {
      i++;
      argIndex();
      if (i < n && format[i] === '*') {
        i++;
        const a = args[argNum++];
        if (typeof a === 'number' && Number.isInteger(a) && a >= 0) spec.prec = a;
        else out += '%!(BADPREC)';
        argIndex();
      } else spec.prec = parseNum() ?? 0;
    }
    if (i >= n) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (!goodArgNum) {
      out += `%!${verb}(BADINDEX)`;
      continue;
    }
    if (argNum >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const arg = args[argNum++];
    if (verb === 'w') out += sprintValue(arg, 'v', spec);
    else out += sprintValue(arg, verb, spec);
  }
  if (!reordered && argNum < args.length) {
    out += '%!(EXTRA ';
    out += args
      .slice(argNum)
      .map((a) => (a === null || a === undefined ? '<nil>' : `${goTypeName(a)}=${sprintValue(a, 'v')}`))
      .join(', ');
    out += ')';
  }
  return out;
}
