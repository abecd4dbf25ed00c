// A careful subset of Go's text/template (as built into the docker 20.10 CLI, Go 1.19): the lexer, parser
// and executor of actions, pipelines, variables, if/else if/range/with/break/continue, Go's truth and
// printing rules, Go's builtin functions and docker's (json, split, join, title, lower, upper, pad,
// truncate). Messages are Go's own words on one line, e.g.
//   template: :1: function "foo" not defined
//   template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type *formatter.imageContext
// Data are JS values seen as Go values (see go-fmt.ts): plain objects are Go maps (a missing key prints
// "<no value>"), objects marked with asStruct are structs (a missing field is an error), a function-valued
// property is a method (`{{.Label "k"}}` calls row.Label("k")).
import { StrataError } from '../native/errors.js';
import {
  GO_TYPE,
  GoFloat,
  GoNil,
  type GoTypeInfo,
  goQuote,
  goSprint,
  goSprintf,
  goSprintln,
  goTypeInfo,
  sprintValue,
  goTypeName,
  isGoMap,
  sortedKeys,
  typedNil,
} from './go-fmt.js';
import { goJsonEncode } from './go-json.js';

/** A template that cannot be parsed or executed, in Go's words. */
export class TemplateError extends StrataError {
  override name = 'TemplateError';
}

// ---------------------------------------------------------------------------------------------------------
// Go values.

export interface StructOptions {
  /** Fields tagged omitempty: JSON leaves them out when empty (false, 0, "", null, [], {}). */
  omitEmpty?: readonly string[];
  /** Go types of nil-able fields ("[]string", "map[string]string", "*T" or 'slice' | 'map' | 'pointer'):
   * a null there prints as Go prints that typed nil ("[]", "map[]", "<nil>"). */
  nilKinds?: Readonly<Record<string, string>>;
}

/** Mark obj as a Go struct of the given type: unknown fields are errors, %v prints {…}. */
export function asStruct<T extends object>(obj: T, typeName: string, opts: StructOptions = {}): T {
  const info: GoTypeInfo = { kind: 'struct', name: typeName, omitEmpty: opts.omitEmpty, nilKinds: opts.nilKinds };
  Object.defineProperty(obj, GO_TYPE, { value: info, enumerable: false, configurable: true });
  return obj;
}

/**
 * Mark obj as one of docker's formatter contexts (a row of images, ps, history, df): a struct whose
 * `{{json .}}` is the map of its zero-argument methods, keys sorted, HTML characters escaped.
 */
export function asFormatterContext<T extends object>(obj: T, typeName: string): T {
  Object.defineProperty(obj, GO_TYPE, {
    value: { kind: 'struct', name: typeName, formatterContext: true } satisfies GoTypeInfo,
    enumerable: false,
    configurable: true,
  });
  return obj;
}

/**
 * Mark obj as a Go map of the given type: json sorts its keys, `index` of a missing key gives zero
 * (e.g. asGoMap(labels, 'map[string]string', '') makes `{{index .Labels "x"}}` print "" as docker does).
 */
export function asGoMap<T extends object>(obj: T, typeName = 'map[string]string', zero: unknown = ''): T {
  Object.defineProperty(obj, GO_TYPE, { value: { kind: 'map', name: typeName, zero } satisfies GoTypeInfo, enumerable: false, configurable: true });
  return obj;
}

export { GoFloat, GoNil, GO_STRINGER, goQuote } from './go-fmt.js';

// ---------------------------------------------------------------------------------------------------------
// Lexer (text/template/parse/lex.go behaviour).

type ItemType =
  | 'error'
  | 'bool'
  | 'char'
  | 'charConstant'
  | 'assign'
  | 'declare'
  | 'EOF'
  | 'field'
  | 'identifier'
  | 'leftDelim'
  | 'leftParen'
  | 'number'
  | 'pipe'
  | 'rawString'
  | 'rightDelim'
  | 'rightParen'
  | 'space'
  | 'string'
  | 'text'
  | 'variable'
  // keywords
  | 'block'
  | 'break'
  | 'continue'
  | 'dot'
  | 'define'
  | 'else'
  | 'end'
  | 'if'
  | 'nil'
  | 'range'
  | 'template'
  | 'with';

const KEYWORDS: Record<string, ItemType> = {
  '.': 'dot',
  block: 'block',
  break: 'break',
  continue: 'continue',
  define: 'define',
  else: 'else',
  end: 'end',
  if: 'if',
  range: 'range',
  nil: 'nil',
  template: 'template',
  with: 'with',
};
const KEYWORD_TYPES = new Set(Object.values(KEYWORDS));

interface Item {
  typ: ItemType;
  pos: number;
  val: string;
  line: number;
}

function goRuneName(r: string): string {
  const cp = r.codePointAt(0)!;
  const u = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(r) ? `${u} '${r}'` : u;
}

/** item.String() in Go: how the parser names a token in "unexpected X in Y". */
function itemString(i: Item): string {
  if (i.typ === 'EOF') return 'EOF';
  if (i.typ === 'error') return i.val;
  if (KEYWORD_TYPES.has(i.typ)) return `<${i.val}>`;
  if (Array.from(i.val).length > 10) return `${goQuote(Array.from(i.val).slice(0, 10).join('')).slice(0, -1)}"...`;
  return goQuote(i.val);
}

const SPACE_CHARS = ' \t\r\n';
const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlphaNumeric = (c: string | undefined) => c !== undefined && (c === '_' || /^[\p{L}\p{Nd}]$/u.test(c));

