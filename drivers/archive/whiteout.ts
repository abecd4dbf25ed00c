// The AUFS whiteout names Docker layer tars use for deletions, whatever driver made or applies them.
export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
/** aufs keeps its own bookkeeping under these names at the layer root; they are never layer content. */
export const AUFS_META_PREFIX = '.wh..wh.';
