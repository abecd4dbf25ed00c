// The app's first frame as text with SGR colours, drawn as soon as the store is read, while ink and React
// are still loading: the same lines (cli/tui/screen.ts) the app draws in its own first frame over it.
import type { StorageDriver } from '../../drivers/types.js';
import { layerUsage } from '../../inspect/layers.js';
import type { FileEntry } from '../../inspect/layer-files.js';
import type { Image, StoreModel } from '../../inspect/model.js';
import type { TreeNode } from '../../inspect/tree.js';
import { containersByImage, layerRows, rowImage, treeRows } from './data.js';
import { fileLine, filesInfo, layerLine, layersTitle, layout, legendLine, paneLines, statusLine, treeLine, type FileRow, type Line } from './screen.js';
import { fit } from './text.js';

const COLORS: Record<string, number> = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, white: 37, gray: 90 };

function sgr(text: string, style: { color?: string; dim?: boolean; bold?: boolean; inverse?: boolean }): string {
  const codes = [style.bold ? 1 : 0, style.dim ? 2 : 0, style.inverse ? 7 : 0, style.color ? COLORS[style.color] ?? 0 : 0].filter(Boolean);
  return codes.length ? `\x1b[${codes.join(';')}m${text}\x1b[0m` : text;
}

function draw(line: Line, width: number): string {
  if (line.pieces) {
    let used = 0;
    let out = '';
    for (const p of line.pieces) {
      const piece = p.text.slice(0, Math.max(0, width - used));
      used += piece.length;
      out += sgr(piece, p);
    }
    return out + ' '.repeat(Math.max(0, width - used));
  }
  if (line.spinner) {
    const lead = line.text.match(/^(?:> )? */)![0];
    return sgr(`${lead}⠋ ${fit(line.text.slice(lead.length), Math.max(0, width - lead.length - 2))}`, line);
  }
  return sgr(fit(line.text, width), line);
}

const column = (lines: Line[], width: number, height: number): string[] =>
  Array.from({ length: height }, (_, i) => draw(lines[i] ?? { text: '' }, width));

/** The layer the app opens on (the tree's first row's image, its first layer), when it has files to list. */
export function firstLayer(model: StoreModel, tree: TreeNode[]): { image: Image; layerIndex: number } | null {
  // Only whether it has files to list: a layer whose directory is missing still lists its tar-split.
  const image = rowImage(model, treeRows(tree, containersByImage(model), null, new Set(), '', false)[0]);
  const first = image ? layerRows(model, image, layerUsage(model))[0] : undefined;
  return image && first && first.layerIndex !== null ? { image, layerIndex: first.layerIndex } : null;
}

/** The screen the app shows before any key: the tree's first rows selected at the top, its image's layers. */
export function firstFrame(
  model: StoreModel,
  tree: TreeNode[],
  columns: number,
  rows: number,
  haveFiles: boolean,
  driver: Pick<StorageDriver, 'exists'> | null = null,
  /** The first layer's top directory once listed (as the app shows it: nothing expanded), and its totals once counted. */
  firstFiles: { entries: FileEntry[] | null; totals: { files: number; bytes: number } | null } | null = null,
): string {
  const { W, imagesH, bottomH, layersW, filesW, visible } = layout(columns, rows);
  const tops: Record<string, number> = {};
  const treeRowsNow = treeRows(tree, containersByImage(model), null, new Set(), '', false);
  const image = rowImage(model, treeRowsNow[0]);
  const layers = image ? layerRows(model, image, layerUsage(model), driver) : [];
  const first = layers[0];
  // As the app: the files of a layer are read once the selection rests, so they are loading at first.
  const fileRows: FileRow[] = !image
    ? [{ kind: 'note', text: 'select an image' }]
    : !first
      ? [{ kind: 'note', text: 'no layers' }]
      : first.layerIndex === null
        ? [{ kind: 'note', text: 'empty layer: no files' }]
        : !haveFiles
          ? [{ kind: 'note', text: 'file listing is not available in this build' }]
          : !firstFiles?.entries
            ? [{ kind: 'loading', depth: 0 }]
            : firstFiles.entries.length === 0
              ? [{ kind: 'note', text: 'no files' }]
              : firstFiles.entries.map((entry) => ({ kind: 'entry', entry, depth: 0, expanded: false }));
  const images = paneLines('Images', true, `${model.images.size} images`, treeRowsNow, 0, visible.images, tops, 'images', (row, sel) => treeLine(row, sel, W - 2, model.root));
  const layerLines = paneLines('Layers', false, layersTitle(image), layers, 0, visible.layers, tops, 'layers', (row, sel) => layerLine(row, sel, layersW - 2));
  const files = paneLines('Files (layer)', false, filesInfo(firstFiles?.entries ? firstFiles.totals : null), fileRows, 0, visible.files, tops, 'files', (row, sel) => fileLine(row, sel, filesW - 2));
  const left = column(layerLines, layersW, bottomH);
  const sep = column([], 1, bottomH).map(() => sgr('│', { dim: true }));
  const right = column(files, filesW, bottomH);
  const screen = [
    ...column(images, W, imagesH),
    ...left.map((l, i) => l + sep[i] + right[i]),
    draw(legendLine(), W),
    draw(statusLine(model, { onDisk: null, reclaimable: null }, { filter: '', searching: false, danglingOnly: false }, '', W), W),
  ];
  // Each line placed where it goes, the cursor left at the top for ink to draw over.
  return '\x1b[?25l' + screen.map((l, i) => `\x1b[${i + 1};1H${l}`).join('') + '\x1b[H';
}
