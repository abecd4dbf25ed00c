// What the TUI draws, as plain data: each pane's lines cut to its width, the legend and the status bar.
// Pure, and free of ink and React, so the first frame can be drawn from here before they have loaded
// (cli/tui/first-frame.ts) exactly as the app then draws it.
import { shortId } from '../../inspect/digest.js';
import type { StoreModel } from '../../inspect/model.js';
import type { TreeNode } from '../../inspect/tree.js';
import type { BackgroundState } from './background.js';
import { matchesSearch, treeRowKind, treeRowLabel, type LayerRow, type TreeRow } from './data.js';
import type { FileEntry } from './files-api.js';
import { createdByText, displayName, fit, scrollTop, size, spread, textWidth } from './text.js';

export interface Line {
  text: string;
  color?: string;
  dim?: boolean;
  bold?: boolean;
  inverse?: boolean;
  /** A loading row: a spinner before the text. */
  spinner?: boolean;
  /** Coloured pieces instead of one colour (the legend). */
  pieces?: Array<{ text: string; color?: string; dim?: boolean }>;
}

export type FileRow =
  | { kind: 'entry'; entry: FileEntry; depth: number; expanded: boolean }
  | { kind: 'loading'; depth: number }
  | { kind: 'error'; depth: number; text: string }
  | { kind: 'note'; text: string };


export const MARK: Record<string, { letter: string; color: string }> = {
  added: { letter: 'A', color: 'green' },
  changed: { letter: 'C', color: 'yellow' },
  deleted: { letter: 'D', color: 'red' },
};

export const KIND_COLOR: Record<string, string | undefined> = {
  dangling: 'yellow',
  intermediate: 'gray',
  shared: 'blue',
  container: 'cyan',
  orphan: 'red',
  tagged: undefined,
  other: 'gray',
};


/** Where the panes go on a terminal of `columns` × `rows`: the tree on top, layers and files below. */
export function layout(columns: number, rows: number) {
  const W = Math.max(20, columns);
  const H = Math.max(6, rows);
  const paneArea = H - 2;
  const imagesH = Math.max(2, Math.ceil(paneArea / 2));
  const bottomH = paneArea - imagesH;
  const layersW = Math.floor((W - 1) * 0.45);
  const filesW = W - 1 - layersW;
  return { W, H, paneArea, imagesH, bottomH, layersW, filesW, visible: { images: imagesH - 1, layers: bottomH - 1, files: bottomH - 1, overlay: paneArea - 1 } };
}

/** The files pane's title info: the view's totals once counted, else nothing. */
export function filesInfo(totals: { files: number; bytes: number } | null): string {
  return totals ? `${totals.files} files, ${size(totals.bytes)}` : '';
}

export function layersTitle(image: { id: string; repoTags: string[] } | null): string {
  return image ? `${image.repoTags[0] ?? shortId(image.id)}: size, images sharing it, created by` : '';
}

/** The images the tree's filter keeps (the search text, dangling only); null when nothing filters it. */
export function matchCount(tree: TreeNode[], searchText: string, danglingOnly: boolean): number | null {
  if (searchText.trim() === '' && !danglingOnly) return null;
  const kept = new Set<string>();
  const walk = (nodes: TreeNode[]) => {
    for (const n of nodes) {
      if (n.kind === 'image' && (!danglingOnly || n.dangling) && matchesSearch(n, searchText)) kept.add(n.id);
      walk(n.children);
    }
  };
  walk(tree);
  return kept.size;
}

/** What the images pane's title says after `[Images]`: the images, and how many the filter keeps of them. */
export function imagesInfo(total: number, matched: number | null, danglingOnly: boolean): string {
  return `${matched === null ? '' : `${matched} of `}${total} images${danglingOnly ? ', dangling only' : ''}`;
}

/** The images pane's one row when the filter keeps no image (null while it keeps some, or there is none). */
export function noMatchLine(rowCount: number, searchText: string, danglingOnly: boolean): Line | null {
  if (rowCount > 0) return null;
  const searching = searchText.trim() !== '';
  if (!searching && !danglingOnly) return null;
  const what = danglingOnly ? 'No dangling image' : 'No image';
  const how = [searching ? 'Esc clears the filter' : '', danglingOnly ? 'd shows every image' : ''].filter(Boolean).join(', ');
  return { text: `${what}${searching ? ` matches "${searchText}"` : ''} (${how})`, dim: true };
}

