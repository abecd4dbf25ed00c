// The TUI: the image tree, the selected image's layers, the selected layer's files, and strata's answers
// (inspect, why, rmi --dry-run, wasted space) one key away. Components only draw; what they show comes from
// inspect/ (cli/tui/data.ts), loaded asynchronously: the store read is started before this module is
// imported, directory listings and the data-root walk come in while keys keep working.
import { Box, useApp, useInput, useStdout, type Key } from 'ink';
import { useEffect, useMemo, useReducer, useRef, useState } from 'react';
import type { StorageDriver } from '../../drivers/types.js';
import { shortId } from '../../inspect/digest.js';
import { inspectImage } from '../../inspect/inspect-image.js';
import { layerUsage } from '../../inspect/layers.js';
import type { Image, StoreModel } from '../../inspect/model.js';
import { predictionWarnings, predictRmi, rmiErrorText } from '../../inspect/rmi.js';
import { buildImageTree, type TreeNode } from '../../inspect/tree.js';
import { formatWarning, type Warning } from '../../inspect/warnings.js';
import { why } from '../../inspect/why.js';
import { StrataError } from '../../native/errors.js';
import { whyText } from '../commands/why.js';
import { startBackgroundOnThread as defaultBackground, type BackgroundState, type StartBackground } from './background.js';
import { containersByImage, layerRows, rowImage, treeRows, viewKey, type LayerRow, type TreeRow } from './data.js';
import type { FileEntry, FileListing, FilesApi, WastedReport } from './files-api.js';
import { Column } from './lines.js';
import { fileLine, filesInfo, imagesInfo, layerLine, layersTitle, layout, legendLine, matchCount, noMatchLine, paneLines, statusLine, treeLine, type FileRow, type Line } from './screen.js';
import { displayName, size, wrap } from './text.js';

export interface TuiSource {
  model: StoreModel;
  driver: StorageDriver | null;
  /** buildImageTree(model), when the caller built it already. */
  tree?: TreeNode[];
}

export interface AppProps {
  /** The store being read (started before the app was imported). */
  load: Promise<TuiSource>;
  /** The store, when it was read before the app started: drawn in the first frame. */
  initial?: TuiSource | null;
  /** Layer contents and wasted space; null when this build cannot list them (the pane says so). */
  files: FilesApi | null;
  /** The work done after the first screen; the default walks the data-root on threads. */
  background?: StartBackground;
  /** Warnings met while browsing (directory listings, the walk), printed after the TUI closes. */
  warnings?: Warning[];
  /** Listings started before the app (the first layer's, read while ink loads), by viewKey; the app adds its own. */
  prefetched?: Map<string, FileListing>;
  /** Told when the user quits (q, Ctrl-C), before ink exits: background work not started yet stays so. */
  onQuit?: () => void;
  /** Whether the user has quit (the background steps check it before each one). */
  quitRequested?: () => boolean;
}

type Pane = 'images' | 'layers' | 'files';

/** How long the tree selection stays on a row before the files pane reads that image's layer. */
const REST_MS = 100;
/** The background work starts at the latest this long after the store is shown. */
const BACKGROUND_LATEST_MS = 1000;
/** A pause in the keys this long lets the next background step run. */
const IDLE_MS = 700;
const PANES: Pane[] = ['images', 'layers', 'files'];

type Overlay =
  | { kind: 'help'; scroll: number }
  | { kind: 'text'; title: string; lines: string[]; scroll: number }
  | { kind: 'wasted'; imageId: string; label: string; scroll: number };

interface Ui {
  focus: Pane;
  /** Selection in the tree by row key (the index is the fallback when the row goes away). */
  treeKey: string | null;
  treeIndex: number;
  layerSel: number;
  fileSel: number;
  collapsed: Set<string>;
  filter: string;
  searching: boolean;
  danglingOnly: boolean;
  view: 'layer' | 'merged';
  changesOnly: boolean;
  overlay: Overlay | null;
}

const INITIAL_UI: Ui = {
  focus: 'images',
  treeKey: null,
  treeIndex: 0,
  layerSel: 0,
  fileSel: 0,
  collapsed: new Set(),
  filter: '',
  searching: false,
  danglingOnly: false,
  view: 'layer',
  changesOnly: false,
  overlay: null,
};

