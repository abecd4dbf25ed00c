// Stores whose layers are made from tars the test writes (names as bytes, whiteouts, opaque dirs, hard and
// symbolic links): each tar is applied by the real driver, which records its tar-split, and layerdb is
// written as dockerd writes it. For the files pane and wasted-space tests.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { contentPadding, encodeHeader, END_OF_ARCHIVE, TYPE } from '../../drivers/archive/tar-header.js';
import { TarSplitWriter } from '../../drivers/archive/tar-split-writer.js';
import { openDriver } from '../../drivers/index.js';
import { StoreBuilder, type BuiltLayer, type DriverName } from './synthetic-store.js';

export type TarSpec =
  | { name: string | Buffer; dir: true; mode?: number; uid?: number; gid?: number }
  | { name: string | Buffer; content: string | Buffer; mode?: number; uid?: number; gid?: number }
  | { name: string | Buffer; symlink: string | Buffer }
  | { name: string | Buffer; hardlink: string | Buffer }
  /** An empty regular file (.wh.NAME, .wh..wh..opq). */
  | { name: string | Buffer; marker: true };

const bytes = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A Docker layer tar of these entries, in this order (directories named with their trailing slash). */
export function layerTar(entries: TarSpec[]): Buffer {
  const parts: Buffer[] = [];
  const mtime = 1_700_000_000;
  for (const e of entries) {
    const name = bytes(e.name);
    if ('dir' in e) {
      const n = name[name.length - 1] === 0x2f ? name : Buffer.concat([name, Buffer.from('/')]);
      parts.push(encodeHeader({ name: n, type: TYPE.dir, mode: 0o40000 | (e.mode ?? 0o755), uid: e.uid ?? 0, gid: e.gid ?? 0, size: 0, mtime }));
    } else if ('content' in e) {
      const body = bytes(e.content);
      parts.push(encodeHeader({ name, type: TYPE.file, mode: 0o100000 | (e.mode ?? 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0, size: body.length, mtime }), body, contentPadding(body.length));
    } else if ('symlink' in e) {
      parts.push(encodeHeader({ name, type: TYPE.symlink, mode: 0o120777, uid: 0, gid: 0, size: 0, mtime, linkname: bytes(e.symlink) }));
    } else if ('hardlink' in e) {
      parts.push(encodeHeader({ name, type: TYPE.hardlink, mode: 0o100644, uid: 0, gid: 0, size: 0, mtime, linkname: bytes(e.hardlink) }));
    } else {
      parts.push(encodeHeader({ name, type: TYPE.file, mode: 0o100000, uid: 0, gid: 0, size: 0, mtime }));
    }
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** A store whose layers are these tars, applied by `driver`; layerdb keeps each one's tar-split. */
export async function storeOfTars(root: string, driverName: DriverName, layers: TarSpec[][], tags: string[] = ['test:latest']) {
  const builder = new StoreBuilder(root, driverName);
  const driver = openDriver(driverName, root)!;
  const built: BuiltLayer[] = [];
  for (let i = 0; i < layers.length; i++) {
    const tar = layerTar(layers[i]);
    const parent = built[i - 1] ?? null;
    const cacheId = sha(`cache ${i} ${root}`);
    const tarSplit = new TarSplitWriter();
    const { size } = await driver.apply({ cacheId, parentCacheId: parent?.cacheId ?? null }, Readable.from([tar]), { tarSplit });
    const diffId = `sha256:${sha(tar)}`;
    const chainId = parent ? `sha256:${sha(`${parent.chainId} ${diffId}`)}` : diffId;
    const dir = join(builder.meta, 'layerdb', 'sha256', chainId.slice(7));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'diff'), diffId);
    writeFileSync(join(dir, 'size'), String(size));
    writeFileSync(join(dir, 'cache-id'), cacheId);
    if (parent) writeFileSync(join(dir, 'parent'), parent.chainId);
    writeFileSync(join(dir, 'tar-split.json.gz'), tarSplit.finish());
    built.push({ chainId, diffId, cacheId, parent, size });
  }
  const imageId = builder.image({ layers: built, tags });
  return { builder, layers: built, imageId };
}
