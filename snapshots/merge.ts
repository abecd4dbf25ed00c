// The merged view of a stack of union layers (what an overlay or aufs mount shows), computed from
// snapshots instead of mounting: upper entries replace lower ones, whiteouts delete, opaque directories
// hide everything below them. Drivers say which entries are whiteouts and which directories are opaque.
// Names and paths are ByteStrings (snapshots/walk.ts): the bytes of the names, never decoded.
import type { SnapshotNode } from './tree.js';
import type { ByteString } from './walk.js';

export interface UnionRules {
  /** The name this entry deletes from the layers below (it is then not visible itself), or null. */
  whiteoutOf(node: SnapshotNode, name: ByteString): ByteString | null;
  /** The directory at `path` ("/a/b") of layer `layer` (0 = bottom) hides the lower layers' entries below it. */
  isOpaque(layer: number, path: ByteString): boolean;
  /** Entries the driver keeps for itself, never visible (aufs .wh..wh.* metadata). */
  isHidden?(name: ByteString, path: ByteString): boolean;
}

function visibleCopy(node: SnapshotNode, path: ByteString, rules: UnionRules): SnapshotNode {
  if (!node.children) return { ...node };
  const children = new Map<ByteString, SnapshotNode>();
  for (const [name, child] of node.children) {
    const p = `${path}/${name}`;
    if (rules.isHidden?.(name, p) || rules.whiteoutOf(child, name) !== null) continue;
    children.set(name, visibleCopy(child, p, rules));
  }
  return { ...node, children };
}

function mergeInto(target: SnapshotNode, upper: SnapshotNode, path: ByteString, layer: number, rules: UnionRules): void {
  for (const [name, child] of upper.children ?? []) {
    const p = `${path}/${name}`;
    if (rules.isHidden?.(name, p)) continue;
    const deleted = rules.whiteoutOf(child, name);
    if (deleted !== null) {
      target.children!.delete(deleted);
      continue;
    }
    const below = target.children!.get(name);
    if (child.children && below?.children && !rules.isOpaque(layer, p)) {
      const merged: SnapshotNode = { ...child, children: new Map(below.children) };
      target.children!.set(name, merged);
      mergeInto(merged, child, p, layer, rules);
    } else {
      target.children!.set(name, visibleCopy(child, p, rules));
    }
  }
}

/** Merges layer snapshots given bottom layer first. */
export function mergeLayers(layers: SnapshotNode[], rules: UnionRules): SnapshotNode {
  if (layers.length === 0) throw new Error('mergeLayers: no layers');
  let result = visibleCopy(layers[0], '', rules);
  layers.forEach((upper, layer) => {
    if (layer === 0) return;
    const next: SnapshotNode = { ...upper, children: new Map(result.children) };
    mergeInto(next, upper, '', layer, rules);
    result = next;
  });
  return result;
}