function lex(input: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  let line = 1;
  let startLine = 1;
  let parenDepth = 0;
  const L = '{{';
  const R = '}}';

  const emit = (typ: ItemType) => {
    items.push({ typ, pos: start, val: input.slice(start, pos), line: startLine });
    line += countNewlines(input.slice(start, pos));
    start = pos;
    startLine = line;
  };
  const ignore = () => {
    line += countNewlines(input.slice(start, pos));
    start = pos;
    startLine = line;
  };
  const errorf = (msg: string) => {
    items.push({ typ: 'error', pos: start, val: msg, line: startLine });
  };
  const next = (): string | undefined => {
    if (pos >= input.length) {
      pos++; // so that backup() works after EOF
      return undefined;
    }
    const cp = input.codePointAt(pos)!;
    const ch = String.fromCodePoint(cp);
    pos += ch.length;
    return ch;
  };
  // A single-step backup over the last rune read.
  const backupOver = (ch: string | undefined) => {
    pos -= ch === undefined ? 1 : ch.length;
  };
  const peek = (): string | undefined => (pos < input.length ? String.fromCodePoint(input.codePointAt(pos)!) : undefined);
  const hasLeftTrim = (s: string) => s.length >= 2 && s[0] === '-' && isSpace(s[1]);
  const hasRightTrim = (s: string) => s.length >= 2 && isSpace(s[0]) && s[1] === '-';
  const atRightDelim = (): { delim: boolean; trim: boolean } => {
    if (hasRightTrim(input.slice(pos)) && input.startsWith(R, pos + 2)) return { delim: true, trim: true };
    if (input.startsWith(R, pos)) return { delim: true, trim: false };
    return { delim: false, trim: false };
  };
  const atTerminator = (): boolean => {
    const r = peek();
    if (r === undefined || isSpace(r)) return true;
    if ('.,|:)('.includes(r)) return true;
    return input.startsWith(R, pos);
  };
  const leftTrimLength = (s: string) => s.length - s.replace(new RegExp(`^[${SPACE_CHARS}]+`), '').length;

  type State = (() => State) | null;

  const lexText = (): State => {
    const x = input.indexOf(L, pos);
    if (x >= 0) {
      if (x > pos) {
        pos = x;
        let trimLength = 0;
        if (hasLeftTrim(input.slice(pos + L.length))) {
          const text = input.slice(start, pos);
          trimLength = text.length - text.replace(/[ \t\r\n]+$/, '').length;
        }
        pos -= trimLength;
        if (pos > start) emit('text');
        pos += trimLength;
        ignore();
      }
      return lexLeftDelim;
    }
    pos = input.length;
    if (pos > start) emit('text');
    emit('EOF');
    return null;
  };

  const lexLeftDelim = (): State => {
    pos += L.length;
    const trim = hasLeftTrim(input.slice(pos));
    const after = trim ? 2 : 0;
    if (input.startsWith('/*', pos + after)) {
      pos += after;
      ignore();
      return lexComment;
    }
    emit('leftDelim');
    pos += after;
    ignore();
    parenDepth = 0;
    return lexInsideAction;
  };

  const lexComment = (): State => {
    pos += 2;
    const x = input.indexOf('*/', pos);
    if (x < 0) {
      errorf('unclosed comment');
      return null;
    }
    pos = x + 2;
    const { delim, trim } = atRightDelim();
    if (!delim) {
      errorf('comment ends before closing delimiter');
      return null;
    }
    if (trim) pos += 2;
    pos += R.length;
    if (trim) pos += leftTrimLength(input.slice(pos));
    ignore();
    return lexText;
  };

  const lexRightDelim = (): State => {
    const trim = hasRightTrim(input.slice(pos));
    if (trim) {
      pos += 2;
      ignore();
    }
    pos += R.length;
    emit('rightDelim');
    if (trim) {
      pos += leftTrimLength(input.slice(pos));
      ignore();
    }
    return lexText;
  };

  const lexInsideAction = (): State => {
    const { delim } = atRightDelim();
    if (delim) {
      if (parenDepth === 0) return lexRightDelim;
      errorf('unclosed left paren');
      return null;
    }
    const r = next();
    if (r === undefined) {
      errorf('unclosed action');
      return null;
    }
    if (isSpace(r)) {
      backupOver(r);
      return lexSpace;
    }
    switch (r) {
      case '=':
        emit('assign');
        return lexInsideAction;
      case ':':
        if (next() !== '=') {
          errorf('expected :=');
          return null;
        }
        emit('declare');
        return lexInsideAction;
      case '|':
        emit('pipe');
        return lexInsideAction;
      case '"':
        return lexQuote;
      case '`':
        return lexRawQuote;
      case '$':
        return lexVariable;
      case "'":
        return lexChar;
      case '(':
        emit('leftParen');
        parenDepth++;
        return lexInsideAction;
      case ')':
        emit('rightParen');
        parenDepth--;
        if (parenDepth < 0) {
          errorf(`unexpected right paren ${goRuneName(r)}`);
          return null;
        }
        return lexInsideAction;
    }
    if (r === '.') {
      const c = input[pos];
      if (pos < input.length && (c < '0' || c > '9')) return lexField;
    }
    if (r === '.' || r === '+' || r === '-' || (r >= '0' && r <= '9')) {
      backupOver(r);
      return lexNumber;
    }
    if (isAlphaNumeric(r)) {
      backupOver(r);
      return lexIdentifier;
    }
    const cp = r.codePointAt(0)!;
    if (cp <= 0x7f && cp >= 0x20 && cp !== 0x7f) {
      emit('char');
      return lexInsideAction;
    }
    errorf(`unrecognized character in action: ${goRuneName(r)}`);
    return null;
  };

  const lexSpace = (): State => {
    let numSpaces = 0;
    while (isSpace(peek())) {
      next();
      numSpaces++;
    }
    // A space may be the start of a trim-marked right delimiter " -}}".
    if (hasRightTrim(input.slice(pos - 1)) && input.startsWith(R, pos - 1 + 2)) {
      pos--;
      if (numSpaces === 1) return lexRightDelim;
    }
    emit('space');
    return lexInsideAction;
  };

  const lexIdentifier = (): State => {
    for (;;) {
      const r = next();
      if (isAlphaNumeric(r)) continue;
      backupOver(r);
      const word = input.slice(start, pos);
      if (!atTerminator()) {
        errorf(`bad character ${goRuneName(r ?? '')}`);
        return null;
      }
      const kw = KEYWORDS[word];
      if (kw) emit(kw);
      else if (word === 'true' || word === 'false') emit('bool');
      else emit('identifier');
      return lexInsideAction;
    }
  };

  const lexFieldOrVariable = (typ: 'field' | 'variable'): State => {
    if (atTerminator()) {
      emit(typ === 'variable' ? 'variable' : 'dot');
      return lexInsideAction;
    }
    let r: string | undefined;
    for (;;) {
      r = next();
      if (!isAlphaNumeric(r)) {
        backupOver(r);
        break;
      }
    }
    if (!atTerminator()) {
      errorf(`bad character ${goRuneName(r ?? '')}`);
      return null;
    }
    emit(typ);
    return lexInsideAction;
  };
  const lexField = (): State => lexFieldOrVariable('field');
  const lexVariable = (): State => {
    if (atTerminator()) {
      emit('variable');
      return lexInsideAction;
    }
    return lexFieldOrVariable('variable');
  };

  const lexChar = (): State => {
    for (;;) {
      const r = next();
      if (r === '\\') {
        const e = next();
        if (e !== undefined && e !== '\n') continue;
      }
      if (r === '\\' || r === undefined || r === '\n') {
        errorf('unterminated character constant');
        return null;
      }
      if (r === "'") break;
    }
    emit('charConstant');
    return lexInsideAction;
  };

  const scanNumber = (): boolean => {
    const accept = (valid: string) => {
      const r = next();
      if (r !== undefined && valid.includes(r)) return true;
      backupOver(r);
      return false;
    };
    const acceptRun = (valid: string) => {
      for (;;) {
        const r = next();
        if (r === undefined || !valid.includes(r)) {
          backupOver(r);
          return;
        }
      }
    };
    accept('+-');
    let digits = '0123456789_';
    if (accept('0')) {
      if (accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (accept('oO')) digits = '01234567_';
      else if (accept('bB')) digits = '01_';
    }
    acceptRun(digits);
    if (accept('.')) acceptRun(digits);
    if (digits.length === 11 && accept('eE')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    if (digits.length === 23 && accept('pP')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    accept('i');
    if (isAlphaNumeric(peek())) {
      next();
      return false;
    }
    return true;
  };

  const lexNumber = (): State => {
    if (!scanNumber()) {
      errorf(`bad number syntax: ${goQuote(input.slice(start, pos))}`);
      return null;
    }
    const sign = peek();
    if (sign === '+' || sign === '-') {
      // A complex constant (1+2i); not supported beyond the lexer's check.
      if (!scanNumber() || input[pos - 1] !== 'i') {
        errorf(`bad number syntax: ${goQuote(input.slice(start, pos))}`);
        return null;
      }
    }
    emit('number');
    return lexInsideAction;
  };

  const lexQuote = (): State => {
    for (;;) {
      const r = next();
      if (r === '\\') {
        const e = next();
        if (e !== undefined && e !== '\n') continue;
        errorf('unterminated quoted string');
        return null;
      }
      if (r === undefined || r === '\n') {
        errorf('unterminated quoted string');
        return null;
      }
      if (r === '"') break;
    }
    emit('string');
    return lexInsideAction;
  };

  const lexRawQuote = (): State => {
    for (;;) {
      const r = next();
      if (r === undefined) {
        errorf('unterminated raw quoted string');
        return null;
      }
      if (r === '`') break;
    }
    emit('rawString');
    return lexInsideAction;
  };

  let state: State = lexText;
  while (state) state = state();
  if (items.length === 0 || (items[items.length - 1].typ !== 'EOF' && items[items.length - 1].typ !== 'error')) {
    items.push({ typ: 'EOF', pos: input.length, val: '', line });
  }
  return items;
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Parse tree (text/template/parse/node.go shapes).

interface TextNode {
  type: 'text';
  pos: number;
  text: string;
}
interface ActionNode {
  type: 'action';
  pos: number;
  line: number;
  pipe: PipeNode;
}
interface PipeNode {
  type: 'pipe';
  pos: number;
  line: number;
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
interface CommandNode {
  type: 'command';
  pos: number;
  args: ArgNode[];
}
interface FieldNode {
  type: 'field';
  pos: number;
  ident: string[];
}
interface VariableNode {
  type: 'variable';
  pos: number;
  ident: string[];
}
interface ChainNode {
  type: 'chain';
  pos: number;
  node: ArgNode;
  field: string[];
}
interface IdentifierNode {
  type: 'identifier';
  pos: number;
  ident: string;
}
interface DotNode {
  type: 'dot';
  pos: number;
}
interface NilNode {
  type: 'nil';
  pos: number;
}
interface BoolNode {
  type: 'bool';
  pos: number;
  value: boolean;
}
interface NumberNode {
  type: 'number';
  pos: number;
  text: string;
  value: number | GoFloat;
  isInt: boolean;
  isFloat: boolean;
}
interface StringNode {
  type: 'string';
  pos: number;
  quoted: string;
  text: string;
}
type ArgNode = FieldNode | VariableNode | ChainNode | IdentifierNode | DotNode | NilNode | BoolNode | NumberNode | StringNode | PipeNode;

interface ListNode {
  type: 'list';
  pos: number;
  nodes: Node[];
}
interface BranchNode {
  type: 'if' | 'range' | 'with';
  pos: number;
  line: number;
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | null;
}
interface LoopControlNode {
  type: 'break' | 'continue';
  pos: number;
  line: number;
}
interface EndNode {
  type: 'end';
  pos: number;
}
interface ElseNode {
  type: 'else';
  pos: number;
  line: number;
}
interface TemplateNode {
  type: 'template';
  pos: number;
  line: number;
  name: string;
  pipe: PipeNode | null;
}
type Node = TextNode | ActionNode | BranchNode | LoopControlNode | ListNode | TemplateNode;

/** node.String() in Go, used in "executing … at <…>". */
function nodeString(n: ArgNode | CommandNode): string {
  switch (n.type) {
    case 'field':
      return n.ident.map((i) => `.${i}`).join('');
    case 'variable':
      return n.ident.join('.');
    case 'chain': {
      const inner = n.node.type === 'pipe' ? `(${nodeString(n.node)})` : nodeString(n.node);
      return inner + n.field.map((f) => `.${f}`).join('');
    }
    case 'identifier':
      return n.ident;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(n.value);
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
    case 'command':
      return n.args.map((a) => (a.type === 'pipe' ? `(${nodeString(a)})` : nodeString(a))).join(' ');
    case 'pipe': {
      const decl = n.decl.length ? `${n.decl.map((d) => nodeString(d)).join(', ')} ${n.isAssign ? '=' : ':='} ` : '';
      return decl + n.cmds.map((c) => nodeString(c)).join(' | ');
    }
  }
}

export interface Template {
  readonly text: string;
  readonly root: ListNode;
  /** Templates named by {{define}} and {{block}}. */
  readonly defs: ReadonlyMap<string, ListNode>;
}

// ---------------------------------------------------------------------------------------------------------
// Functions: Go's builtins and docker's (cli/templates basicFunctions), with their Go signatures, so that
// argument checks and messages are Go's.

type ParamType = 'any' | 'value' | 'string' | 'int' | '[]string' | 'bool';

interface GoFunc {
  params: ParamType[];
  /** The last parameter repeats (Go's ...T). */
  variadic?: boolean;
  /** Returns a value, or throws FuncError for Go's (value, error) results. */
  fn: (...args: unknown[]) => unknown;
}

/** An error returned by a function: "error calling NAME: MESSAGE". */
class FuncError extends Error {}

const MISSING = Symbol('missing'); // no value (Go's invalid reflect.Value)
/** A nil held in an interface{} (a null in a plain object or array): a pipeline ending in it prints <no value>. */
const NIL_IFACE = Symbol('nil interface');

/** What a value of a map or []interface{} is, seen through the interface. */
function ifaceElem(container: unknown, v: unknown): unknown {
  if (v !== null) return v;
  if (Array.isArray(container)) return goTypeName(container) === '[]interface {}' || container.every((e) => e === null) ? NIL_IFACE : v;
  const info = goTypeInfo(container);
  return info === undefined || info.name.endsWith('interface {}') ? NIL_IFACE : v;
}

export type FuncMap = Record<string, GoFunc>;

function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === MISSING || v === NIL_IFACE || v instanceof GoNil) return false;
  if (v instanceof GoFloat) return v.value !== 0;
  switch (typeof v) {
    case 'string':
      return v.length > 0;
    case 'number':
      return v !== 0;
    case 'bigint':
      return v !== 0n;
    case 'boolean':
      return v;
    case 'function':
      return true;
  }
  if (Array.isArray(v)) return v.length > 0;
  if (Buffer.isBuffer(v)) return v.length > 0;
  if (goTypeInfo(v)?.kind === 'struct') return true;
  return Object.keys(v as object).length > 0;
}

type BasicKind = 'invalid' | 'bool' | 'int' | 'float' | 'string' | 'other';

function basicKind(v: unknown): BasicKind {
  if (v === undefined || v === null || v === MISSING || v === NIL_IFACE) return 'invalid';
  if (v instanceof GoFloat) return 'float';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float';
    case 'bigint':
      return 'int';
    case 'string':
      return 'string';
  }
  return 'other';
}

function isNilLike(v: unknown): boolean {
  return v === undefined || v === null || v === MISSING || v === NIL_IFACE;
}

/** eq as Go 1.19: kinds compared first ("incompatible types"), then values; slices and maps are not comparable. */
function goEq(a: unknown, ...bs: unknown[]): boolean {
  if (bs.length === 0) throw new FuncError('missing argument for comparison');
  const k1 = basicKind(a);
  for (const b of bs) {
    const k2 = basicKind(b);
    let t = false;
    if (k1 !== k2) {
      if (!isNilLike(a) && !isNilLike(b)) throw new FuncError('incompatible types for comparison');
    } else if (k1 === 'invalid') t = true;
    else if (a instanceof GoNil || b instanceof GoNil) t = isNilLike(a) || isNilLike(b) || (a instanceof GoNil && b instanceof GoNil);
    else if (k1 === 'other') {
      const comparable = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && goTypeInfo(v)?.kind === 'struct';
      if (goTypeName(a) !== goTypeName(b)) {
        throw new FuncError(`non-comparable types ${goSprint([a])}: ${goTypeName(a)}, ${goTypeName(b)}: ${goSprint([b])}`);
      }
      if (!comparable(b)) throw new FuncError(`non-comparable type ${goSprint([b])}: ${goTypeName(b)}`);
      t = a === b;
    } else if (k1 === 'int' || k1 === 'float') t = Number(a) === Number(b);
    else t = a === b; // same kind: string, bool
    if (t) return true;
  }
  return false;
}

function goLt(a: unknown, b: unknown): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'invalid' || k1 === 'other' || k1 === 'bool' || k2 === 'invalid' || k2 === 'other' || k2 === 'bool') {
    throw new FuncError('invalid type for comparison');
  }
  if (k1 !== k2) throw new FuncError('incompatible types for comparison');
  return (a as number | string) < (b as number | string);
}

