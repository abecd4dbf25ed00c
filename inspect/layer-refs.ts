// Layer reference counts as a layer store keeps them (moby layer/layer_store.go, 20.10), counted one
// way, once, on the model: each image holds its top layer, each layer its parent, and each read-write
// layer record (layerdb/mounts/<id>, whether or not its container still exists) the image layer under
// it. Removing an image releases its top layer; a layer whose count falls to 0 is deleted and releases
// its parent in turn. rmi, why and prune ask these questions; other engines' readers fill the same model.
import type { StoreModel } from './model.js';

/** Who holds a reference on one layer. */
export interface LayerHolders {
  /** Images whose top layer it is. */
  images: string[];
  /** ChainIDs of layers whose parent it is (a set: a base layer may have thousands, each released in turn). */
  children: Set<string>;
  /** Container ids of read-write layer records on it (live or left over). */
  mounts: string[];
}

/** Reference counts of every layer in the model, mutable by release() for a what-if on a copy. */
export class LayerRefs {
  private constructor(
    private readonly model: StoreModel,
    private readonly holders: Map<string, LayerHolders>,
  ) {}

  /** Counts as a layer store started on this model would hold them. */
  static of(model: StoreModel): LayerRefs {
    const holders = new Map<string, LayerHolders>();
    // Every layer first, each with no holder: most hold no image and no mount, so those lists start as
    // one shared empty list, replaced by a list of its own on the first push (a store has thousands).
    for (const chainId of model.layers.keys()) holders.set(chainId, { images: NO_IDS, children: new Set(), mounts: NO_IDS });
    for (const layer of model.layers.values()) {
      if (layer.parent !== null) holders.get(layer.parent)?.children.add(layer.chainId);
    }
    for (const image of model.images.values()) {
      const h = holders.get(image.chainIds.at(-1) ?? '');
      if (h) h.images = h.images === NO_IDS ? [image.id] : (h.images.push(image.id), h.images);
    }
    for (const mount of model.mounts.values()) {
      const h = mount.parentChainId !== null ? holders.get(mount.parentChainId) : undefined;
      if (h) h.mounts = h.mounts === NO_IDS ? [mount.containerId] : (h.mounts.push(mount.containerId), h.mounts);
    }
    return new LayerRefs(model, holders);
  }

  /** A copy whose release() leaves this one as it is. */
  clone(): LayerRefs {
    const copy = new Map<string, LayerHolders>();
    for (const [id, h] of this.holders) copy.set(id, copyOf(h));
    return new LayerRefs(this.model, copy);
  }

  /**
   * A copy for one what-if that copies only the layers it touches, so a release() on it costs its chain,
   * not the whole store (clone() copies every layer). This object must not change while the copy is used.
   */
  trial(): LayerRefs {
    return new LayerRefs(this.model, new CopyOnWrite(this.holders));
  }

  /** Whether the layer is (still) in the store. */
  has(chainId: string): boolean {
    return this.holders.has(chainId);
  }

  holdersOf(chainId: string): LayerHolders {
    return this.holders.get(chainId) ?? { images: [], children: new Set(), mounts: [] };
  }

  /** The layer's reference count (0 for a leaked layer, one nothing holds). */
  count(chainId: string): number {
    const h = this.holders.get(chainId);
    return h ? h.images.length + h.children.size + h.mounts.length : 0;
  }

  /**
   * Drops one holder's reference on `chainId` (an image id, a child ChainID, or a container id) and
   * returns the ChainIDs deleted as a result, top first, as dockerd's "Deleted:" lines list them.
   */
  release(chainId: string, holder: { image: string } | { mount: string }): string[] {
    const deleted: string[] = [];
    let current: string | null = chainId;
    let by: { image: string } | { mount: string } | { child: string } = holder;
    while (current !== null) {
      const h = this.holders.get(current);
      if (!h) break;
      if ('image' in by) removeOne(h.images, by.image);
      else if ('mount' in by) removeOne(h.mounts, by.mount);
      else h.children.delete(by.child);
      if (h.images.length + h.children.size + h.mounts.length > 0) break;
      this.holders.delete(current);
      deleted.push(current);
      const parent: string | null = this.model.layers.get(current)?.parent ?? null;
      by = { child: current };
      current = parent;
    }
    return deleted;
  }

  /**
   * Takes away a layer nothing holds (a leaked one, once what held it is gone) and its reference on its
   * parent, without deleting the parent: prune removes leaked layers one at a time, top first, each only
   * when nothing holds it any more. Returns false (and changes nothing) while something still holds it.
   */
  drop(chainId: string): boolean {
    if (!this.holders.has(chainId) || this.count(chainId) > 0) return false;
    this.holders.delete(chainId);
    const parent = this.model.layers.get(chainId)?.parent ?? null;
    const h = parent !== null ? this.holders.get(parent) : undefined;
    h?.children.delete(chainId);
    return true;
  }

  /** Layers no image, layer or read-write record holds (dockerd keeps them forever: leaked). */
  unheld(): string[] {
    return [...this.holders.keys()].filter((id) => this.count(id) === 0);
  }
}

/** The holders' list of no image or no mount, shared (frozen: a push onto it would be a bug). */
const NO_IDS: string[] = Object.freeze([]) as unknown as string[];

function removeOne(list: string[], item: string): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

const copyOf = (h: LayerHolders): LayerHolders => ({ images: [...h.images], children: new Set(h.children), mounts: [...h.mounts] });

/** The holders of a trial(): read through to the base, a layer copied on first access, deletions recorded. */
class CopyOnWrite extends Map<string, LayerHolders> {
  private readonly removed = new Set<string>();

  constructor(private readonly base: Map<string, LayerHolders>) {
    super();
  }

  override get(id: string): LayerHolders | undefined {
    if (this.removed.has(id)) return undefined;
    let h = super.get(id);
    if (h === undefined) {
      const b = this.base.get(id);
      if (b === undefined) return undefined;
      super.set(id, (h = copyOf(b)));
    }
    return h;
  }

  override has(id: string): boolean {
    return !this.removed.has(id) && (super.has(id) || this.base.has(id));
  }

  override set(id: string, h: LayerHolders): this {
    this.removed.delete(id);
    return super.set(id, h);
  }

  override delete(id: string): boolean {
    const had = this.has(id);
    this.removed.add(id);
    super.delete(id);
    return had;
  }

  override get size(): number {
    let n = 0;
    for (const _ of this.keys()) n++;
    return n;
  }

  override *keys(): MapIterator<string> {
    for (const id of this.base.keys()) if (!this.removed.has(id)) yield id;
    for (const id of super.keys()) if (!this.base.has(id) && !this.removed.has(id)) yield id;
  }

  override *entries(): MapIterator<[string, LayerHolders]> {
    for (const id of this.keys()) yield [id, this.get(id)!];
  }

  override *values(): MapIterator<LayerHolders> {
    for (const id of this.keys()) yield this.get(id)!;
  }

  override [Symbol.iterator](): MapIterator<[string, LayerHolders]> {
    return this.entries();
  }

  override forEach(fn: (value: LayerHolders, key: string, map: Map<string, LayerHolders>) => void): void {
    for (const [id, h] of this.entries()) fn(h, id, this);
  }
}