type DirState = { status: 'loading' } | { status: 'ok'; entries: FileEntry[] } | { status: 'error'; message: string };

/** One layer's listing in one view, with what has been loaded and expanded of it. */
interface FilesView {
  listing: FileListing | null;
  /** The view's files and bytes, once the listing has counted them. */
  totals: { files: number; bytes: number } | null;
  error: string | null;
  dirs: Map<string, DirState>;
  expanded: Set<string>;
}

/** Directory paths are bytes; latin1 maps each byte to one character, both ways. */
const dirKey = (path: Buffer) => path.toString('latin1');

/** Views whose totals were asked for (once each). */
const totalsAsked = new WeakSet<object>();

function errorText(err: unknown): string {
  const text = err instanceof StrataError ? err.message : err instanceof Error ? err.message : String(err);
  return text.split('\n')[0];
}

function fileRowsOf(view: FilesView, changesOnly: boolean): { rows: FileRow[]; needed: string[] } {
  const rows: FileRow[] = [];
  const needed: string[] = [];
  const walk = (key: string, depth: number) => {
    const st = view.dirs.get(key);
    if (!st) {
      needed.push(key);
      rows.push({ kind: 'loading', depth });
      return;
    }
    if (st.status === 'loading') rows.push({ kind: 'loading', depth });
    else if (st.status === 'error') rows.push({ kind: 'error', depth, text: st.message });
    else {
      for (const e of st.entries) {
        // A directory the layer did not touch holds none of its changes: it has no mark either.
        if (changesOnly && e.mark === null) continue;
        const k = dirKey(e.path);
        const expanded = e.kind === 'dir' && e.hasChildren && view.expanded.has(k);
        rows.push({ kind: 'entry', entry: e, depth, expanded });
        if (expanded) walk(k, depth + 1);
      }
      if (depth === 0 && rows.length === 0) rows.push({ kind: 'note', text: changesOnly ? 'no changes' : 'no files' });
    }
  };
  walk('', 0);
  return { rows, needed };
}

export const HELP_LINES = [
  'arrows, h j k l   move; h/← collapses or goes to the parent, l/→ expands',
  'PgUp PgDn g G     a page up or down, first, last',
  'enter             expand or collapse (tree, directories)',
  'tab, shift-tab    next / previous pane (Images, Layers, Files)',
  '/                 search by tag or id (Enter keeps the filter, Esc clears it)',
  'd                 dangling images only (again: everything)',
  'space             files: layer view / merged view (the image up to that layer)',
  'c                 files: changes only',
  'w                 wasted space of the selected image',
  'i                 inspect the selected image',
  'y                 why: what keeps the selected image or layer alive',
  'r                 rmi --dry-run of the selected image',
  'Esc               close a view or dialog; clear the filter',
  '?                 this help',
  'q, Ctrl-C         quit',
];

function useTerminalSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
  const [dims, setDims] = useState(read);
  useEffect(() => {
    const onResize = () => setDims(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return dims;
}

/** The last result of `f` for the same arguments (compared by identity). */
function useLast<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
  const last = useRef<{ args: A; value: R } | null>(null);
  return (...args: A) => {
    const l = last.current;
    if (l && l.args.length === args.length && l.args.every((a, i) => a === args[i])) return l.value;
    const value = f(...args);
    last.current = { args, value };
    return value;
  };
}

export function App({ load, initial = null, files, background = defaultBackground, warnings = [], onQuit, quitRequested, prefetched = new Map() }: AppProps) {
  const { exit } = useApp();
  const quitted = useRef(false);
  const leave = () => {
    quitted.current = true;
    onQuit?.();
    exit();
  };
  const stopped = () => quitted.current || quitRequested?.() === true;
  const dims = useTerminalSize();
  const [src, setSrc] = useState<TuiSource | null>(initial);
  const [bg, setBg] = useState<BackgroundState>({ orphans: null, onDisk: null, reclaimable: null });
  const [, bump] = useReducer((n: number) => n + 1, 0);
  const [ui, setUi] = useState<Ui>(INITIAL_UI);
  const uiRef = useRef(ui);
  // The tree row the selection has rested on: the files pane reads a layer only for that one, so holding
  // j through a big tree does not start a listing for every image passed.
  // null until the first move: the row the app opens on counts as rested, so its layer is read at once.
  const rested = useRef<string | null>(null);
  const [draft, setDraftState] = useState('');
  // Keys of one read arrive before the next render: the prompt's text is kept where each sees the last.
  const draftRef = useRef('');
  const setDraft = (f: string | ((t: string) => string)) => {
    draftRef.current = typeof f === 'function' ? f(draftRef.current) : f;
    setDraftState(draftRef.current);
  };

  useEffect(() => {
    let live = true;
    load.then(
      (s) => {
        if (!live) return;
        warnings.push(...s.model.warnings);
        if (s !== initial) setSrc(s);
      },
      (err) => exit(err instanceof Error ? err : new Error(String(err))),
    );
    return () => {
      live = false;
    };
  }, [load]);

  // The rest after the first screen and the first layer's files: the walk and prune's plan share the main
  // thread with that listing, so they start once it is shown (or after BACKGROUND_LATEST_MS).
  const [firstFilesShown, setFirstFilesShown] = useState(false);
  const backgroundStarted = useRef(false);
  const lastKeyAt = useRef(Date.now());
  useEffect(() => {
    if (!src || backgroundStarted.current) return;
    const start = () => {
      if (backgroundStarted.current) return;
      backgroundStarted.current = true;
      const whenIdle = () =>
        new Promise<void>((resolve) => {
          const check = () => {
            // Quitting: the next step never starts (each holds the main thread a moment).
            if (stopped()) return;
            const wait = lastKeyAt.current + IDLE_MS - Date.now();
            if (wait <= 0) resolve();
            else setTimeout(check, wait);
          };
          check();
        });
      void background(src.model, src.driver, warnings, (patch) => setBg((b) => ({ ...b, ...patch })), whenIdle);
    };
    const timer = setTimeout(start, firstFilesShown ? 0 : BACKGROUND_LATEST_MS);
    return () => clearTimeout(timer);
  }, [src, firstFilesShown]);

  const tree = useMemo(() => (src ? src.tree ?? buildImageTree(src.model) : []), [src]);
  const containers = useMemo(() => (src ? containersByImage(src.model) : new Map()), [src]);
  const usage = useMemo(() => (src ? layerUsage(src.model) : null), [src]);
  const rowsFor = useLast(treeRows);
  const matchesFor = useLast(matchCount);
  const layerCache = useRef(new Map<string, LayerRow[]>());
  const filesCache = useRef(new Map<string, FilesView>());
  const wastedCache = useRef(new Map<string, WastedReport | { error: string } | 'loading'>());
  const tops = useRef({ images: 0, layers: 0, files: 0, overlay: 0 });

  // --- layout -----------------------------------------------------------------------------------
  const { W, H, paneArea, imagesH, bottomH, layersW, filesW, visible } = layout(dims.columns, dims.rows);

  // --- what the state shows -------------------------------------------------------------------------
  const derive = (u: Ui) => {
    const filterText = u.searching ? draftRef.current : u.filter;
    const rows = src ? rowsFor(tree, containers, bg.orphans, u.collapsed, filterText, u.danglingOnly) : [];
    let sel = u.treeKey === null ? -1 : rows.findIndex((r) => r.key === u.treeKey);
    if (sel < 0) sel = Math.min(u.treeIndex, rows.length - 1);
    const row = rows[sel] as TreeRow | undefined;
    const image = src ? rowImage(src.model, row) : null;
    let layers: LayerRow[] = [];
    if (src && image && usage) {
      layers = layerCache.current.get(image.id) ?? layerRows(src.model, image, usage, src.driver);
      layerCache.current.set(image.id, layers);
    }
    const layerSel = Math.min(u.layerSel, Math.max(0, layers.length - 1));
    const layer = layers[layerSel] as LayerRow | undefined;
    let view: FilesView | null = null;
    let fileNote: string | null = null;
    if (!image) fileNote = 'select an image';
    else if (!layer) fileNote = 'no layers';
    else if (layer.layerIndex === null) fileNote = 'empty layer: no files';
    else if (!files) fileNote = 'file listing is not available in this build';
    else if (u.focus === 'images' && row && rested.current !== null && row.key !== rested.current) fileNote = null;
    else if (src) {
      const key = viewKey(image.id, layer.layerIndex, u.view);
      view = filesCache.current.get(key) ?? null;
      if (!view) {
        view = { listing: null, totals: null, error: null, dirs: new Map(), expanded: new Set() };
        try {
          const source = { model: src.model, driver: src.driver, warnings };
          view.listing = prefetched.get(key) ?? (u.view === 'layer' ? files.layerChanges(source, image, layer.layerIndex) : files.mergedView(source, image, layer.layerIndex));
          prefetched.set(key, view.listing);
        } catch (err) {
          view.error = errorText(err);
        }
        filesCache.current.set(key, view);
      }
    }
    const fr = view
      ? view.error
        ? { rows: [{ kind: 'error', depth: 0, text: view.error } as FileRow], needed: [] }
        : fileRowsOf(view, u.changesOnly)
      : { rows: [fileNote === null ? ({ kind: 'loading', depth: 0 } as FileRow) : ({ kind: 'note', text: fileNote } as FileRow)], needed: [] };
    const fileSel = Math.min(u.fileSel, Math.max(0, fr.rows.length - 1));
    return { rows, sel, row, image, layers, layerSel, layer, view, fileRows: fr.rows, needed: fr.needed, fileSel, filterText };
  };
  const d = derive(ui);

  // The first layer's first level is on the screen (or there is none to wait for): the background may start.
  const firstLevelSettled = src !== null && d.needed.length === 0 && !d.fileRows.some((r) => r.kind === 'loading');
  useEffect(() => {
    if (firstLevelSettled && !firstFilesShown) setFirstFilesShown(true);
  }, [firstLevelSettled]);

  const selectedKey = d.row?.key ?? null;
  useEffect(() => {
    if (rested.current === null) rested.current = selectedKey;
    if (selectedKey === rested.current) return;
    const timer = setTimeout(() => {
      rested.current = selectedKey;
      bump();
    }, REST_MS);
    return () => clearTimeout(timer);
  }, [selectedKey]);

  // Directories the files pane shows but has not loaded: listed now, off the render.
  useEffect(() => {
    const view = d.view;
    if (!view || !view.listing) return;
    const listing = view.listing;
    for (const key of d.needed) {
      if (view.dirs.has(key)) continue;
      view.dirs.set(key, { status: 'loading' });
      listing.list(Buffer.from(key, 'latin1')).then(
        (entries) => {
          view.dirs.set(key, { status: 'ok', entries });
          bump();
        },
        (err) => {
          view.dirs.set(key, { status: 'error', message: errorText(err) });
          bump();
        },
      );
    }
    // The totals after the first level was asked for: the title waits, the rows do not.
    if (view.totals === null && !totalsAsked.has(view)) {
      totalsAsked.add(view);
      listing.totals().then(
        (totals) => {
          view.totals = totals;
          bump();
        },
        () => {},
      );
    }
  });

  // --- keys -------------------------------------------------------------------------------------------
  const commit = (next: Ui) => {
    uiRef.current = next;
    setUi(next);
  };

  const openOverlay = (u: Ui, kind: 'inspect' | 'why' | 'rmi' | 'wasted'): Ui => {
    const x = derive(u);
    if (!src) return u;
    const image = x.image;
    const text = (title: string, lines: string[]): Ui => ({ ...u, overlay: { kind: 'text', title, lines, scroll: 0 } });
    if (kind === 'why' && u.focus === 'layers' && x.layer?.chainId) {
      return text(`Why: layer ${shortId(x.layer.chainId)}`, whyLines(src.model, x.layer.chainId));
    }
    if (kind === 'why' && x.row?.kind === 'layer') return text(`Why: layer ${shortId(x.row.node.chainId)}`, whyLines(src.model, x.row.node.chainId));
    if (!image) {
      const title = kind === 'inspect' ? 'Inspect' : kind === 'why' ? 'Why' : kind === 'rmi' ? 'rmi --dry-run' : 'Wasted space';
      return text(title, ['Select an image in the tree first.']);
    }
    const label = image.repoTags[0] ?? shortId(image.id);
    if (kind === 'inspect') {
      let lines: string[];
      try {
        lines = JSON.stringify(inspectImage(src.model, src.driver, image), null, 2).split('\n');
      } catch (err) {
        lines = [`error: ${errorText(err)}`];
      }
      return text(`Inspect: ${label}`, lines);
    }
    if (kind === 'why') return text(`Why: ${label}`, whyLines(src.model, image.id));
    if (kind === 'rmi') {
      const ref = rmiRef(image);
      return text(`rmi --dry-run ${ref}`, rmiLines(src.model, ref));
    }
    if (files && !wastedCache.current.has(image.id)) {
      wastedCache.current.set(image.id, 'loading');
      files.wastedSpace({ model: src.model, driver: src.driver, warnings }, image).then(
        (r) => {
          wastedCache.current.set(image.id, r);
          bump();
        },
        (err) => {
          wastedCache.current.set(image.id, { error: errorText(err) });
          bump();
        },
      );
    }
    return { ...u, overlay: { kind: 'wasted', imageId: image.id, label, scroll: 0 } };
  };


  const move = (u: Ui, delta: number | 'first' | 'last'): Ui => {
    const x = derive(u);
    const to = (cur: number, count: number) => Math.max(0, Math.min(count - 1, delta === 'first' ? 0 : delta === 'last' ? count - 1 : cur + delta));
    if (u.focus === 'images') {
      if (x.rows.length === 0) return u;
      const i = to(x.sel, x.rows.length);
      const key = x.rows[i].key;
      if (key === u.treeKey && i === x.sel) return u;
      return { ...u, treeKey: key, treeIndex: i, layerSel: 0, fileSel: 0 };
    }
    if (u.focus === 'layers') {
      const i = to(x.layerSel, x.layers.length);
      return i === x.layerSel ? u : { ...u, layerSel: i, fileSel: 0 };
    }
    return { ...u, fileSel: to(x.fileSel, x.fileRows.length) };
  };

  /** enter / h / l in the tree and the files: expand, collapse, or step to the parent. */
  const expand = (u: Ui, how: 'toggle' | 'open' | 'close'): Ui => {
    const x = derive(u);
    if (u.focus === 'images') {
      const row = x.row;
      if (!row) return u;
      const expandable = 'expandable' in row && row.expandable;
      const expanded = 'expanded' in row && row.expanded;
      if (expandable && (how === 'toggle' || (how === 'open' && !expanded) || (how === 'close' && expanded))) {
        const collapsed = new Set(u.collapsed);
        if (expanded) collapsed.add(row.key);
        else collapsed.delete(row.key);
        return { ...u, collapsed, treeKey: row.key, treeIndex: x.sel };
      }
      if (how === 'open' && expanded) return move(u, 1);
      if (how === 'close') {
        for (let i = x.sel - 1; i >= 0; i--) if (x.rows[i].depth < row.depth) return { ...u, treeKey: x.rows[i].key, treeIndex: i, layerSel: 0, fileSel: 0 };
      }
      return u;
    }
    if (u.focus === 'files' && x.view) {
      const fr = x.fileRows[x.fileSel];
      if (!fr || fr.kind !== 'entry') return u;
      const e = fr.entry;
      const key = dirKey(e.path);
      if (e.kind === 'dir' && e.hasChildren && (how === 'toggle' || (how === 'open' && !fr.expanded) || (how === 'close' && fr.expanded))) {
        if (fr.expanded) x.view.expanded.delete(key);
        else x.view.expanded.add(key);
        return { ...u };
      }
      if (how === 'open' && fr.expanded) return move(u, 1);
      if (how === 'close') {
        for (let i = x.fileSel - 1; i >= 0; i--) {
          const p = x.fileRows[i];
          if (p.kind === 'entry' && p.depth < fr.depth) return { ...u, fileSel: i };
        }
      }
      return u;
    }
    if (u.focus === 'layers' && how !== 'close') return { ...u, focus: 'files' };
    return u;
  };

  const onKey = (input: string, key: Key) => {
    lastKeyAt.current = Date.now();
    if (quitted.current) return;
    // Ctrl-C quits from anywhere, the search prompt and the side views too.
    if (key.ctrl && input === 'c') {
      leave();
      return;
    }
    const u = uiRef.current;
    if (u.searching) {
      if (key.escape) {
        setDraft('');
        commit({ ...u, searching: false, filter: '', treeIndex: 0, treeKey: u.treeKey });
      } else if (key.return) commit({ ...u, searching: false, filter: draftRef.current });
      else if (key.backspace || key.delete) setDraft((t) => t.slice(0, -1));
      else if (input && !key.ctrl && !key.meta && !key.tab && !key.upArrow && !key.downArrow) setDraft((t) => t + input);
      return;
    }
    if (input === 'q') {
      leave();
      return;
    }
    const page = (n: number) => Math.max(1, n - 1);
    if (u.overlay) {
      const o = u.overlay;
      // Scrolling counts the rows as drawn: a long line wrapped takes several.
      const { maxScroll, height: shown } = overlayView(o, wastedCache.current, files !== null, W, visible.overlay);
      const scrollTo = (s: number) => commit({ ...u, overlay: { ...o, scroll: Math.max(0, Math.min(maxScroll, s)) } as Overlay });
      if (key.escape || (input === '?' && o.kind === 'help')) commit({ ...u, overlay: null });
      else if (key.downArrow || input === 'j') scrollTo(o.scroll + 1);
      else if (key.upArrow || input === 'k') scrollTo(o.scroll - 1);
      else if (key.pageDown || input === ' ') scrollTo(o.scroll + page(shown));
      else if (key.pageUp) scrollTo(o.scroll - page(shown));
      else if (key.home || input === 'g') scrollTo(0);
      else if (key.end || input === 'G') scrollTo(maxScroll);
      else if (input === '?') commit({ ...u, overlay: { kind: 'help', scroll: 0 } });
      return;
    }
    const height = visible[u.focus];
    if (key.tab) {
      const i = PANES.indexOf(u.focus);
      commit({ ...u, focus: PANES[(i + (key.shift ? PANES.length - 1 : 1)) % PANES.length] });
    } else if (key.downArrow || input === 'j') commit(move(u, 1));
    else if (key.upArrow || input === 'k') commit(move(u, -1));
    else if (key.pageDown) commit(move(u, page(height)));
    else if (key.pageUp) commit(move(u, -page(height)));
    else if (key.home || input === 'g') commit(move(u, 'first'));
    else if (key.end || input === 'G') commit(move(u, 'last'));
    else if (key.return) commit(expand(u, 'toggle'));
    else if (key.rightArrow || input === 'l') commit(expand(u, 'open'));
    else if (key.leftArrow || input === 'h') commit(expand(u, 'close'));
    else if (input === ' ') commit({ ...u, view: u.view === 'layer' ? 'merged' : 'layer', fileSel: 0 });
    else if (input === 'c') commit({ ...u, changesOnly: !u.changesOnly, fileSel: 0 });
    else if (input === '/') {
      setDraft(u.filter);
      commit({ ...u, searching: true, focus: 'images' });
    } else if (input === 'd') commit({ ...u, danglingOnly: !u.danglingOnly });
    else if (input === 'w') commit(openOverlay(u, 'wasted'));
    else if (input === 'i') commit(openOverlay(u, 'inspect'));
    else if (input === 'y') commit(openOverlay(u, 'why'));
    else if (input === 'r') commit(openOverlay(u, 'rmi'));
    else if (input === '?') commit({ ...u, overlay: { kind: 'help', scroll: 0 } });
    else if (key.escape && u.filter !== '') commit({ ...u, filter: '' });
  };
  // Keys typed faster than they are read come as one string ("jj", "app:2\r"): each is a key of its own.
  useInput((input, key) => {
    for (const [i, k] of splitKeys(input, key)) onKey(i, k);
  });

  // --- drawing ----------------------------------------------------------------------------------------
  const status = statusLine(src?.model ?? null, bg, ui, d.filterText, W);
  const bottom: Line = ui.searching ? { text: `Search: ${draft}_`, bold: true } : legendLine();

  if (!src) {
    return (
      <Box flexDirection="column" width={W} height={H}>
        <Column lines={[{ text: 'Reading the store…', spinner: true }]} width={W} height={paneArea} />
        <Column lines={[bottom, status]} width={W} height={2} />
      </Box>
    );
  }

  if (ui.overlay) {
    const { lines } = overlayView(ui.overlay, wastedCache.current, files !== null, W, visible.overlay);
    return (
      <Box flexDirection="column" width={W} height={H}>
        <Column lines={lines} width={W} height={paneArea} />
        <Column lines={[{ text: 'Esc closes  j/k scroll  ? help  q quit', dim: true }, status]} width={W} height={2} />
      </Box>
    );
  }

  const matched = matchesFor(tree, d.filterText, ui.danglingOnly);
  const imageLines = paneLines('Images', ui.focus === 'images', imagesInfo(src.model.images.size, matched, ui.danglingOnly), d.rows, d.sel, visible.images, tops.current, 'images', (row, selected) => treeLine(row, selected, W - 2, src.model.root));
  // A filter that keeps nothing says so, rather than leave the pane blank.
  const none = noMatchLine(d.rows.length, d.filterText, ui.danglingOnly);
  if (none) imageLines.push({ ...none, text: `  ${none.text}` });
  const layerTitle = layersTitle(d.image);
  const layerLines = paneLines('Layers', ui.focus === 'layers', layerTitle, d.layers, d.layerSel, visible.layers, tops.current, 'layers', (row, selected) => layerLine(row, selected, layersW - 2));
  const filesTitle = `Files (${ui.view})${ui.changesOnly ? ' changes only' : ''}`;
  const fileLines = paneLines(filesTitle, ui.focus === 'files', filesInfo(d.view?.totals ?? null), d.fileRows, d.fileSel, visible.files, tops.current, 'files', (row, selected) => fileLine(row, selected, filesW - 2));
  const separator: Line[] = Array.from({ length: bottomH }, () => ({ text: '│', dim: true }));

  return (
    <Box flexDirection="column" width={W} height={H}>
      <Column lines={imageLines} width={W} height={imagesH} />
      <Box flexDirection="row" width={W} height={bottomH}>
        <Column lines={layerLines} width={layersW} height={bottomH} />
        <Column lines={separator} width={1} height={bottomH} />
        <Column lines={fileLines} width={filesW} height={bottomH} />
      </Box>
      <Column lines={[bottom, status]} width={W} height={2} />
    </Box>
  );
}

// --- keys (pure) ------------------------------------------------------------------------------------

const NO_KEY: Key = {
  upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false,
  return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false,
  super: false, hyper: false, capsLock: false, numLock: false,
};

/** One character of a string read at once, as ink would have given it alone. */
function keyOf(ch: string): [string, Key] {
  const code = ch.codePointAt(0)!;
  if (ch === '\r' || ch === '\n') return ['', { ...NO_KEY, return: true }];
  if (ch === '\t') return ['', { ...NO_KEY, tab: true }];
  if (ch === '\x7f' || ch === '\b') return ['', { ...NO_KEY, backspace: true }];
  if (code < 0x20) return [String.fromCharCode(code + 0x60), { ...NO_KEY, ctrl: true }];
  return [ch, { ...NO_KEY, shift: /^[A-Z]$/.test(ch) }];
}

/**
 * ink hands a read's text (all but escape sequences) over as one input: "jjj", "/app:2\r" (tmux's
 * send-keys '/app:2' Enter), "q\x03". Each character is a key of its own, control characters included.
 */
export function splitKeys(input: string, key: Key): Array<[string, Key]> {
  const chars = [...input];
  if (chars.length <= 1 || key.ctrl || key.meta) return [[input, key]];
  return chars.map(keyOf);
}

// --- pieces of the screen (pure) --------------------------------------------------------------------

/** The help's descriptions start in this column (after its two-column margin): a wrapped one goes on there. */
const HELP_INDENT = 2 + HELP_LINES[0].indexOf('move');

/** A side view's title and lines as they come, before they are wrapped to the width. */
function overlayContent(o: Overlay, wasted: Map<string, WastedReport | { error: string } | 'loading'>, haveFiles: boolean): { title: string; lines: Line[]; indent?: number } {
  if (o.kind === 'help') return { title: 'Keys', lines: HELP_LINES.map((text) => ({ text: `  ${text}` })), indent: HELP_INDENT };
  if (o.kind === 'text') return { title: o.title, lines: o.lines.map((text) => ({ text: `  ${text}` })) };
  const r = wasted.get(o.imageId);
  const title = `Wasted space: ${o.label}`;
  if (!haveFiles) return { title, lines: [{ text: '  wasted space is not available in this build', dim: true }] };
  if (r === undefined || r === 'loading') return { title, lines: [{ text: '  loading…', spinner: true }] };
  if ('error' in r) return { title, lines: [{ text: `  error: ${r.error}`, color: 'red' }] };
  const lines: Line[] = r.files.map((f) => ({
    text: `  ${size(f.bytes).padStart(8)}  /${displayName(f.path)}  (layer ${f.layerIndex + 1}, ${f.by} in layer ${f.byLayerIndex + 1})`,
  }));
  if (lines.length === 0) lines.push({ text: '  no file is overwritten or deleted by a later layer', dim: true });
  for (const u of r.unread) lines.push({ text: `  ! layer ${u.layerIndex + 1} not read: ${u.reason}`, color: 'red' });
  return { title: `Wasted space: ${size(r.bytes)} in ${r.files.length} file(s) — ${o.label}`, lines };
}

/** Each line as rows of the width (cli/tui/text.ts's wrap), in its own style: no line is cut. */
function wrapLines(lines: Line[], width: number, indent?: number): Line[] {
  const out: Line[] = [];
  for (const line of lines) {
    if (line.spinner || line.pieces) out.push(line);
    else for (const text of wrap(line.text, width, indent)) out.push({ ...line, text });
  }
  return out;
}

/**
 * A side view on `height` rows below its title, `width` wide: the window of its wrapped rows from its
 * scroll, how far it scrolls, and how many rows the window holds (a long title takes some).
 */
function overlayView(o: Overlay, wasted: Map<string, WastedReport | { error: string } | 'loading'>, haveFiles: boolean, width: number, height: number): { lines: Line[]; maxScroll: number; height: number } {
  const c = overlayContent(o, wasted, haveFiles);
  const title = wrapLines([{ text: c.title, bold: true, color: 'cyan' }], width);
  const rows = wrapLines(c.lines, width, c.indent);
  const shown = Math.max(1, height + 1 - title.length);
  const maxScroll = Math.max(0, rows.length - shown);
  const scroll = Math.min(o.scroll, maxScroll);
  return { lines: [...title, ...rows.slice(scroll, scroll + shown)], maxScroll, height: shown };
}

// --- strata's answers, as their commands print them -------------------------------------------------

function whyLines(model: StoreModel, ref: string): string[] {
  try {
    return whyText(why(model, ref), model).replace(/^\n+/, '').replace(/\n+$/, '').split('\n');
  } catch (err) {
    return [`error: ${errorText(err)}`];
  }
}

/** The reference `r` asks about: the image's first tag, else its short id (as a user would type it). */
export function rmiRef(image: Image): string {
  return image.repoTags[0] ?? shortId(image.id);
}

/** `strata rmi --dry-run REF`'s output: its stdout lines, then its error lines, then what it warns of. */
export function rmiLines(model: StoreModel, ref: string): string[] {
  try {
    const p = predictRmi(model, [ref], { force: false, noPrune: false });
    return [...p.lines, ...p.errors.map(rmiErrorText), ...predictionWarnings(model).map((w) => `warning: ${formatWarning(w)}`)];
  } catch (err) {
    return [`error: ${errorText(err)}`];
  }
}