/** The type name once Go has followed the pointer (len and index say "formatter.imageContext"). */
function elemTypeName(v: unknown): string {
  return goTypeName(v).replace(/^\*/, '');
}

function goLen(v: unknown): number {
  if (v === null || v === undefined || v === MISSING) throw new FuncError('len of nil pointer');
  if (v instanceof GoNil) {
    if (v.typeName.startsWith('[]') || v.typeName.startsWith('map[')) return 0;
    throw new FuncError('len of nil pointer');
  }
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (Array.isArray(v) || Buffer.isBuffer(v)) return v.length;
  if (isGoMap(v)) return Object.keys(v).length;
  throw new FuncError(`len of type ${elemTypeName(v)}`);
}

function indexArg(i: unknown, cap: number): number {
  if (i === undefined || i === null || i === MISSING) throw new FuncError('cannot index slice/array with nil');
  if (typeof i !== 'number' || !Number.isInteger(i)) throw new FuncError(`cannot index slice/array with type ${goTypeName(i)}`);
  if (i < 0 || i > cap) throw new FuncError(`index out of range: ${i}`);
  return i;
}

function goIndex(item: unknown, ...indexes: unknown[]): unknown {
  if (item === undefined || item === null || item === MISSING) throw new FuncError('index of untyped nil');
  let cur: unknown = item;
  for (const index of indexes) {
    if (cur === null || cur === undefined || cur === NIL_IFACE) throw new FuncError('index of nil pointer');
    if (cur instanceof GoNil) {
      if (cur.typeName.startsWith('map[')) {
        cur = null;
        continue;
      }
      throw new FuncError(cur.typeName.startsWith('[]') ? `index out of range: ${String(index)}` : 'index of nil pointer');
    }
    if (typeof cur === 'string') {
      const bytes = Buffer.from(cur, 'utf8');
      const x = indexArg(index, bytes.length);
      if (x === bytes.length) throw new FuncError(`index out of range: ${x}`);
      cur = bytes[x];
    } else if (Array.isArray(cur) || Buffer.isBuffer(cur)) {
      const x = indexArg(index, cur.length);
      if (x === cur.length) throw new FuncError(`index out of range: ${x}`);
      cur = Buffer.isBuffer(cur) ? cur[x] : ifaceElem(cur, cur[x]);
    } else if (isGoMap(cur)) {
      if (typeof index !== 'string') {
        const keyType = /^map\[([^\]]+)\]/.exec(goTypeName(cur))?.[1] ?? 'string';
        if (index === undefined || index === null || index === MISSING) throw new FuncError(`value is nil; should be of type ${keyType}`);
        throw new FuncError(`value has type ${goTypeName(index)}; should be ${keyType}`);
      }
      cur = Object.prototype.hasOwnProperty.call(cur, index) ? ifaceElem(cur, cur[index]) : ifaceElem(cur, goTypeInfo(cur)?.zero ?? null);
    } else throw new FuncError(`can't index item of type ${elemTypeName(cur)}`);
  }
  return cur;
}

