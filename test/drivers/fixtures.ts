// Lays out the spec layers on disk the way each driver's dockerd would have left them, so the
// conformance suite can ask the driver about them. (Once drivers can apply tars, this becomes apply.)
// Spec paths are ByteStrings: every file operation takes them as bytes (at()).
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildDevicemapperPool } from '../helpers/dm-pool.js';
import { LAYERS, MTIME, type SpecEntry } from './layer-spec.js';

/** `dir` (a real path) joined with spec path `path` (a ByteString), as bytes. */
function at(dir: string, path: string): Buffer {
  return Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(path, 'latin1')]);
}

/** A 0:0 character device (an overlay whiteout) at spec path `path` below `dir`: made under an ASCII name, renamed into place. */
function mknodWhiteout(dir: string, path: string): void {
  const temp = join(dir, '.strata-whiteout');
  execFileSync('mknod', [temp, 'c', '0', '0']);
  renameSync(temp, at(dir, path));
}

export interface BuiltLayers {
  root: string;
  /** cache ids, base first */
  cacheIds: string[];
}

function writeEntry(dir: string, path: string, e: SpecEntry): void {
  const p = at(dir, path);
  mkdirSync(at(dir, dirname(path)), { recursive: true });
  switch (e.type) {
    case 'dir':
      mkdirSync(p, { recursive: true });
      chownSync(p, e.uid ?? 0, e.gid ?? 0);
      chmodSync(p, e.mode);
      break;
    case 'file':
      if (e.link) linkSync(at(dir, e.link), p);
      else {
        writeFileSync(p, e.content);
        chownSync(p, e.uid ?? 0, e.gid ?? 0); // before chmod: chown clears setuid bits
        chmodSync(p, e.mode);
      }
      break;
    case 'symlink':
      symlinkSync(Buffer.from(e.target, 'latin1'), p);
      return;
    case 'fifo':
      execFileSync('mkfifo', ['-m', e.mode.toString(8), join(dir, path)]); // (the spec's FIFOs have ASCII names)
      break;
  }
  utimesSync(p, MTIME, MTIME);
}

/** Fixes directory times last: creating entries inside a directory changes its mtime. */
function settleDirTimes(dir: string, paths: string[]): void {
  for (const p of paths.sort().reverse()) utimesSync(at(dir, p), MTIME, MTIME);
}

