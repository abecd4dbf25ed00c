// Walks a tree in Go's filepath.Walk order (pre-order, names sorted by their bytes), which is the order
// Docker archives and reports changes in.
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';

export interface WalkEntry {
  /** Path relative to the walked root, no leading slash ("etc/hosts"). */
  name: string;
  path: string;
  stat: Stats;
}

export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Every entry below `root` (not the root itself), parents before children. */
export function* walkTree(root: string): Generator<WalkEntry> {
  const stack: Array<{ dir: string; prefix: string; names: string[]; i: number }> = [];
  const open = (dir: string, prefix: string) => stack.push({ dir, prefix, names: readdirSync(dir).sort(byteOrder), i: 0 });
  open(root, '');
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.i >= top.names.length) {
      stack.pop();
      continue;
    }
    const base = top.names[top.i++];
    const path = join(top.dir, base);
    const stat = lstatSync(path);
    const name = top.prefix + base;
    yield { name, path, stat };
    if (stat.isDirectory()) open(path, `${name}/`);
  }
}