function goSlice(item: unknown, ...indexes: unknown[]): unknown {
  if (item === undefined || item === null || item === MISSING) throw new FuncError('slice of untyped nil');
  if (indexes.length > 3) throw new FuncError(`too many slice indexes: ${indexes.length}`);
  let len: number;
  if (typeof item === 'string') {
    if (indexes.length === 3) throw new FuncError('cannot 3-index slice a string');
    len = Buffer.byteLength(item, 'utf8');
  } else if (Array.isArray(item) || Buffer.isBuffer(item)) len = item.length;
  else throw new FuncError(`can't slice item of type ${elemTypeName(item)}`);
  const idx = [0, len];
  for (let i = 0; i < indexes.length; i++) {
    idx[i] = indexArg(indexes[i], len);
  }
  if (idx[0] > idx[1]) throw new FuncError(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1] > idx[2]) throw new FuncError(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (typeof item === 'string') return Buffer.from(item, 'utf8').subarray(idx[0], idx[1]).toString('utf8');
  return (item as unknown[]).slice(idx[0], idx[1]);
}

function evalArgsString(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return goSprint(args);
}

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => ({ '\0': '\uFFFD', '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '\\':
        out += '\\\\';
        continue;
      case "'":
        out += "\\'";
        continue;
      case '"':
        out += '\\"';
        continue;
      case '<':
        out += '\\u003C';
        continue;
      case '>':
        out += '\\u003E';
        continue;
      case '&':
        out += '\\u0026';
        continue;
      case '=':
        out += '\\u003D';
        continue;
    }
    if (cp < 0x20) out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    else if (cp < 0x80 || /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch)) out += ch;
    else out += cp < 0x10000 ? `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}` : `\\U${cp.toString(16).toUpperCase().padStart(8, '0')}`;
  }
  return out;
}

function urlQueryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Go's simple case mapping per rune (JS's full mapping would turn ß into SS). */
function mapRunes(s: string, f: (c: string) => string): string {
  let out = '';
  for (const ch of s) {
    const m = f(ch);
    out += Array.from(m).length === 1 ? m : ch;
  }
  return out;
}

/** strings.Title: the first letter of each word upper-cased (title case). */
function goTitle(s: string): string {
  const isSeparator = (r: string): boolean => {
    const cp = r.codePointAt(0)!;
    if (cp <= 0x7f) return !/[0-9a-zA-Z_]/.test(r);
    if (/^[\p{L}\p{Nd}\p{Nl}\p{No}]$/u.test(r)) return false;
    return /^\s$/u.test(r);
  };
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isSeparator(prev) ? mapRunes(ch, (c) => c.toUpperCase()) : ch;
    prev = ch;
  }
  return out;
}

/** strings.Split (an empty separator splits after each UTF-8 sequence). */
function goSplit(s: string, sep: string): string[] {
  if (sep === '') return Array.from(s);
  return s.split(sep);
}

/** truncate cuts bytes, as docker's truncateWithLength slices a Go string. */
function goTruncate(s: string, length: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length < length) return s;
  if (length < 0) throw new FuncError(`runtime error: slice bounds out of range [:${length}]`);
  return b.subarray(0, length).toString('utf8');
}

function builtinFuncs(): FuncMap {
  return {
    and: { params: ['value', 'value'], variadic: true, fn: () => undefined }, // special-cased: short circuit
    or: { params: ['value', 'value'], variadic: true, fn: () => undefined },
    not: { params: ['value'], fn: (a) => !truth(a) },
    call: {
      params: ['value', 'value'],
      variadic: true,
      fn: (f, ...args) => {
        if (f === undefined || f === null || f === MISSING) throw new FuncError('call of nil');
        if (typeof f !== 'function') throw new FuncError(`non-function of type ${goTypeName(f)}`);
        return (f as (...a: unknown[]) => unknown)(...args);
      },
    },
    html: { params: ['any'], variadic: true, fn: (...a) => htmlEscape(evalArgsString(a)) },
    js: { params: ['any'], variadic: true, fn: (...a) => jsEscape(evalArgsString(a)) },
    urlquery: { params: ['any'], variadic: true, fn: (...a) => urlQueryEscape(evalArgsString(a)) },
    index: { params: ['value', 'value'], variadic: true, fn: goIndex },
    slice: { params: ['value', 'value'], variadic: true, fn: goSlice },
    len: { params: ['value'], fn: goLen },
    print: { params: ['any'], variadic: true, fn: (...a) => goSprint(a) },
    printf: { params: ['string', 'any'], variadic: true, fn: (f, ...a) => goSprintf(f as string, a) },
    println: { params: ['any'], variadic: true, fn: (...a) => goSprintln(a) },
    eq: { params: ['value', 'value'], variadic: true, fn: (a, ...b) => goEq(a, ...b) },
    ne: { params: ['value', 'value'], fn: (a, b) => !goEq(a, b) },
    lt: { params: ['value', 'value'], fn: (a, b) => goLt(a, b) },
    le: { params: ['value', 'value'], fn: (a, b) => goLt(a, b) || goEq(a, b) },
    gt: { params: ['value', 'value'], fn: (a, b) => !goLt(a, b) && !goEq(a, b) },
    ge: { params: ['value', 'value'], fn: (a, b) => !goLt(a, b) },
  };
}

/** docker/cli templates.basicFunctions. */
function dockerFuncs(): FuncMap {
  return {
    json: { params: ['any'], fn: (v) => goJsonEncode(v === MISSING ? null : v, { escapeHTML: false }) },
    split: { params: ['string', 'string'], fn: (s, sep) => goSplit(s as string, sep as string) },
    join: { params: ['[]string', 'string'], fn: (a, sep) => (a as string[]).join(sep as string) },
    title: { params: ['string'], fn: (s) => goTitle(s as string) },
    lower: { params: ['string'], fn: (s) => mapRunes(s as string, (c) => c.toLowerCase()) },
    upper: { params: ['string'], fn: (s) => mapRunes(s as string, (c) => c.toUpperCase()) },
    pad: { params: ['string', 'int', 'int'], fn: (s, p, q) => ((s as string) === '' ? '' : ' '.repeat(Math.max(0, p as number)) + s + ' '.repeat(Math.max(0, q as number))) },
    truncate: { params: ['string', 'int'], fn: (s, n) => goTruncate(s as string, n as number) },
  };
}