export const FIXTURES: Record<string, (root: string) => BuiltLayers> = {
  aufs(root) {
    const home = join(root, 'aufs');
    for (const d of ['diff', 'layers', 'mnt']) mkdirSync(join(home, d), { recursive: true });
    const cacheIds: string[] = [];
    LAYERS.forEach((layer, i) => {
      const id = `layer${i}`.padEnd(64, '0');
      const diff = join(home, 'diff', id);
      mkdirSync(diff);
      const dirs: string[] = [];
      for (const [p, e] of Object.entries(layer.set)) {
        writeEntry(diff, p, e);
        if (e.type === 'dir') dirs.push(p);
      }
      for (const p of layer.opaque ?? []) writeFileSync(at(diff, `${p}/.wh..wh..opq`), '');
      for (const p of layer.delete ?? []) {
        mkdirSync(at(diff, dirname(p)), { recursive: true });
        writeFileSync(at(diff, `${dirname(p)}/.wh.${p.split('/').pop()}`), '');
      }
      for (const p of [...(layer.delete ?? []), ...Object.keys(layer.set)]) {
        for (let d = dirname(p); d !== '.'; d = dirname(d)) if (!dirs.includes(d)) dirs.push(d);
      }
      for (const d of dirs) {
        const e = (layer.set[d] ?? LAYERS.slice(0, i).reverse().map((l) => l.set[d]).find(Boolean)) as SpecEntry | undefined;
        if (e && e.type === 'dir') {
          chownSync(at(diff, d), e.uid ?? 0, e.gid ?? 0);
          chmodSync(at(diff, d), e.mode);
        }
      }
      settleDirTimes(diff, dirs);
      // aufs's own bookkeeping in a branch it has mounted: never part of the layer.
      writeFileSync(join(diff, '.wh..wh.aufs'), '');
      mkdirSync(join(diff, '.wh..wh.orph'));
      mkdirSync(join(diff, '.wh..wh.plnk'));
      writeFileSync(join(home, 'layers', id), [...cacheIds].reverse().map((c) => `${c}\n`).join(''));
      mkdirSync(join(home, 'mnt', id));
      cacheIds.push(id);
    });
    return { root, cacheIds };
  },

  overlay2(root) {
    const home = join(root, 'overlay2');
    mkdirSync(join(home, 'l'), { recursive: true });
    const cacheIds: string[] = [];
    const links: string[] = [];
    LAYERS.forEach((layer, i) => {
      const id = `layer${i}`.padEnd(64, '0');
      const diff = join(home, id, 'diff');
      mkdirSync(diff, { recursive: true });
      const dirs: string[] = [];
      for (const p of layer.opaque ?? []) {
        const e = layer.set[p] as SpecEntry;
        writeEntry(diff, p, e);
        execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(diff, p)]);
      }
      for (const p of layer.delete ?? []) {
        mkdirSync(at(diff, dirname(p)), { recursive: true });
        mknodWhiteout(diff, p);
      }
      for (const [p, e] of Object.entries(layer.set)) {
        if (!(layer.opaque ?? []).includes(p)) writeEntry(diff, p, e);
        if (e.type === 'dir') dirs.push(p);
      }
      // Parents the layer touched exist in the upper dir with the lower's metadata (overlay copy-up).
      for (const p of [...(layer.delete ?? []), ...Object.keys(layer.set)]) {
        for (let d = dirname(p); d !== '.'; d = dirname(d)) if (!dirs.includes(d)) dirs.push(d);
      }
      for (const d of dirs) {
        const below = LAYERS.slice(0, i).reverse().map((l) => l.set[d]).find(Boolean) as SpecEntry | undefined;
        const own = layer.set[d] as SpecEntry | undefined;
        const e = own ?? below;
        if (e && e.type === 'dir') {
          chownSync(at(diff, d), e.uid ?? 0, e.gid ?? 0);
          chmodSync(at(diff, d), e.mode);
        }
      }
      settleDirTimes(diff, dirs);
      const short = `L${i}`.padEnd(26, 'X');
      writeFileSync(join(home, id, 'link'), short);
      symlinkSync(`../${id}/diff`, join(home, 'l', short));
      if (links.length) writeFileSync(join(home, id, 'lower'), links.map((l) => `l/${l}`).join(':'));
      links.unshift(short);
      cacheIds.push(id);
    });
    return { root, cacheIds };
  },

  /** Each layer a thin device of a real thin-pool (thin_restore), ext4 with the layer's full copy at /rootfs. */
  devicemapper(root) {
    const vfsRoot = mkdtempSync(join(tmpdir(), 'strata-vfs-for-dm-'));
    try {
      const { cacheIds } = FIXTURES.vfs(vfsRoot);
      const devices = cacheIds.map((id, i) => ({ hash: id, parentHash: i > 0 ? cacheIds[i - 1] : null, rootfs: join(vfsRoot, 'vfs', 'dir', id) }));
      buildDevicemapperPool(join(root, 'devicemapper'), devices, { fs: 'ext4', deviceBytes: 64 << 20 });
      return { root, cacheIds };
    } finally {
      rmSync(vfsRoot, { recursive: true, force: true });
    }
  },

  vfs(root) {
    const home = join(root, 'vfs', 'dir');
    mkdirSync(home, { recursive: true });
    const cacheIds: string[] = [];
    LAYERS.forEach((layer, i) => {
      const id = `layer${i}`.padEnd(64, '0');
      const dir = join(home, id);
      if (i > 0) execFileSync('cp', ['-a', join(home, cacheIds[i - 1]), dir]);
      else mkdirSync(dir);
      for (const p of [...(layer.delete ?? []), ...(layer.opaque ?? [])]) rmSync(at(dir, p), { recursive: true, force: true });
      const dirs: string[] = [];
      for (const [p, e] of Object.entries(layer.set)) {
        writeEntry(dir, p, e);
        if (e.type === 'dir') dirs.push(p);
      }
      for (const p of [...(layer.delete ?? []), ...Object.keys(layer.set)]) {
        for (let d = dirname(p); d !== '.'; d = dirname(d)) if (!dirs.includes(d)) dirs.push(d);
      }
      settleDirTimes(dir, dirs);
      cacheIds.push(id);
    });
    return { root, cacheIds };
  },
};
