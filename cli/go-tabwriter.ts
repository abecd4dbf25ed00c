// Go's text/tabwriter as the docker CLI uses it (NewWriter(out, 10, 1, 3, ' ', 0)): tab-terminated cells,
// aligned in column blocks of consecutive lines that have a cell in that column; a column is as wide as its
// widest cell plus the padding, never narrower than minwidth; the last cell of a line is not aligned.

export interface TabwriterOptions {
  minwidth: number;
  padding: number;
  padchar?: string;
}

/** docker's settings (cli/command/formatter: tabwriter.NewWriter(output, 10, 1, 3, ' ', 0)). */
export const DOCKER_TABWRITER: TabwriterOptions = { minwidth: 10, padding: 3, padchar: ' ' };

interface Cell {
  text: string;
  width: number;
}

function runeCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff || i === 0 || s.charCodeAt(i - 1) < 0xd800 || s.charCodeAt(i - 1) > 0xdbff) n++;
  }
  return n;
}

/** Align text as Go's tabwriter would when all of it is written and then flushed. */
export function tabwrite(text: string, opts: TabwriterOptions = DOCKER_TABWRITER): string {
  const padchar = opts.padchar ?? ' ';
  const lines: Cell[][] = text.split('\n').map((l) => l.split('\t').map((t) => ({ text: t, width: runeCount(t) })));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i];
      let s = '';
      for (let j = 0; j < line.length; j++) {
        const c = line[j];
        s += c.text;
        if (j < widths.length) s += padchar.repeat(Math.max(0, widths[j] - c.width));
      }
      out.push(i + 1 === lines.length ? s : `${s}\n`);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t].length - 1) continue;
      // A cell exists in this column: a column block begins here.
      writeLines(line0, t);
      line0 = t;
      let width = opts.minwidth;
      for (; t < line1; t++) {
        const line = lines[t];
        if (column >= line.length - 1) break;
        const w = line[column].width + opts.padding;
        if (w > width) width = w;
      }
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('');
}
