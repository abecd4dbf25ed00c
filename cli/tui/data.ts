// The TUI's rows, as plain data worked out from the model by inspect/'s own questions: the image graph of
// `images --tree` (buildImageTree), containers under their image, orphaned directories (storeFindings),
// each image's layers (imageHistory, layerUsage). Pure: the panes only draw these.
import type { StorageDriver } from '../../drivers/types.js';
import { shortId } from '../../inspect/digest.js';
import type { DfOrphan } from '../../inspect/df.js';
import { imageHistory } from '../../inspect/history.js';
import { restrictTree } from '../../inspect/image-filter.js';
import type { LayerUsage } from '../../inspect/layers.js';
import type { Container, Image, StoreModel } from '../../inspect/model.js';
import type { ImageTreeNode, LayerTreeNode, TreeNode } from '../../inspect/tree.js';

/**
 * Orphaned directories once found (null until then; the reason when the driver's directories could not be
 * listed); their bytes are known once the data-root walk is done (`measured`).
 */
export type OrphanState = { list: DfOrphan[]; measured: boolean } | { error: string } | null;

export type TreeRow =
  | { kind: 'image'; key: string; depth: number; node: ImageTreeNode; expandable: boolean; expanded: boolean; intermediate: boolean }
  | { kind: 'layer'; key: string; depth: number; node: LayerTreeNode; expandable: boolean; expanded: boolean }
  | { kind: 'container'; key: string; depth: number; container: Container }
  | { kind: 'group'; key: string; depth: number; title: string; expandable: boolean; expanded: boolean }
  | { kind: 'orphan'; key: string; depth: number; orphan: DfOrphan; bytes: number | null }
  | { kind: 'note'; key: string; depth: number; text: string };

export interface TreeFilter {
  /** Text the image's tags or id must contain (case-insensitive); '' for none. */
  text: string;
  danglingOnly: boolean;
}

export const ORPHANS_KEY = 'orphans';

/** The files pane's cache key of one layer's listing in one view. */
export const viewKey = (imageId: string, layerIndex: number, view: 'layer' | 'merged') => `${imageId}#${layerIndex}#${view}`;

