// The seam between a store's layout on disk and the model: one reader per layout, each reading into the
// same StoreModel, so every question works on any of them. Docker's image/<driver>/ (inspect/docker/) is
// the first; the legacy v1 graph/, containerd and containers/storage are further implementations.
import type { StoreModel } from './model.js';

/**
 * How much of the layer metadata a question needs. A large store holds tens of thousands of small layer
 * files, and opening them is most of the time a listing takes:
 * - 'sizes': size, diff and parent (image listings: sizes, and every ChainID checked against both);
 * - 'usage': size, cache id and parent (disk usage: driver directories and chains, no DiffIDs);
 * - 'all': every field, every ChainID checked.
 * Fields a read leaves out are named in each layer's `unread`.
 */
export type LayerFields = 'sizes' | 'usage' | 'all';

export interface ReadStoreOptions {
  root: string;
  /** The storage driver whose store to read (a root may hold several). */
  driver: string;
  /** Which layer fields to read (default: all). */
  layerFields?: LayerFields;
  /** Without the native helpers, readAsync reads a layer store of at least this many layers on a worker thread (default: the layout's). */
  parallelLayers?: number;
}

export interface StoreLayout {
  /** The layout's name, as the model records it. */
  readonly name: string;
  /**
   * The driver whose store of this layout `root` holds (honouring `requested`), or null when it holds none.
   * Throws a StrataError when the choice is the user's (several stores, a requested one absent) or when
   * the root cannot be read (permission denied).
   */
  detect(root: string, requested?: string): string | null;
  /** Reads the store on this thread. */
  read(opts: ReadStoreOptions): StoreModel;
  /** Reads the store, large parts on worker threads. */
  readAsync(opts: ReadStoreOptions): Promise<StoreModel>;
}
