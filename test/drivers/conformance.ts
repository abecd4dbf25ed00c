// The driver conformance suite: every driver answers the same questions about the same layers —
// its view of the root filesystem, the changes of a layer, its DiffSize, and a diff tar that, applied
// to the parent's view, gives the layer's view again (whiteouts, opaque dirs and hardlinks included).
// Paths are compared as ByteStrings (one char per byte): the spec holds names that are not UTF-8.
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { readTar } from '../../drivers/archive/tar-reader.js';
import { linkedFromTarSplit } from '../../drivers/archive/assemble.js';
import { TarSplitWriter } from '../../drivers/archive/tar-split-writer.js';
import { tarBytes } from '../../drivers/archive/chunks.js';
import { nativeHelpers } from '../../native/index.js';
import type { DirectoryChange, StorageDriver } from '../../drivers/types.js';
import { writeToFd } from '../../inspect/layer-export.js';
import type { SnapshotNode } from '../../snapshots/tree.js';
import type { BuiltLayers } from './fixtures.js';
import { LAYERS, viewAfter, type ViewEntry } from './layer-spec.js';

const S_IFMT = 0o170000;
const typeOfMode = (mode: number): ViewEntry['type'] | 'other' =>
  ({ 0o040000: 'dir', 0o100000: 'file', 0o120000: 'symlink', 0o010000: 'fifo' } as Record<number, ViewEntry['type']>)[mode & S_IFMT] ?? 'other';

/** A driver's view reduced to what the spec says (types, permissions, owners; contents checked separately). */
function flatten(node: SnapshotNode, prefix = '', out = new Map<string, { type: string; mode?: number; uid: number; gid: number }>()) {
  for (const [name, child] of node.children ?? []) {
    const path = prefix ? `${prefix}/${name}` : name;
    const type = typeOfMode(child.meta.mode);
    out.set(path, { type, mode: type === 'symlink' ? undefined : child.meta.mode & 0o7777, uid: child.meta.uid, gid: child.meta.gid });
    flatten(child, path, out);
  }
  return out;
}

function expectedFlat(n: number) {
  const out = new Map<string, { type: string; mode?: number; uid: number; gid: number }>();
  for (const [p, e] of viewAfter(n)) out.set(p, { type: e.type, mode: e.mode, uid: e.uid, gid: e.gid });
  return out;
}

const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));