export function containersByImage(model: StoreModel): Map<string, Container[]> {
  const out = new Map<string, Container[]>();
  for (const c of model.containers) {
    const list = out.get(c.imageId) ?? [];
    list.push(c);
    out.set(c.imageId, list);
  }
  for (const list of out.values()) list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/** Whether an image node matches the search text: a tag or its id (with or without sha256:) contains it. */
export function matchesSearch(node: ImageTreeNode, text: string): boolean {
  const q = text.trim().toLowerCase();
  if (q === '') return true;
  const hex = node.id.replace(/^sha256:/, '');
  if (hex.includes(q.replace(/^sha256:/, ''))) return true;
  return node.repoTags.some((t) => t.toLowerCase().includes(q));
}

function keptImages(nodes: TreeNode[], filter: TreeFilter, out = new Set<string>()): Set<string> {
  for (const n of nodes) {
    if (n.kind === 'image' && (!filter.danglingOnly || n.dangling) && matchesSearch(n, filter.text)) out.add(n.id);
    keptImages(n.children, filter, out);
  }
  return out;
}

/** The tree cut down to the branches leading to the images the filter keeps (as `images --tree REPO` does). */
export function filterTree(tree: TreeNode[], filter: TreeFilter): TreeNode[] {
  if (filter.text.trim() === '' && !filter.danglingOnly) return tree;
  return restrictTree(tree, keptImages(tree, filter));
}

/**
 * The visible rows: every node of the (filtered) tree whose ancestors are all expanded, an image's
 * containers under it, then the orphaned directories' group. Everything is expanded unless collapsed.
 */
export function treeRows(
  tree: TreeNode[],
  containers: Map<string, Container[]>,
  orphans: OrphanState,
  collapsed: ReadonlySet<string>,
  searchText: string,
  danglingOnly: boolean,
): TreeRow[] {
  const filter: TreeFilter = { text: searchText, danglingOnly };
  const rows: TreeRow[] = [];
  const filtered = filter.text.trim() !== '' || filter.danglingOnly;
  const walk = (nodes: TreeNode[], depth: number) => {
    for (const n of nodes) {
      if (n.kind === 'image') {
        const ctrs = filtered && filter.danglingOnly ? [] : containers.get(n.id) ?? [];
        const expandable = n.children.length > 0 || ctrs.length > 0;
        const expanded = expandable && !collapsed.has(n.id);
        const intermediate = !n.dangling && n.repoTags.length === 0;
        rows.push({ kind: 'image', key: n.id, depth, node: n, expandable, expanded, intermediate });
        if (!expanded) continue;
        for (const c of ctrs) rows.push({ kind: 'container', key: `container:${c.id}`, depth: depth + 1, container: c });
        walk(n.children, depth + 1);
      } else {
        const key = `layer:${n.chainId}`;
        const expandable = n.children.length > 0;
        const expanded = expandable && !collapsed.has(key);
        rows.push({ kind: 'layer', key, depth, node: n, expandable, expanded });
        if (expanded) walk(n.children, depth + 1);
      }
    }
  };
  walk(filterTree(tree, filter), 0);
  // Orphaned directories belong to no image: shown unless a search is narrowing the images.
  if (filter.text.trim() === '') {
    if (orphans === null) {
      rows.push({ kind: 'group', key: ORPHANS_KEY, depth: 0, title: 'Orphaned directories', expandable: false, expanded: false });
      rows.push({ kind: 'note', key: 'orphans:loading', depth: 1, text: 'loading…' });
    } else if ('error' in orphans) {
      rows.push({ kind: 'group', key: ORPHANS_KEY, depth: 0, title: 'Orphaned directories', expandable: false, expanded: false });
      rows.push({ kind: 'note', key: 'orphans:error', depth: 1, text: `error: ${orphans.error}` });
    } else if (orphans.list.length > 0) {
      const expanded = !collapsed.has(ORPHANS_KEY);
      rows.push({ kind: 'group', key: ORPHANS_KEY, depth: 0, title: `Orphaned directories (${orphans.list.length})`, expandable: true, expanded });
      if (expanded) for (const o of orphans.list) rows.push({ kind: 'orphan', key: `orphan:${o.id}`, depth: 1, orphan: o, bytes: orphans.measured ? o.bytes : null });
    }
  }
  return rows;
}

/** The image a tree row is about: the image itself, or a container's image. */
export function rowImage(model: StoreModel, row: TreeRow | undefined): Image | null {
  if (!row) return null;
  if (row.kind === 'image') return model.images.get(row.node.id) ?? null;
  if (row.kind === 'container') return model.images.get(row.container.imageId) ?? null;
  return null;
}

export interface LayerRow {
  /** Index of the layer in the image's chain (what the files pane asks for); null for an empty step. */
  layerIndex: number | null;
  chainId: string | null;
  createdBy: string;
  size: number | null;
  /** Images whose chain holds the layer. */
  sharedBy: number;
  empty: boolean;
  /** The driver has no directory for the layer (its files are listed from the tar-split, if any). */
  missing: boolean;
}

/**
 * The image's layers, base first: each step of its history with the command that made it, the layer's
 * size and how many images share it. Empty steps are kept (drawn greyed). An image whose history does not
 * cover its layers gets a row per layer beyond it.
 */
export function layerRows(model: StoreModel, image: Image, usage: LayerUsage, driver: Pick<StorageDriver, 'exists'> | null = null): LayerRow[] {
  const missing = (chainId: string | null) => {
    const cacheId = chainId ? model.layers.get(chainId)?.cacheId : null;
    return !!(driver && cacheId && driver.exists(cacheId) === false);
  };
  const steps = imageHistory(model, image).reverse();
  const rows: LayerRow[] = [];
  let next = 0;
  for (const s of steps) {
    const index = s.emptyLayer || s.chainId === null ? null : next++;
    rows.push({
      layerIndex: index,
      chainId: s.chainId,
      createdBy: s.createdBy,
      size: s.size,
      sharedBy: s.chainId ? usage.images.get(s.chainId) ?? 0 : 0,
      empty: s.emptyLayer,
      missing: !s.emptyLayer && missing(s.chainId),
    });
  }
  for (; next < image.chainIds.length; next++) {
    const chainId = image.chainIds[next];
    rows.push({ layerIndex: next, chainId, createdBy: '', size: model.layers.get(chainId)?.size ?? null, sharedBy: usage.images.get(chainId) ?? 0, empty: false, missing: missing(chainId) });
  }
  return rows;
}

export function treeRowLabel(row: TreeRow, root = ''): string {
  switch (row.kind) {
    case 'image':
      return `${shortId(row.node.id)} ${row.node.repoTags.length ? row.node.repoTags.join(', ') : '<none>:<none>'}`;
    case 'layer':
      return `[layer ${shortId(row.node.chainId)}] shared by ${row.node.images} images`;
    case 'container':
      return `container ${row.container.name || row.container.id.slice(0, 12)} (${row.container.state})`;
    case 'group':
      return row.title;
    case 'orphan':
      return `orphan ${row.orphan.id.slice(0, 12)} ${root && row.orphan.path.startsWith(`${root}/`) ? row.orphan.path.slice(root.length + 1) : row.orphan.path}`;
    case 'note':
      return row.text;
  }
}

/** What the image rows' mark column says without colour, and the colour the legend names. */
export function treeRowKind(row: TreeRow): 'dangling' | 'intermediate' | 'shared' | 'container' | 'orphan' | 'tagged' | 'other' {
  if (row.kind === 'image') return row.node.dangling ? 'dangling' : row.intermediate ? 'intermediate' : 'tagged';
  if (row.kind === 'layer') return 'shared';
  if (row.kind === 'container') return 'container';
  if (row.kind === 'orphan' || row.kind === 'group') return 'orphan';
  return 'other';
}