/** A pane: its title line (`[Title]` when focused), then the window of rows that keeps the selection in view. */
export function paneLines<R>(
  title: string,
  focused: boolean,
  info: string,
  rows: R[],
  selected: number,
  height: number,
  tops: Record<string, number>,
  name: string,
  draw: (row: R, selected: boolean) => Line,
): Line[] {
  const top = scrollTop(selected, tops[name] ?? 0, height, rows.length);
  tops[name] = top;
  const head = focused ? `[${title}]` : ` ${title} `;
  const lines: Line[] = [{ text: `${head}${info ? ` ${info}` : ''}`, bold: true, color: focused ? 'cyan' : undefined }];
  for (let i = top; i < Math.min(rows.length, top + height); i++) {
    const sel = i === selected;
    const line = draw(rows[i], sel && focused);
    const mark = sel && focused ? '> ' : '  ';
    lines.push({ ...line, text: mark + line.text, inverse: sel && focused ? true : line.inverse, bold: sel && !focused ? true : line.bold });
  }
  return lines;
}

export function treeLine(row: TreeRow, _selected: boolean, width: number, root: string): Line {
  const glyph = 'expandable' in row && row.expandable ? (row.expanded ? '- ' : '+ ') : '  ';
  const left = `${'  '.repeat(row.depth)}${glyph}${treeRowLabel(row, root)}`;
  const right = row.kind === 'image' || row.kind === 'layer' ? size(row.node.virtualSize) : row.kind === 'orphan' ? size(row.bytes) : '';
  const kind = treeRowKind(row);
  if (row.kind === 'note') return { text: left, dim: true, spinner: row.key === 'orphans:loading' };
  return { text: right ? spread(left, right, width) : left, color: KIND_COLOR[kind], bold: row.kind === 'group' };
}

export function layerLine(row: LayerRow, _selected: boolean, width: number): Line {
  const sizeText = row.empty ? '0B' : size(row.size);
  const shared = row.empty ? '' : String(row.sharedBy);
  const what = createdByText(row.createdBy) || (row.chainId ? shortId(row.chainId) : '');
  const text = `${sizeText.padStart(7)} ${shared.padStart(3)} ${row.missing ? `MISSING ${what}` : what}`;
  return { text: fit(text, width), dim: row.empty, color: row.empty ? 'gray' : row.missing ? 'red' : undefined };
}

export function fileLine(row: FileRow, _selected: boolean, width: number): Line {
  if (row.kind === 'note') return { text: row.text, dim: true };
  const indent = '  '.repeat(row.depth);
  if (row.kind === 'loading') return { text: `${' '.repeat(10)}${indent}loading…`, spinner: true, dim: true };
  if (row.kind === 'error') return { text: fit(`! ${' '.repeat(8)}${indent}error: ${row.text}`, width), color: 'red' };
  const e = row.entry;
  const mark = e.mark ? MARK[e.mark] : null;
  const isDir = e.kind === 'dir';
  const glyph = isDir && e.hasChildren ? (row.expanded ? '-' : '+') : ' ';
  const link = e.linkTarget ? ` ${e.kind === 'hardlink' ? '=>' : '->'} ${displayName(e.linkTarget)}` : '';
  const name = `${displayName(e.name)}${isDir ? '/' : ''}${e.opaque ? ' (opaque)' : ''}${link}`;
  const text = `${mark?.letter ?? ' '} ${size(e.size).padStart(7)} ${indent}${glyph}${name}`;
  return { text: fit(text, width), color: mark?.color };
}

export function legendLine(): Line {
  return {
    text: 'legend',
    pieces: [
      { text: 'legend: ', dim: true },
      { text: 'dangling', color: KIND_COLOR.dangling },
      { text: '  ' },
      { text: 'intermediate', color: KIND_COLOR.intermediate },
      { text: '  ' },
      { text: 'shared layer', color: KIND_COLOR.shared },
      { text: '  ' },
      { text: 'container', color: KIND_COLOR.container },
      { text: '  ' },
      { text: 'orphan', color: KIND_COLOR.orphan },
    ],
  };
}

export function statusLine(model: StoreModel | null, bg: Pick<BackgroundState, 'onDisk' | 'reclaimable'>, ui: { filter: string; searching: boolean; danglingOnly: boolean }, filterText: string, width: number): Line {
  const totals = model
    ? `${model.images.size} images  ${model.layers.size} layers  ${size(bg.onDisk)} on disk  ${size(bg.reclaimable)} reclaimable`
    : '… images  … layers  … on disk  … reclaimable';
  const flags = [ui.filter !== '' && !ui.searching ? `filter: ${filterText}` : '', ui.danglingOnly ? 'dangling only' : ''].filter(Boolean);
  const left = [totals, ...flags].join('  ');
  const help = '? help  q quit';
  // A narrow terminal closes the gaps before anything is cut.
  const text = textWidth(left) + 1 + help.length <= width ? spread(left, help, width) : spread([totals, ...flags].join(' ').replace(/ {2,}/g, ' '), '? help q quit', width);
  return { text, inverse: true };
}

