// Stands in for the `string-width` package inside the bundle (esbuild --alias in package.json's build).
// yargs and cliui use it only to lay out --help text, but the package compiles several Unicode-property
// regular expressions (RGI_Emoji among them) and an Intl.Segmenter when it is imported: some 20 ms of every
// strata start-up. Here nothing is compiled until a width is first asked for, and the width is counted per
// code point: 0 for marks, format and control characters, 2 for East Asian wide and fullwidth ones.
import { eastAsianWidth } from 'get-east-asian-width';

let zeroWidth: RegExp | null = null;
let ansi: RegExp | null = null;

export default function stringWidth(text: string, options: { countAnsiEscapeCodes?: boolean } = {}): number {
  if (typeof text !== 'string' || text.length === 0) return 0;
  ansi ??= /[\u001B\u009B][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[-a-zA-Z\d/#&.:=?%@~_]*)*)?\u0007)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PR-TZcf-nq-uy=><~]))/g;
  zeroWidth ??= /[\p{Mn}\p{Me}\p{Cf}\p{Cc}\p{Default_Ignorable_Code_Point}]/u;
  const plain = options.countAnsiEscapeCodes ? text : text.replace(ansi, '');
  let width = 0;
  for (const ch of plain) {
    if (zeroWidth.test(ch)) continue;
    width += eastAsianWidth(ch.codePointAt(0)!);
  }
  return width;
}