/**
 * docker/cli templates.HeaderFunctions: while a table's header line is rendered, these replace docker's
 * functions and give back the header text untouched.
 */
export function dockerHeaderFuncs(): FuncMap {
  return {
    json: { params: ['string'], fn: (v) => v },
    split: { params: ['string', 'string'], fn: (v) => v },
    join: { params: ['string', 'string'], fn: (v) => v },
    title: { params: ['string'], fn: (v) => v },
    lower: { params: ['string'], fn: (v) => v },
    upper: { params: ['string'], fn: (v) => v },
    pad: { params: ['string', 'int', 'int'], fn: (v) => v },
    truncate: { params: ['string', 'int'], fn: (v) => v },
  };
}

const BUILTINS = builtinFuncs();
const DOCKER_FUNCS = dockerFuncs();

// ---------------------------------------------------------------------------------------------------------
// Parser (text/template/parse/parse.go behaviour).

class Parser {
  private i = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private actionLine = 0;

  constructor(
    private readonly items: Item[],
    private readonly funcs: FuncMap,
  ) {}

  private get lastLine(): number {
    return this.items[Math.max(0, this.i - 1)]?.line ?? 1;
  }

  errorf(msg: string): never {
    throw new TemplateError(`template: :${this.lastLine}: ${msg}`);
  }

  private next(): Item {
    const it = this.items[Math.min(this.i, this.items.length - 1)];
    this.i++;
    return it;
  }
  private backup(n = 1): void {
    this.i -= n;
  }
  private peek(): Item {
    return this.items[Math.min(this.i, this.items.length - 1)];
  }
  private nextNonSpace(): Item {
    let t: Item;
    do t = this.next();
    while (t.typ === 'space');
    return t;
  }
  private peekNonSpace(): Item {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }

  private unexpected(token: Item, context: string): never {
    if (token.typ === 'error') {
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== token.line) {
        extra = ` in action started at :${this.actionLine}`;
        if (token.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      this.errorf(`${token.val}${extra}`);
    }
    this.errorf(`unexpected ${itemString(token)} in ${context}`);
  }

  private expect(typ: ItemType, context: string): Item {
    const t = this.nextNonSpace();
    if (t.typ !== typ) this.unexpected(t, context);
    return t;
  }

  readonly defs = new Map<string, ListNode>();

  parse(): ListNode {
    const root: ListNode = { type: 'list', pos: this.peek().pos, nodes: [] };
    while (this.peek().typ !== 'EOF') {
      if (this.peek().typ === 'leftDelim') {
        const mark = this.i;
        this.next();
        if (this.nextNonSpace().typ === 'define') {
          this.definition();
          continue;
        }
        this.i = mark;
      }
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') this.errorf(`unexpected {{${n.type}}}`);
      root.nodes.push(n);
    }
    return root;
  }

  private templateName(token: Item, context: string): string {
    if (token.typ !== 'string' && token.typ !== 'rawString') this.unexpected(token, context);
    return this.unquote(token);
  }

  /** A body of its own: {{define}} and {{block}} start with only $ and outside any range. */
  private namedBody(name: string, context: string): void {
    const saved = { vars: this.vars, rangeDepth: this.rangeDepth };
    this.vars = ['$'];
    this.rangeDepth = 0;
    try {
      const { list, next } = this.itemList();
      if (next.type !== 'end') this.errorf(`unexpected {{${next.type}}} in ${context}`);
      this.defs.set(name, list);
    } finally {
      this.vars = saved.vars;
      this.rangeDepth = saved.rangeDepth;
    }
  }

  private definition(): void {
    const context = 'define clause';
    const name = this.templateName(this.nextNonSpace(), context);
    this.expect('rightDelim', context);
    this.namedBody(name, context);
  }

  private templateControl(context: 'template clause' | 'block clause'): TemplateNode {
    const token = this.nextNonSpace();
    const name = this.templateName(token, context);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().typ !== 'rightDelim') {
      this.backup();
      pipe = this.pipeline(context, 'rightDelim');
    }
    if (context === 'block clause') this.namedBody(name, context);
    return { type: 'template', pos: token.pos, line: token.line, name, pipe };
  }

  private itemList(): { list: ListNode; next: EndNode | ElseNode } {
    const list: ListNode = { type: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().typ !== 'EOF') {
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') return { list, next: n };
      list.nodes.push(n);
    }
    this.errorf('unexpected EOF');
  }

