// A tree as one line per path ("file 644 0:0 12"): what a mount shows, or what an exported tar holds.
import { createReadStream, lstatSync, readlinkSync } from 'node:fs';
import { readTar } from '../../drivers/archive/tar-reader.js';
import { walkTree } from '../../snapshots/walk.js';

const TYPES: Record<string, string> = { '0': 'file', '1': 'file', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

function describeStat(path: string | Buffer): string {
  const st = lstatSync(path);
  const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'other';
  const extra = type === 'file' ? ` ${st.size}` : type === 'symlink' ? ` -> ${readlinkSync(path)}` : '';
  return `${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}${extra}`;
}

export function listMounted(dir: string): Map<string, string> {
  return new Map([...walkTree(dir)].map((e) => [e.name.toString(), describeStat(e.path)]));
}

export async function listTar(file: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const hardlinks: Array<[string, string]> = [];
  for await (const { entry } of readTar(createReadStream(file))) {
    const name = entry.name.replace(/^\.?\//, '').replace(/\/$/, '');
    if (!name) continue;
    if (entry.type === '1') {
      hardlinks.push([name, entry.linkname.replace(/^\.?\//, '')]);
      continue;
    }
    const type = TYPES[entry.type] ?? entry.type;
    const extra = type === 'file' ? ` ${entry.size}` : type === 'symlink' ? ` -> ${entry.linkname}` : '';
    out.set(name, `${type} ${(entry.mode & 0o7777).toString(8)} ${entry.uid}:${entry.gid}${extra}`);
  }
  for (const [name, target] of hardlinks) out.set(name, out.get(target)!);
  return out;
}

export const sortedEntries = (m: Map<string, string>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