/** Inodes of the non-empty regular files below `dir` (names as bytes). */
function regularInodes(dir: string | Buffer): number[] {
  const out: number[] = [];
  for (const name of readdirSync(dir, { encoding: 'buffer' })) {
    const p = Buffer.concat([Buffer.from(dir), Buffer.from('/'), name]);
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(...regularInodes(p));
    else if (st.isFile() && st.size > 0) out.push(st.ino);
  }
  return out;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Applies a layer tar to a view the way Docker's ApplyDiff does (AUFS-style whiteouts). */
async function applyTar(view: Map<string, ViewEntry>, tar: AsyncIterable<Buffer>): Promise<Map<string, ViewEntry>> {
  const out = new Map(view);
  const written = new Set<string>();
  const removeUnder = (p: string, keepWritten: boolean) => {
    for (const k of [...out.keys()]) if ((k === p || k.startsWith(`${p}/`)) && !(keepWritten && written.has(k))) out.delete(k);
  };
  for await (const { entry, content } of readTar(tar)) {
    const name = entry.nameBytes.toString('latin1').replace(/^\.\//, '').replace(/\/$/, '');
    const linkname = entry.linknameBytes.toString('latin1');
    if (name === '') continue;
    const slash = name.lastIndexOf('/');
    const dir = slash < 0 ? '' : name.slice(0, slash);
    const base = name.slice(slash + 1);
    if (base === '.wh..wh..opq') {
      for (const k of [...out.keys()]) if (k.startsWith(`${dir}/`) && !written.has(k)) out.delete(k);
      continue;
    }
    if (base.startsWith('.wh.')) {
      removeUnder(dir ? `${dir}/${base.slice(4)}` : base.slice(4), false);
      continue;
    }
    const chunks: Buffer[] = [];
    for await (const c of content) chunks.push(c);
    let e: ViewEntry;
    if (entry.type === '1') {
      const target = out.get(linkname.replace(/^\.\//, ''));
      if (!target) throw new Error(`hardlink ${name} to missing ${entry.linkname}`);
      e = { ...target };
    } else {
      const type = ({ '0': 'file', '5': 'dir', '2': 'symlink', '6': 'fifo' } as Record<string, ViewEntry['type']>)[entry.type];
      if (!type) throw new Error(`unexpected tar entry type ${entry.type} for ${name}`);
      e = { type, uid: entry.uid, gid: entry.gid };
      if (type !== 'symlink') e.mode = entry.mode & 0o7777;
      if (type === 'file') e.content = Buffer.concat(chunks).toString();
      if (type === 'symlink') e.target = linkname;
    }
    if (out.get(name)?.type === 'dir' && e.type !== 'dir') removeUnder(name, false);
    out.set(name, e);
    written.add(name);
  }
  return out;
}

export async function driverConformance(t: Test, driver: StorageDriver, built: BuiltLayers): Promise<void> {
  const ref = (i: number) => ({ cacheId: built.cacheIds[i], parentCacheId: i > 0 ? built.cacheIds[i - 1] : null });

  await t.test('view: the root filesystem at each layer', async (t) => {
    for (let i = 0; i < LAYERS.length; i++) {
      const view = await driver.view(built.cacheIds[i]);
      t.same(sorted(flatten(view)), sorted(expectedFlat(i)), `after layer ${LAYERS[i].name}`);
    }
  });

  await t.test('changes: what each layer added, changed, deleted', async (t) => {
    t.same(
      (await driver.changes(ref(0))).map((c) => `${c.kind} ${c.path.toString('latin1')}`),
      [...viewAfter(0).keys()].sort().map((p) => `A /${p}`),
      'base layer: everything added',
    );
    t.same(
      (await driver.changes(ref(1))).map((c) => `${c.kind} ${c.path.toString('latin1')}`),
      ['C /bin', 'D /bin/tool-alias', 'C /cache', 'D /cache/a', 'D /cache/b', 'A /cache/c', 'C /caf\xe9.txt', 'C /data', 'D /data/old.txt', 'D /data/sub', 'D /d\xff', 'C /etc', 'C /etc/config', 'A /etc/new'],
      'second layer: the same list from every driver, in byte order',
    );
  });

  await t.test('diffSize: bytes of added and changed files', async (t) => {
    t.equal(driver.diffSize(ref(1)), 'a=2\nb=3\n'.length + 'new file\n'.length + 'c'.length + 'latin-1 v2\n'.length);
  });

  await t.test('diff round trip: parent view + diff tar = layer view', async (t) => {
    let view = new Map<string, ViewEntry>();
    for (let i = 0; i < LAYERS.length; i++) {
      view = await applyTar(view, driver.diff(ref(i)));
      const want = viewAfter(i);
      t.same(sorted(view), sorted(want), `after applying layer ${LAYERS[i].name}`);
    }
  });

  await t.test('diff keeps hardlinks as links', async (t) => {
    const links: string[] = [];
    for await (const { entry } of readTar(driver.diff(ref(0)))) if (entry.type === '1') links.push(`${entry.nameBytes.toString('latin1')} -> ${entry.linknameBytes.toString('latin1')}`);
    t.same(links, ['bin/tool-alias -> bin/tool', 'h\xe9-2 -> h\xe9-1'], 'names and link names as their bytes');
  });

  if (!driver.capabilities.writable) {
    await t.test('a read-only driver refuses every write in one line, and keeps its layers', async (t) => {
      const before = driver.listLayerIds().sort();
      await t.rejects(driver.apply({ cacheId: 'f'.repeat(64), parentCacheId: built.cacheIds[0] }, [Buffer.alloc(1024)]), { message: /read-only/ });
      t.throws(() => driver.remove(built.cacheIds[1]), { message: /read-only/ });
      t.throws(() => driver.mounts(ref(1), '/mnt', { readOnly: false }), { message: /read-only/ }, 'no writable mount');
      t.same(driver.listLayerIds().sort(), before);
      for (const id of built.cacheIds) {
        const paths = driver.layerPaths(id);
        t.ok(paths.includes(driver.layerHome(id)) && paths.every((p) => p.startsWith(`${driver.home}/`)), `layerPaths of ${id.slice(0, 6)}: its home, inside the driver's`);
      }
      t.same(sorted(flatten(await driver.view(built.cacheIds[1]))), sorted(expectedFlat(1)), 'the layers are intact');
    });
  } else {
    await t.test('a layer on a missing parent is refused, and leaves nothing', async (t) => {
      const before = driver.listLayerIds().sort();
      await t.rejects(driver.apply({ cacheId: 'f'.repeat(64), parentCacheId: 'e'.repeat(64) }, [Buffer.alloc(1024)]), /parent layer missing/);
      t.same(driver.listLayerIds().sort(), before);
    });

    await t.test('apply with linkFiles: a layer made of another layer\'s files, linked, with the same view', { skip: !nativeHelpers()?.linkFd && 'native helpers without linkFd' }, async (t) => {
      // Layer 1 applied again (its diff tar, its tar-split recorded), then once more from that tar-split
      // with its files left on disk: the third is made of the second's inodes.
      const [copyId, linkedId] = ['c'.repeat(64), 'b'.repeat(64)];
      const writer = new TarSplitWriter();
      await driver.apply({ cacheId: copyId, parentCacheId: built.cacheIds[0] }, [Buffer.concat(await collect(tarBytes(driver.diff(ref(1)))))], { tarSplit: writer, allowDevices: true });
      const dir = mkdtempSync(join(tmpdir(), 'strata-conformance-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(join(dir, 'tar-split.json.gz'), writer.finish());
      const files = driver.openLayer(copyId);
      const r = await driver.apply({ cacheId: linkedId, parentCacheId: built.cacheIds[0] }, linkedFromTarSplit(join(dir, 'tar-split.json.gz'), files), { linkFiles: true, allowDevices: true });
      files.close();
      t.teardown(() => (driver.remove(linkedId), driver.remove(copyId)));
      t.same(sorted(flatten(await driver.view(linkedId))), sorted(expectedFlat(1)), 'the view of layer 1');
      t.ok((r.linked ?? 0) > 0, `files linked (${r.linked})`);
      const inodes = (id: string) => new Set(regularInodes(driver.contentDir(id)));
      const shared = [...inodes(linkedId)].filter((ino) => inodes(copyId).has(ino));
      t.equal(shared.length, r.linked, 'each linked file is the other layer\'s inode');
    });

    await t.test('remove takes the layer away', async (t) => {
      const id = 'd'.repeat(64);
      await driver.apply({ cacheId: id, parentCacheId: built.cacheIds[0] }, [Buffer.alloc(1024)]);
      t.ok(driver.exists(id) && driver.listLayerIds().includes(id), 'an empty layer was created');
      driver.remove(id);
      t.notOk(driver.exists(id) || driver.listLayerIds().includes(id), 'and removed');
      t.same(sorted(flatten(await driver.view(built.cacheIds[0]))), sorted(expectedFlat(0)), 'its parent is intact');
    });

    await t.test('layerPaths: every path the driver keeps for a layer, and nothing else', async (t) => {
      // Two levels of the driver's home: layer directories, and side entries such as overlay2's l/<link>.
      const listing = () => {
        const out: string[] = [];
        for (const a of readdirSync(driver.home)) {
          out.push(a);
          try {
            for (const b of readdirSync(join(driver.home, a))) out.push(`${a}/${b}`);
          } catch {
            // a file: nothing below
          }
        }
        return out.sort();
      };
      const before = listing();
      const id = 'b'.repeat(64);
      await driver.apply({ cacheId: id, parentCacheId: built.cacheIds[0] }, [Buffer.alloc(1024)]);
      const paths = driver.layerPaths(id);
      t.ok(paths.includes(driver.layerHome(id)), 'the layer home is one of them');
      t.ok(paths.every((p) => p.startsWith(`${driver.home}/`)), 'all inside the driver home');
      t.not(listing().join('\n'), before.join('\n'), 'the layer added entries');
      const aside = mkdtempSync(join(driver.root, 'aside-'));
      paths.forEach((p, i) => renameSync(p, join(aside, String(i))));
      t.same(listing(), before, 'moving them away leaves the home as it was before the layer');
      t.notOk(driver.exists(id), 'the layer is gone');
      t.same(driver.layerPaths(id), [], 'a layer with nothing on disk has no paths');
      t.same(sorted(flatten(await driver.view(built.cacheIds[1]))), sorted(expectedFlat(1)), 'the other layers are intact');
      rmSync(aside, { recursive: true, force: true });
    });
  }

  await t.test('diff through the native writer (files copied in the kernel) is byte for byte the JavaScript one', async (t) => {
    if (!nativeHelpers()) return t.pass('no native helpers here');
    const dir = mkdtempSync(join(tmpdir(), 'strata-conformance-'));
    try {
      for (let i = 0; i < LAYERS.length; i++) {
        const chunks: Buffer[] = [];
        for await (const c of tarBytes(driver.diff(ref(i)))) chunks.push(c);
        const file = join(dir, `layer${i}.tar`);
        const fd = openSync(file, 'w');
        const result = await writeToFd(fd, driver.diff(ref(i), { passFiles: true }));
        closeSync(fd);
        const js = Buffer.concat(chunks);
        t.equal(result.bytes, js.length, `layer ${LAYERS[i].name}: the byte count`);
        t.ok(readFileSync(file).equals(js), `layer ${LAYERS[i].name}: the bytes`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  await t.test('openLayer: files are opened beneath the layer directory, never through a symlink', async (t) => {
    const layer = driver.openLayer(built.cacheIds[1]);
    try {
      const { fd, stat } = layer.openEntry(Buffer.from('./etc//config'));
      t.ok(fd !== null && stat.size === 8, 'a regular file is opened, with its size');
      t.equal(readFileSync(fd!, 'utf8'), 'a=2\nb=3\n');
      closeSync(fd!);
      t.equal(layer.openEntry(Buffer.from('etc')).fd, null, 'a directory is described, not opened');
      t.throws(() => layer.openEntry(Buffer.from('etc/../../x')), /climbs out of the layer/);
    } finally {
      layer.close();
    }
    const config = (await driver.view(built.cacheIds[1])).children?.get('etc')?.children?.get('config');
    const opened = driver.openViewEntry(config!.meta.path);
    t.equal(readFileSync(opened.fd!, 'utf8'), 'a=2\nb=3\n', 'what a view hands out opens through the driver');
    closeSync(opened.fd!);
    t.throws(() => driver.openViewEntry(Buffer.from('/etc/passwd')), /not inside a layer directory/);
    if (!driver.capabilities.writable) return; // the planted layer below is made by apply
    // A layer directory planted as a symlink (here to another layer of the same store) is refused.
    const id = 'c'.repeat(64);
    await driver.apply({ cacheId: id, parentCacheId: built.cacheIds[0] }, [Buffer.alloc(1024)]);
    rmSync(driver.contentDir(id), { recursive: true, force: true });
    symlinkSync(driver.contentDir(built.cacheIds[1]), driver.contentDir(id));
    try {
      t.throws(() => driver.openLayer(id), { name: 'LayerEntryError', message: `${driver.contentDir(id)}: is a symbolic link (not followed): a layer directory must be a real directory inside the store` });
      t.throws(() => driver.mounts({ cacheId: id, parentCacheId: built.cacheIds[0] }, '/mnt', { readOnly: true }), /is a symbolic link \(not followed\)/, 'and never named in a mount');
    } finally {
      driver.remove(id);
    }
    t.ok(readFileSync(join(driver.contentDir(built.cacheIds[1]), 'etc', 'config')).length > 0, 'the layer it pointed to is intact');
  });

  await t.test('diff content is what the spec wrote', async (t) => {
    const h = createHash('sha256');
    for await (const { entry, content } of readTar(driver.diff(ref(1)))) {
      if (entry.name === 'etc/config') for await (const c of content) h.update(c);
    }
    t.equal(h.digest('hex'), createHash('sha256').update('a=2\nb=3\n').digest('hex'));
  });

  await t.test('listDirectory: a layer\'s own entries, one directory at a time, whiteouts and opaque dirs understood', async (t) => {
    const B = (s: string) => Buffer.from(s, 'latin1');
    /** Every entry of a layer through listDirectory, descending into every directory it lists. */
    const walk = async (i: number) => {
      const out = new Map<string, DirectoryChange>();
      const queue = [''];
      while (queue.length > 0) {
        const dir = queue.shift()!;
        const listed = await driver.listDirectory(ref(i), B(dir));
        t.same(listed.map((c) => c.name.toString('latin1')), listed.map((c) => c.name.toString('latin1')).sort(), `${dir || 'the root'}: sorted by name bytes`);
        for (const c of listed) {
          const path = dir ? `${dir}/${c.name.toString('latin1')}` : c.name.toString('latin1');
          out.set(path, c);
          if (c.kind === 'dir') queue.push(path);
        }
      }
      return out;
    };
    const base = await walk(0);
    t.same(
      [...base].map(([p, c]) => `${c.kind} ${p}`).sort(),
      [...viewAfter(0)].map(([p, e]) => `${e.type} ${p}`).sort(),
      'the base layer: every entry of it (a hard link is a file like its target)',
    );
    const sh = base.get('bin/sh')!;
    t.ok(sh.linkTarget?.equals(B('tool')), 'a symlink comes with its target');
    t.ok(base.get('l\xe9')!.linkTarget?.equals(B('caf\xe9.txt')), 'names and targets are bytes');
    t.equal(base.get('data')!.uid, 12345);
    t.equal(base.get('data')!.mode & 0o7777, 0o750);
    t.equal(base.get('etc/config')!.size, 4);

    // The second layer reduced to what every driver must agree on: the non-directories it wrote, and the
    // paths it deleted (an opaque directory deletes the lower entries it does not write again).
    const second = await walk(1);
    const written: string[] = [];
    const deleted: string[] = [];
    const opaque: string[] = [];
    for (const [p, c] of second) {
      if (c.kind === 'whiteout') deleted.push(p);
      else if (c.kind !== 'dir') written.push(`${c.kind} ${p} ${c.size}`);
      else if (c.opaque) opaque.push(p);
      t.ok(c.kind === 'dir' || !c.unchanged, `${p}: only directories are listed unchanged`);
    }
    for (const d of opaque) for (const e of await driver.listDirectory(ref(0), B(d))) if (!second.has(`${d}/${e.name.toString('latin1')}`)) deleted.push(`${d}/${e.name.toString('latin1')}`);
    t.same(written.sort(), ['file cache/c 1', 'file caf\xe9.txt 11', 'file etc/config 8', 'file etc/new 9']);
    const noXattrs = driver.name === 'overlay2' && nativeHelpers() === null;
    // Without the native scan overlay2's opaque xattr cannot be read (getfattr is never run per directory).
    t.same(deleted.sort(), ['bin/tool-alias', 'cache/a', 'cache/b', 'data/old.txt', 'data/sub', 'd\xff'].filter((p) => !noXattrs || !p.startsWith('cache/')));
    if (driver.capabilities.nativeDiff && !noXattrs) t.same(opaque, ['cache'], 'a driver that records opaque directories says which');
    if (noXattrs) t.ok([...second.values()].every((c) => c.kind !== 'dir' || c.opaque === null), 'or, when it cannot tell, says so (null)');
    else t.ok([...second.values()].every((c) => c.opaque !== null), 'opaque is known for every entry');

    t.same(await driver.listDirectory(ref(1), B('etc/config')), [], 'a path that is no directory lists nothing');
    t.same(await driver.listDirectory(ref(1), B('no/such')), [], 'nor does a missing one');
    t.same(await driver.listDirectory(ref(0), B('bin/sh')), [], 'a symlink in the layer is never followed');
    await t.rejects(driver.listDirectory(ref(1), B('etc/../..')), /is not a path inside a layer/);
  });
}