  private textOrAction(): Node | EndNode | ElseNode {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case 'text':
        return { type: 'text', pos: token.pos, text: token.val };
      case 'leftDelim': {
        this.actionLine = token.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      }
      default:
        this.unexpected(token, 'input');
    }
  }

  private action(): Node | EndNode | ElseNode {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case 'break':
      case 'continue':
        return this.loopControl(token);
      case 'else':
        return this.elseControl();
      case 'end':
        return { type: 'end', pos: this.expect('rightDelim', 'end').pos };
      case 'if':
        return this.branch('if', true);
      case 'range':
        return this.branch('range', false);
      case 'with':
        return this.branch('with', false);
      case 'block':
        return this.templateControl('block clause');
      case 'template':
        return this.templateControl('template clause');
    }
    this.backup();
    const t = this.peek();
    return { type: 'action', pos: t.pos, line: t.line, pipe: this.pipeline('command', 'rightDelim') };
  }

  private loopControl(token: Item): LoopControlNode {
    const t = this.nextNonSpace();
    if (t.typ !== 'rightDelim') this.unexpected(t, `{{${token.val}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${token.val}}} outside {{range}}`);
    return { type: token.typ as 'break' | 'continue', pos: token.pos, line: token.line };
  }

  private elseControl(): ElseNode {
    const p = this.peekNonSpace();
    if (p.typ === 'if') return { type: 'else', pos: p.pos, line: p.line };
    const t = this.expect('rightDelim', 'else');
    return { type: 'else', pos: t.pos, line: t.line };
  }

  private branch(kind: 'if' | 'range' | 'with', allowElseIf: boolean): BranchNode {
    const mark = this.vars.length;
    try {
      const pipe = this.pipeline(kind, 'rightDelim');
      if (kind === 'range') this.rangeDepth++;
      const { list, next } = this.itemList();
      if (kind === 'range') this.rangeDepth--;
      let elseList: ListNode | null = null;
      if (next.type === 'else') {
        if (allowElseIf && this.peek().typ === 'if') {
          // {{else if x}} is {{else}}{{if x}}…{{end}}{{end}} with one {{end}}.
          this.next();
          elseList = { type: 'list', pos: next.pos, nodes: [this.branch('if', true)] };
        } else {
          const r = this.itemList();
          elseList = r.list;
          if (r.next.type !== 'end') this.errorf(`expected end; found {{${r.next.type}}}`);
        }
      }
      return { type: kind, pos: pipe.pos, line: pipe.line, pipe, list, elseList };
    } finally {
      this.vars.length = mark;
    }
  }

  private pipeline(context: string, end: ItemType): PipeNode {
    const token = this.peekNonSpace();
    const pipe: PipeNode = { type: 'pipe', pos: token.pos, line: token.line, isAssign: false, decl: [], cmds: [] };
    // Declarations: $x := …, $x = …, range $i, $e := …
    decls: for (;;) {
      const v = this.peekNonSpace();
      if (v.typ !== 'variable') break;
      this.nextNonSpace();
      const afterVariable = this.peek();
      const next = this.peekNonSpace();
      if (next.typ === 'assign' || next.typ === 'declare') {
        pipe.isAssign = next.typ === 'assign';
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        this.vars.push(v.val);
      } else if (next.typ === 'char' && next.val === ',') {
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const p = this.peekNonSpace().typ;
          if (p === 'variable' || p === 'rightDelim' || p === 'rightParen') continue decls;
          this.errorf('range can only initialize variables');
        }
        this.errorf(`too many declarations in ${context}`);
      } else if (afterVariable.typ === 'space') {
        // "$x foo": $x is an argument; push back the variable and the space
        this.backup(2);
      } else this.backup();
      break;
    }
    for (;;) {
      const t = this.nextNonSpace();
      if (t.typ === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      switch (t.typ) {
        case 'bool':
        case 'charConstant':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(t, context);
      }
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    pipe.cmds.slice(1).forEach((c, i) => {
      const t = c.args[0].type;
      if (t === 'bool' || t === 'dot' || t === 'nil' || t === 'number' || t === 'string') {
        this.errorf(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { type: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const t = this.next();
      if (t.typ === 'space') continue;
      if (t.typ === 'rightDelim' || t.typ === 'rightParen') this.backup();
      else if (t.typ !== 'pipe') this.unexpected(t, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  private operand(): ArgNode | null {
    const node = this.term();
    if (!node) return null;
    if (this.peek().typ === 'field') {
      const pos = this.peek().pos;
      const fields: string[] = [];
      while (this.peek().typ === 'field') fields.push(this.next().val.slice(1));
      switch (node.type) {
        case 'field':
          return { type: 'field', pos, ident: [...node.ident, ...fields] };
        case 'variable':
          return { type: 'variable', pos, ident: [...node.ident, ...fields] };
        case 'bool':
        case 'string':
        case 'number':
        case 'nil':
        case 'dot':
          this.errorf(`unexpected . after term ${goQuote(nodeString(node))}`);
        // falls through (errorf throws)
        default:
          return { type: 'chain', pos, node, field: fields };
      }
    }
    return node;
  }

  private term(): ArgNode | null {
    const t = this.nextNonSpace();
    switch (t.typ) {
      case 'identifier':
        if (!Object.prototype.hasOwnProperty.call(this.funcs, t.val)) this.errorf(`function ${goQuote(t.val)} not defined`);
        return { type: 'identifier', pos: t.pos, ident: t.val };
      case 'dot':
        return { type: 'dot', pos: t.pos };
      case 'nil':
        return { type: 'nil', pos: t.pos };
      case 'variable': {
        const ident = t.val.split('.');
        if (!this.vars.includes(ident[0])) this.errorf(`undefined variable ${goQuote(ident[0])}`);
        return { type: 'variable', pos: t.pos, ident };
      }
      case 'field':
        return { type: 'field', pos: t.pos, ident: [t.val.slice(1)] };
      case 'bool':
        return { type: 'bool', pos: t.pos, value: t.val === 'true' };
      case 'charConstant':
      case 'number':
        return this.number(t);
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString':
        return { type: 'string', pos: t.pos, quoted: t.val, text: this.unquote(t) };
    }
    this.backup();
    return null;
  }

  private number(t: Item): NumberNode {
    if (t.typ === 'charConstant') {
      const s = this.unquoteChar(t.val);
      return { type: 'number', pos: t.pos, text: t.val, value: s, isInt: true, isFloat: true };
    }
    const text = t.val;
    if (text.endsWith('i')) this.errorf(`complex constants are not supported: ${text}`);
    const clean = text.replace(/_/g, '');
    let value: number;
    let isInt = false;
    const intMatch = /^[+-]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[0-9]+)$/.exec(clean);
    if (intMatch) {
      const neg = clean.startsWith('-');
      let body = clean.replace(/^[+-]/, '');
      if (/^0[0-7]+$/.test(body)) body = '0o' + body.slice(1);
      value = Number(body) * (neg ? -1 : 1);
      isInt = Number.isSafeInteger(value);
    } else {
      value = Number(clean);
      if (Number.isNaN(value) || clean === '' || clean === '.' || clean === '+' || clean === '-') this.errorf(`illegal number syntax: ${goQuote(text)}`);
      isInt = Number.isInteger(value) && !/[.eEpP]/.test(clean);
    }
    return { type: 'number', pos: t.pos, text, value: !isInt && Number.isInteger(value) ? new GoFloat(value) : value, isInt, isFloat: true };
  }

  private unquoteChar(q: string): number {
    const s = this.unquoteGo(`"${q.slice(1, -1).replace(/"/g, '\\"')}"`);
    const cps = Array.from(s ?? '');
    if (s === undefined || cps.length !== 1) this.errorf(`malformed character constant: ${q}`);
    return cps[0].codePointAt(0)!;
  }

  private unquote(t: Item): string {
    if (t.typ === 'rawString') return t.val.slice(1, -1).replace(/\r/g, '');
    const s = this.unquoteGo(t.val);
    if (s === undefined) this.errorf('invalid syntax');
    return s;
  }

  /** strconv.Unquote of a double-quoted Go string. */
  private unquoteGo(q: string): string | undefined {
    const body = q.slice(1, -1);
    let out = '';
    const bytes: number[] = [];
    const flush = () => {
      if (bytes.length) {
        out += Buffer.from(bytes).toString('utf8');
        bytes.length = 0;
      }
    };
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (c !== '\\') {
        flush();
        out += c;
        continue;
      }
      const e = body[++i];
      const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
      if (e in simple) {
        flush();
        out += simple[e];
      } else if (e === 'x') {
        const h = body.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) return undefined;
        bytes.push(parseInt(h, 16));
        i += 2;
      } else if (e >= '0' && e <= '7') {
        const o = body.slice(i, i + 3);
        if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) return undefined;
        bytes.push(parseInt(o, 8));
        i += 2;
      } else if (e === 'u' || e === 'U') {
        const n = e === 'u' ? 4 : 8;
        const h = body.slice(i + 1, i + 1 + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) return undefined;
        const cp = parseInt(h, 16);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
        flush();
        out += String.fromCodePoint(cp);
        i += n;
      } else return undefined;
    }
    flush();
    return out;
  }
}

export interface ParseOptions {
  /** Functions added to (or replacing) Go's and docker's. */
  funcs?: FuncMap;
}

/** Parse a template: Go's text/template with docker's functions. Throws TemplateError in Go's words. */
export function parseTemplate(text: string, opts: ParseOptions = {}): Template {
  const funcs = { ...BUILTINS, ...DOCKER_FUNCS, ...opts.funcs };
  const parser = new Parser(lex(text), funcs);
  const root = parser.parse();
  return { text, root, defs: parser.defs };
}

// ---------------------------------------------------------------------------------------------------------
// Executor (text/template/exec.go behaviour).

class BreakSignal {}
class ContinueSignal {}

/** A value and whether Go would see it through an interface{} (an element of a map or []interface{}). */
interface Val {
  v: unknown;
}

export interface ExecuteOptions {
  /** Functions replacing docker's for this execution (e.g. dockerHeaderFuncs() for a table header). */
  funcs?: FuncMap;
  /** On an error, return what was written so far instead of throwing (docker ignores header errors). */
  partialOnError?: boolean;
  /**
   * Go's Option("missingkey=…"): 'default' prints "<no value>" for a missing map key; 'error' stops with
   * `map has no entry for key "K"` (docker inspect's second try, over the raw JSON, runs so).
   */
  missingKey?: 'default' | 'error';
}

class Executor {
  private out: string[] = [];
  private vars: { name: string; value: unknown }[] = [];
  private node: { pos: number; str: string } | null = null;

  constructor(
    private readonly tmpl: Template,
    private readonly funcs: FuncMap,
    private readonly missingKey: 'default' | 'error' = 'default',
  ) {}

  run(data: unknown): string {
    this.vars = [{ name: '$', value: data }];
    this.walk(data, this.tmpl.root);
    return this.out.join('');
  }

  written(): string {
    return this.out.join('');
  }

  private at(n: ArgNode | CommandNode | null): void {
    this.node = n ? { pos: n.pos, str: nodeString(n) } : null;
  }

  errorf(msg: string): never {
    if (!this.node) throw new TemplateError(`template: : ${msg}`);
    const text = this.tmpl.text.slice(0, this.node.pos);
    const nl = text.lastIndexOf('\n');
    const col = nl < 0 ? this.node.pos : this.node.pos - (nl + 1);
    const line = 1 + countNewlines(text);
    const context = this.node.str;
    throw new TemplateError(`template: :${line}:${col}: executing "" at <${context}>: ${msg}`);
  }

  private walk(dot: unknown, node: Node): void {
    switch (node.type) {
      case 'text':
        this.out.push(node.text);
        return;
      case 'list':
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case 'action': {
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node.pipe, val);
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        try {
          const val = this.evalPipeline(dot, node.pipe);
          if (truth(val)) this.walk(node.type === 'with' ? val : dot, node.list);
          else if (node.elseList) this.walk(dot, node.elseList);
        } finally {
          this.vars.length = mark;
        }
        return;
      }
      case 'range':
        this.walkRange(dot, node);
        return;
      case 'template':
        this.walkTemplate(dot, node);
        return;
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
    }
  }

  private depth = 0;

  private walkTemplate(dot: unknown, t: TemplateNode): void {
    const str = `{{template ${goQuote(t.name)}${t.pipe ? ` ${nodeString(t.pipe)}` : ''}}}`;
    this.node = { pos: t.pos, str };
    const list = this.tmpl.defs.get(t.name);
    if (!list) this.errorf(`template ${goQuote(t.name)} not defined`);
    const value = t.pipe ? this.evalPipeline(dot, t.pipe) : null;
    if (this.depth >= MAX_TEMPLATE_DEPTH) {
      this.node = { pos: t.pos, str };
      this.errorf(`exceeded maximum template depth (${MAX_TEMPLATE_DEPTH})`);
    }
    const saved = this.vars;
    this.vars = [{ name: '$', value }];
    this.depth++;
    try {
      this.walk(value === MISSING ? null : value, list);
    } catch (e) {
      // JS's stack ran out before the depth limit: the same error, at this call.
      if (e instanceof RangeError) {
        this.node = { pos: t.pos, str };
        this.errorf(`exceeded maximum template depth (${MAX_TEMPLATE_DEPTH})`);
      }
      throw e;
    } finally {
      this.depth--;
      this.vars = saved;
    }
  }

  private walkRange(dot: unknown, r: BranchNode): void {
    this.at(null);
    const mark = this.vars.length;
    try {
      const val = this.evalPipeline(dot, r.pipe);
      const markIter = this.vars.length;
      const one = (index: unknown, elem: unknown): boolean => {
        const d = r.pipe.decl;
        if (d.length > 0) {
          if (r.pipe.isAssign) {
            if (d.length > 1) {
              this.setVar(d[0].ident[0], index);
              this.setVar(d[1].ident[0], elem);
            } else this.setVar(d[0].ident[0], elem);
          } else {
            this.vars[this.vars.length - 1].value = elem;
            if (d.length > 1) this.vars[this.vars.length - 2].value = index;
          }
        }
        try {
          this.walk(elem, r.list);
        } catch (e) {
          if (e instanceof BreakSignal) return false;
          if (!(e instanceof ContinueSignal)) throw e;
        } finally {
          this.vars.length = markIter;
        }
        return true;
      };
      let iterated = false;
      if (val === undefined || val === null || val === MISSING || val instanceof GoNil) {
        // a nil map or slice: nothing to do, not an error
      } else if (Array.isArray(val) || Buffer.isBuffer(val)) {
        for (let i = 0; i < val.length; i++) {
          iterated = true;
          if (!one(i, Buffer.isBuffer(val) ? val[i] : ifaceElem(val, val[i]))) break;
        }
      } else if (isGoMap(val)) {
        for (const k of sortedKeys(val)) {
          iterated = true;
          if (!one(k, ifaceElem(val, val[k]))) break;
        }
      } else if (typeof val === 'function') {
        this.errorf(`range can't iterate over ${goSprint([val])}`);
      } else {
        this.errorf(`range can't iterate over ${goSprint([val])}`);
      }
      if (!iterated && r.elseList) this.walk(dot, r.elseList);
    } finally {
      this.vars.length = mark;
    }
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i].name === name) {
        this.vars[i].value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    this.errorf(`undefined variable: ${name}`);
  }

  private evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    this.at(pipe);
    let value: unknown = MISSING_FINAL;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // Go digs the value out of an interface: a nil from a map becomes "no value".
      if (value === NIL_IFACE) value = MISSING;
    }
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0], value);
      else this.vars.push({ name: v.ident[0], value });
    }
    return value;
  }

  private notAFunction(args: ArgNode[], final: unknown): void {
    if (args.length > 1 || final !== MISSING_FINAL) this.errorf(`can't give argument to non-function ${nodeString(args[0])}`);
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: unknown): unknown {
    const first = cmd.args[0];
    switch (first.type) {
      case 'field':
        return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        this.errorf('nil is not a command');
      // falls through (errorf throws)
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
    }
  }

  private idealConstant(n: NumberNode): number | GoFloat {
    this.at(n);
    if (n.isInt && !Number.isSafeInteger(n.value as number)) this.errorf(`${n.text} overflows int`);
    return n.value;
  }

  private evalFieldNode(dot: unknown, field: FieldNode, args: ArgNode[], final: unknown): unknown {
    this.at(field);
    return this.evalFieldChain(dot, dot, field.ident, args, final, false);
  }

  private evalChainNode(dot: unknown, chain: ChainNode, args: ArgNode[], final: unknown): unknown {
    this.at(chain);
    if (chain.node.type === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const pipe = this.evalArg(dot, 'any', chain.node);
    return this.evalFieldChain(dot, pipe, chain.field, args, final, false);
  }

  private evalVariableNode(dot: unknown, v: VariableNode, args: ArgNode[], final: unknown): unknown {
    this.at(v);
    const value = this.varValue(v.ident[0]);
    if (v.ident.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v.ident.slice(1), args, final, false);
  }

  private evalFieldChain(dot: unknown, receiver: unknown, ident: string[], args: ArgNode[], final: unknown, viaIface: boolean): unknown {
    let iface = viaIface;
    for (let i = 0; i < ident.length - 1; i++) {
      const r = this.evalField(dot, ident[i], [], MISSING_FINAL, receiver, iface);
      iface = r.iface;
      receiver = r.v;
    }
    return this.evalField(dot, ident[ident.length - 1], args, final, receiver, iface).v;
  }

  /** .Name on receiver; iface: the receiver came out of a map or []interface{} (its static type is interface {}). */
  private evalField(dot: unknown, name: string, args: ArgNode[], final: unknown, receiver: unknown, iface: boolean): Val & { iface: boolean } {
    if (receiver === undefined || receiver === MISSING) {
      if (this.missingKey === 'error') this.errorf(`nil data; no entry for key ${goQuote(name)}`);
      return { v: MISSING, iface: false };
    }
    const typ = iface ? 'interface {}' : goTypeName(receiver);
    if (receiver === NIL_IFACE) this.errorf(`nil pointer evaluating interface {}.${name}`);
    if (receiver === null) this.errorf(`nil pointer evaluating ${typ}.${name}`);
    if (receiver instanceof GoNil) {
      if (receiver.typeName.startsWith('map[')) {
        if (this.missingKey === 'error') this.errorf(`map has no entry for key ${goQuote(name)}`);
        return { v: MISSING, iface: false };
      }
      this.errorf(`nil pointer evaluating ${receiver.typeName}.${name}`);
    }
    const hasArgs = args.length > 1 || final !== MISSING_FINAL;
    if (typeof receiver === 'object' && !Array.isArray(receiver) && !Buffer.isBuffer(receiver) && !(receiver instanceof GoFloat)) {
      const obj = receiver as Record<string, unknown>;
      const info = goTypeInfo(obj);
      // A map's keys are its own properties; a struct may also have getters and methods on its class.
      const own =
        Object.prototype.hasOwnProperty.call(obj, name) ||
        (info?.kind === 'struct' && name in obj && !(name in Object.prototype));
      const prop = own ? obj[name] : undefined;
      if (typeof prop === 'function') {
        const method = prop as (...a: unknown[]) => unknown;
        return { v: this.evalCall(dot, { params: paramsOf(method), fn: method.bind(obj) }, name, args, final, null), iface: false };
      }
      if (info?.kind === 'struct') {
        if (own) {
          if (prop === null) {
            const tn = typedNil(info, name);
            if (tn) return { v: tn, iface: false };
          }
          if (hasArgs && info.formatterContext) {
            // docker's contexts answer every field with a method of no arguments
            this.errorf(`wrong number of args for ${name}: want 0 got ${args.length - 1 + (final !== MISSING_FINAL ? 1 : 0)}`);
          }
          if (hasArgs) this.errorf(`${name} has arguments but cannot be invoked as function`);
          return { v: prop, iface: false };
        }
      } else {
        if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
        if (!Object.prototype.hasOwnProperty.call(obj, name)) {
          if (this.missingKey === 'error') this.errorf(`map has no entry for key ${goQuote(name)}`);
          return { v: MISSING, iface: false };
        }
        const isIface = info === undefined || info.name.endsWith('interface {}');
        return { v: ifaceElem(obj, prop), iface: isIface };
      }
    }
    this.errorf(`can't evaluate field ${name} in type ${typ}`);
  }

  private evalFunction(dot: unknown, node: IdentifierNode, cmd: CommandNode, args: ArgNode[], final: unknown): unknown {
    this.at(node);
    const name = node.ident;
    const f = this.funcs[name];
    if (!f) this.errorf(`"${name}" is not a defined function`);
    return this.evalCall(dot, f, name, args, final, cmd);
  }

  private evalCall(dot: unknown, f: GoFunc, name: string, allArgs: ArgNode[], final: unknown, cmd: CommandNode | null): unknown {
    const args = allArgs.slice(1);
    const numIn = args.length + (final !== MISSING_FINAL ? 1 : 0);
    let numFixed = args.length;
    if (f.variadic) {
      numFixed = f.params.length - 1;
      if (numIn < numFixed) this.errorf(`wrong number of args for ${name}: want at least ${numFixed} got ${args.length}`);
    } else if (numIn !== f.params.length) this.errorf(`wrong number of args for ${name}: want ${f.params.length} got ${numIn}`);
    // and/or short-circuit (Go 1.18+).
    if (cmd && (name === 'and' || name === 'or') && f === this.funcs[name] && f === BUILTINS[name]) {
      let v: unknown = MISSING;
      for (const a of args) {
        v = this.evalArg(dot, 'value', a);
        if (truth(v) === (name === 'or')) return v;
      }
      if (final !== MISSING_FINAL) v = final;
      return v;
    }
    const argv: unknown[] = [];
    let i = 0;
    for (; i < numFixed && i < args.length; i++) argv.push(this.evalArg(dot, f.params[i], args[i]));
    if (f.variadic) {
      const t = f.params[f.params.length - 1];
      for (; i < args.length; i++) argv.push(this.evalArg(dot, t, args[i]));
    }
    if (final !== MISSING_FINAL) {
      let t = f.params[f.params.length - 1];
      if (f.variadic && numIn - 1 < numFixed) t = f.params[numIn - 1];
      argv.push(this.validateType(final, t));
    }
    try {
      const r = f.fn(...argv.map((a) => (a === MISSING || a === NIL_IFACE ? null : a)));
      return r === undefined ? MISSING : r;
    } catch (e) {
      if (cmd) this.at(cmd);
      if (e instanceof FuncError) this.errorf(`error calling ${name}: ${e.message}`);
      if (e instanceof TemplateError) throw e;
      this.errorf(`error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private validateType(value: unknown, typ: ParamType): unknown {
    if (value === NIL_IFACE) {
      if (typ === 'any' || typ === 'value') return null;
      this.errorf(`wrong type for value; expected ${typ}; got interface {}`);
    }
    if (value === MISSING || value === undefined) {
      if (typ === 'any' || typ === 'value' || typ === '[]string') return typ === '[]string' ? [] : null;
      this.errorf(`invalid value; expected ${typ}`);
    }
    const got = goTypeName(value);
    switch (typ) {
      case 'any':
      case 'value':
        return value;
      case 'string':
        if (typeof value === 'string') return value;
        break;
      case 'int':
        if (typeof value === 'number' && Number.isInteger(value)) return value;
        break;
      case 'bool':
        if (typeof value === 'boolean') return value;
        break;
      case '[]string':
        if (value === null) return [];
        if (Array.isArray(value) && got === '[]string') return value;
        if (Array.isArray(value) && value.length === 0) return value;
        break;
    }
    this.errorf(`wrong type for value; expected ${typ}; got ${value === null ? 'interface {}' : got}`);
  }

  private evalArg(dot: unknown, typ: ParamType, n: ArgNode): unknown {
    this.at(n);
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, typ);
      case 'nil':
        if (typ === 'any' || typ === 'value' || typ === '[]string') return null;
        this.errorf(`cannot assign nil to ${typ}`);
      // falls through (errorf throws)
      case 'field':
        return this.validateType(this.evalFieldNode(dot, n, [n], MISSING_FINAL), typ);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, [], MISSING_FINAL), typ);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), typ);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, { type: 'command', pos: n.pos, args: [n] }, [n], MISSING_FINAL), typ);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, n, [], MISSING_FINAL), typ);
    }
    switch (typ) {
      case 'bool':
        if (n.type === 'bool') return n.value;
        this.errorf(`expected bool; found ${nodeString(n)}`);
      // falls through (errorf throws)
      case 'int':
        if (n.type === 'number' && n.isInt) return n.value;
        this.errorf(`expected integer; found ${nodeString(n)}`);
      // falls through (errorf throws)
      case 'string':
        if (n.type === 'string') return n.text;
        this.errorf(`expected string; found ${nodeString(n)}`);
      // falls through (errorf throws)
      case '[]string':
        this.errorf(`can't handle ${nodeString(n)} for arg of type []string`);
      // falls through (errorf throws)
      default:
        switch (n.type) {
          case 'bool':
            return n.value;
          case 'number':
            return this.idealConstant(n);
          case 'string':
            return n.text;
        }
    }
    return MISSING;
  }

  private printValue(n: PipeNode, v: unknown): void {
    this.at(n);
    if (v === MISSING || v === undefined) {
      this.out.push('<no value>');
      return;
    }
    if (typeof v === 'function') this.errorf(`can't print ${nodeString(n)} of type ${goTypeName(v)}`);
    // Go prints what a pointer points to: a struct as {…}, never &{…}.
    this.out.push(sprintValue(v, 'v', undefined, 1));
  }
}

const MISSING_FINAL = Symbol('no final value');
/** Go allows 100000 nested {{template}} calls; JS's stack allows fewer, so strata stops earlier. */
const MAX_TEMPLATE_DEPTH = 1000;

/** The parameter list a JS method presents to the template: one untyped parameter per declared argument. */
function paramsOf(f: (...a: unknown[]) => unknown): ParamType[] {
  return Array.from({ length: f.length }, () => 'any' as const);
}

/** Execute a parsed template over data. Throws TemplateError in Go's words. */
export function executeTemplate(t: Template, data: unknown, opts: ExecuteOptions = {}): string {
  const ex = new Executor(t, { ...BUILTINS, ...DOCKER_FUNCS, ...opts.funcs }, opts.missingKey);
  try {
    return ex.run(data);
  } catch (e) {
    if (e instanceof BreakSignal || e instanceof ContinueSignal) return ex.written();
    if (opts.partialOnError && e instanceof TemplateError) return ex.written();
    throw e;
  }
}

/** Parse and execute in one step. */
export function renderTemplate(text: string, data: unknown, opts: ExecuteOptions = {}): string {
  return executeTemplate(parseTemplate(text, { funcs: opts.funcs }), data, opts);
}
