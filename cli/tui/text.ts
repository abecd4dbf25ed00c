// Text helpers of the TUI: rows are cut and padded to their pane's width here, so that every frame is
// exactly the terminal's size and what a pane draws is plain data a test can compare.
import { isUtf8, utf8SequenceAt } from '../../native/names.js';
import { humanSize } from '../format.js';

/** Columns a code point takes: 2 for East Asian wide ones (the common ranges), 0 for combining marks. */
function charWidth(cp: number): number {
  if (cp < 0x300) return 1;
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

/** C0 and C1 controls and DEL: a name holding one could move the cursor. */
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

export function textWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += charWidth(ch.codePointAt(0)!);
  return w;
}

/** `text` cut to `width` columns (an ellipsis marks the cut) and padded with spaces to exactly `width`. */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  let w = 0;
  let out = '';
  const total = textWidth(text);
  if (total <= width) return text + ' '.repeat(width - total);
  for (const ch of text) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return out + '…' + ' '.repeat(Math.max(0, width - w - 1));
}

/**
 * `text` as rows of at most `width` columns, nothing dropped: a row breaks after its last space in its
 * second half, else at the width. The rows after the first start with `indent` columns of spaces (by
 * default the line's own indentation and two more, at most half the width); past that prefix, the rows
 * are the text's characters in order, so joined they give it back whole.
 */
export function wrap(text: string, width: number, indent?: number): string[] {
  if (width <= 0 || textWidth(text) <= width) return [text];
  const chars = [...text];
  const lead = text.length - text.trimStart().length;
  const more = ' '.repeat(Math.max(0, Math.min(indent ?? lead + 2, Math.floor(width / 2))));
  const out: string[] = [];
  let prefix = '';
  for (let at = 0; at < chars.length; ) {
    const room = width - prefix.length;
    let w = 0;
    let end = at;
    while (end < chars.length && w + charWidth(chars[end].codePointAt(0)!) <= room) w += charWidth(chars[end++].codePointAt(0)!);
    // A character wider than the room still goes somewhere.
    if (end === at) end = at + 1;
    if (end < chars.length && chars[end] !== ' ') {
      for (let i = end; i > at + Math.floor((end - at) / 2); i--) {
        if (chars[i - 1] === ' ') {
          end = i;
          break;
        }
      }
    }
    out.push(prefix + chars.slice(at, end).join(''));
    at = end;
    prefix = more;
  }
  return out;
}

/** `left` and `right` on one line of `width` columns, `right` flush right; `left` is cut first. */
export function spread(left: string, right: string, width: number): string {
  const rw = textWidth(right);
  if (rw + 1 >= width) return fit(right, width);
  return fit(left, width - rw - 1) + ' ' + right;
}

/** docker's human size (7.05MB); `…` while unknown. */
export function size(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? '…' : humanSize(bytes);
}

/**
 * A file name's bytes as text: valid UTF-8 as it is, control characters and bytes that are not UTF-8 as
 * \xNN escapes, so a hostile name cannot move the cursor or break a row.
 */
export function displayName(name: Buffer): string {
  const text = name.toString('utf8');
  if (isUtf8(name) && !CONTROL.test(text)) return text;
  let out = '';
  for (let i = 0; i < name.length; ) {
    const len = utf8SequenceAt(name, i);
    const decoded = len ? name.toString('utf8', i, i + len) : '';
    if (len === 0 || CONTROL.test(decoded)) {
      out += `\\x${name[i].toString(16).padStart(2, '0')}`;
      i += 1;
    } else {
      out += decoded;
      i += len;
    }
  }
  return out;
}

/** A history step's command as dive shows it: the shell's `#(nop)` prefix dropped, whitespace folded. */
export function createdByText(createdBy: string): string {
  return createdBy
    .replace(/^\/bin\/sh -c #\(nop\)\s*/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The first line of the scroll window that keeps `selected` visible, moving as little as it can. */
export function scrollTop(selected: number, previousTop: number, height: number, count: number): number {
  if (height <= 0 || count <= height) return 0;
  let top = Math.min(Math.max(previousTop, 0), count - height);
  if (selected < top) top = selected;
  else if (selected >= top + height) top = selected - height + 1;
  return Math.max(0, top);
}
