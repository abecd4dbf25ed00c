// The image graph of the old `docker images --tree`: every image under its recorded parent; images with
// no recorded parent (pulled or loaded) hang under the deepest layer they share with other images.
import { shortId } from './digest.js';
import { byCreatedDesc, imageSize, isDangling, sortReferences } from './images.js';
import type { Image, StoreModel } from './model.js';

export interface ImageTreeNode {
  kind: 'image';
  id: string;
  repoTags: string[];
  /** Sum of layer sizes along the chain (the old "Virtual Size"). */
  virtualSize: number;
  created: string;
  dangling: boolean;
  children: TreeNode[];
}

export interface LayerTreeNode {
  kind: 'layer';
  /** ChainID of the shared layer. */
  chainId: string;
  virtualSize: number;
  /** How many images use this layer. */
  images: number;
  /** The oldest creation time below it, so branches sort by age like images. */
  created: string;
  children: TreeNode[];
}

export type TreeNode = ImageTreeNode | LayerTreeNode;

interface TrieNode {
  chainId: string | null;
  depth: number;
  images: Image[];
  next: Map<string, TrieNode>;
}

function trieNode(chainId: string | null, depth: number): TrieNode {
  return { chainId, depth, images: [], next: new Map() };
}

function oldestFirst(a: TreeNode, b: TreeNode): number {
  const key = (n: TreeNode) => ({ created: n.created, id: n.kind === 'image' ? n.id : n.chainId });
  return -byCreatedDesc(key(a), key(b));
}

function chainSize(model: StoreModel, chainIds: string[], depth: number): number {
  let size = 0;
  for (let i = 0; i < depth; i++) size += model.layers.get(chainIds[i])?.size ?? 0;
  return size;
}

export function buildImageTree(model: StoreModel): TreeNode[] {
  const placedByParent = (img: Image) => img.parent !== null && model.images.has(img.parent);

  const imageNode = (img: Image, extra: TreeNode[]): ImageTreeNode => {
    const children: TreeNode[] = [...extra];
    for (const childId of model.children.get(img.id) ?? []) {
      const child = model.images.get(childId);
      if (child) children.push(imageNode(child, []));
    }
    children.sort(oldestFirst);
    return {
      kind: 'image',
      id: img.id,
      repoTags: sortReferences(img.repoTags),
      virtualSize: imageSize(model, img),
      created: img.created,
      dangling: isDangling(model, img),
      children,
    };
  };

  // A trie over the layer chains of the images that have no recorded parent.
  const root = trieNode(null, 0);
  const usage = new Map<string, number>();
  for (const img of model.images.values()) {
    if (placedByParent(img)) continue;
    let node = root;
    img.chainIds.forEach((chainId, i) => {
      usage.set(chainId, (usage.get(chainId) ?? 0) + 1);
      let next = node.next.get(chainId);
      if (!next) node.next.set(chainId, (next = trieNode(chainId, i + 1)));
      node = next;
    });
    node.images.push(img);
  }

  // Collapses the trie: a layer is shown only where images branch from it; a layer that is exactly
  // one image's top is shown as that image.
  const render = (node: TrieNode, sampleChain: string[]): TreeNode[] => {
    const below: TreeNode[] = [];
    for (const next of node.next.values()) below.push(...render(next, chainOf(next)));
    if (node.chainId === null) return [...node.images.map((img) => imageNode(img, [])), ...below];
    if (node.images.length === 1) return [imageNode(node.images[0], below)];
    const items = [...node.images.map((img) => imageNode(img, [])), ...below];
    if (items.length <= 1) return items;
    items.sort(oldestFirst);
    return [
      {
        kind: 'layer',
        chainId: node.chainId,
        virtualSize: chainSize(model, sampleChain, node.depth),
        images: usage.get(node.chainId) ?? 0,
        created: items[0].created,
        children: items,
      },
    ];
  };

  // Any image below a trie node carries that node's chain as a prefix.
  const chainOf = (node: TrieNode): string[] => {
    let n: TrieNode = node;
    while (n.images.length === 0) n = n.next.values().next().value!;
    return n.images[0].chainIds;
  };

  return render(root, []).sort(oldestFirst);
}

export function renderTreeText(nodes: TreeNode[], opts: { noTrunc?: boolean; humanSize: (n: number) => string }): string {
  const lines: string[] = [];
  const label = (n: TreeNode): string => {
    if (n.kind === 'layer') {
      const id = opts.noTrunc ? n.chainId : shortId(n.chainId);
      return `[layer ${id}] Virtual Size: ${opts.humanSize(n.virtualSize)} Shared by: ${n.images} images`;
    }
    const id = opts.noTrunc ? n.id : shortId(n.id);
    const tags = n.repoTags.length ? ` Tags: ${n.repoTags.join(', ')}` : '';
    return `${id} Virtual Size: ${opts.humanSize(n.virtualSize)}${tags}`;
  };
  const walk = (list: TreeNode[], prefix: string) => {
    list.forEach((n, i) => {
      const last = i === list.length - 1;
      lines.push(`${prefix}${last ? '└─' : '├─'}${label(n)}`);
      walk(n.children, prefix + (last ? '  ' : '│ '));
    });
  };
  walk(nodes, '');
  return lines.map((l) => `${l}\n`).join('');
}

function dotId(n: TreeNode): string {
  return JSON.stringify(n.kind === 'image' ? shortId(n.id) : `layer ${shortId(n.chainId)}`);
}

export function renderTreeDot(nodes: TreeNode[], opts: { humanSize: (n: number) => string }): string {
  const out: string[] = ['digraph strata {', '  rankdir=TB;', '  node [shape=box, style="rounded,filled", fontname="monospace"];'];
  const walk = (n: TreeNode, parent: TreeNode | null) => {
    if (n.kind === 'image') {
      const lines = [shortId(n.id), ...n.repoTags, opts.humanSize(n.virtualSize)];
      const fill = n.repoTags.length ? 'paleturquoise' : n.dangling ? 'mistyrose' : 'white';
      out.push(`  ${dotId(n)} [label=${JSON.stringify(lines.join('\n'))}, fillcolor=${fill}];`);
    } else {
      const lines = [`layer ${shortId(n.chainId)}`, `${n.images} images`, opts.humanSize(n.virtualSize)];
      out.push(`  ${dotId(n)} [label=${JSON.stringify(lines.join('\n'))}, shape=ellipse, fillcolor=lightgrey];`);
    }
    if (parent) out.push(`  ${dotId(parent)} -> ${dotId(n)};`);
    n.children.forEach((c) => walk(c, n));
  };
  nodes.forEach((n) => walk(n, null));
  out.push('}');
  return out.join('\n') + '\n';
}
