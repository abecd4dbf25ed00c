// `strata export`: a container's root filesystem as `docker export` writes it — dockerd 20.10 mounts the
// container's read-write layer (on its -init layer and the image's layers) and archives the mount point
// (daemon/export.go, archive.Tar: every entry below the root, in filepath.Walk order, the root itself
// left out). strata builds the same merged tree from the driver's layers without mounting (whiteouts and
// opaque directories applied by the driver's view) and writes it with the Go-faithful tar writer.
import { exportTree, type ExportItem } from '../drivers/archive/export-tree.js';
import type { TarPiece } from '../drivers/archive/chunks.js';
import type { LayerFiles, OpenedEntry, StorageDriver } from '../drivers/types.js';
import { readXattrTree } from '../drivers/xattrs.js';
import { LayerEntryError } from '../native/open-beneath.js';
import { nativeHelpers, SCAN_STRIDE } from '../native/index.js';
import type { EntryMeta, SnapshotNode } from '../snapshots/tree.js';
import { byteString, EntryStat, type ByteString } from '../snapshots/walk.js';
import { containerTarget, findContainer } from './layer-export.js';
import type { Container, StoreModel } from './model.js';
import { ImageReferenceError } from './reference.js';

/** The container a user named (name, id or unique id prefix), or a one-line refusal. */
export function resolveExportContainer(model: StoreModel, input: string): Container {
  const container = findContainer(model, input);
  if (!container) throw new ImageReferenceError(`no such container: ${input}`);
  return container;
}

const NS = 1_000_000_000n;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

function statOf(meta: EntryMeta): EntryStat {
  // Every layer directory lies on the data-root's filesystem: inode numbers alone tell hardlinks apart.
  return new EntryStat(meta.mode, meta.nlink, meta.uid, meta.gid, meta.size, Number(meta.mtimeNs / NS), Number(meta.mtimeNs % NS), meta.rdev, 0, meta.ino, 0);
}

interface MergedEntry {
  /** The tar name, relative to the root ("etc/hosts"). */
  name: Buffer;
  meta: EntryMeta;
  isDir: boolean;
}

/** The merged tree in Go's filepath.Walk order: pre-order, each directory's names sorted by their bytes. */
function* walkMerged(root: SnapshotNode): Generator<MergedEntry> {
  const stack: Array<[SnapshotNode, ByteString]> = [];
  const push = (node: SnapshotNode, prefix: ByteString) => {
    const names = [...node.children!.keys()].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)); // reversed: popped in order
    for (const n of names) stack.push([node.children!.get(n)!, prefix === '' ? n : `${prefix}/${n}`]);
  };
  push(root, '');
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    yield { name: Buffer.from(path, 'latin1'), meta: node.meta, isDir: node.children !== null };
    if (node.children) push(node, path);
  }
}

const CAPABILITY = 'security.capability';

/**
 * security.capability of the regular files (the one xattr docker's archive keeps), by on-disk path: read
 * by the native scan of each directory holding such a file, or else by one getfattr pass per directory.
 */
async function capabilities(entries: readonly MergedEntry[]): Promise<Map<ByteString, Buffer>> {
  const dirs = new Set<ByteString>();
  for (const e of entries) {
    if ((e.meta.mode & S_IFMT) !== S_IFREG) continue;
    const p = e.meta.path;
    dirs.add(byteString(p.subarray(0, p.lastIndexOf(0x2f))));
  }
  const caps = new Map<ByteString, Buffer>();
  const native = nativeHelpers();
  for (const dir of dirs) {
    const dirBytes = Buffer.from(dir, 'latin1');
    if (native) {
      const scan = native.scanDir(dirBytes, true);
      let start = 0;
      scan.nameEnds.forEach((end, i) => {
        const name = scan.nameBytes.subarray(start, end);
        start = end;
        const attrs = scan.xattrs?.[i];
        if (!attrs || (scan.stats[i * SCAN_STRIDE] & S_IFMT) !== S_IFREG) return;
        for (let k = 0; k + 1 < attrs.length; k += 2) {
          if (attrs[k] === CAPABILITY) caps.set(`${dir}/${name.toString('latin1')}`, Buffer.from(attrs[k + 1] as Buffer));
        }
      });
    } else {
      for (const [path, attrs] of await readXattrTree(dirBytes.toString('utf8'))) {
        const cap = attrs.get(CAPABILITY);
        if (cap && path.lastIndexOf('/') === dir.length) caps.set(path, cap);
      }
    }
  }
  return caps;
}

/**
 * The files of a merged view as one LayerFiles: a tar name is opened where the view found it, beneath
 * that layer's directory (driver.openViewEntry), never through the name itself.
 */
function mergedFiles(driver: StorageDriver, sources: Map<ByteString, Buffer>): LayerFiles {
  return {
    dir: '(merged view)',
    dirFd: -1,
    openEntry(name: Buffer): OpenedEntry {
      const source = sources.get(name.toString('latin1'));
      if (!source) throw new LayerEntryError('is not in the merged view', { file: name });
      return driver.openViewEntry(source);
    },
    close() {},
  };
}

/** The container's root filesystem as docker export's tar. */
export async function* containerExport(driver: StorageDriver, container: Container): AsyncGenerator<TarPiece> {
  const { ref } = containerTarget(container);
  const view = await driver.view(ref.cacheId);
  const entries = [...walkMerged(view)];
  const caps = await capabilities(entries);
  const sources = new Map<ByteString, Buffer>();
  const items: ExportItem[] = entries.map((e) => {
    if ((e.meta.mode & S_IFMT) === S_IFREG) sources.set(e.name.toString('latin1'), e.meta.path);
    const cap = caps.get(byteString(e.meta.path));
    return { kind: 'path', name: e.name, source: e.meta.path, stat: statOf(e.meta), xattrs: cap ? new Map([[CAPABILITY, cap]]) : undefined };
  });
  yield* exportTree(items, mergedFiles(driver, sources));
}
