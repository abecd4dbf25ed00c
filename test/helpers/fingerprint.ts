// A data-root's state as a read-only command must leave it: every path's mode, size, mtime and ctime.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every path's mode, size, mtime and ctime below the data-root (same filesystem only), as one digest. */
export function fingerprint(root: string): string {
  const h = createHash('sha256');
  const dev = lstatSync(root, { bigint: true }).dev;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p, { bigint: true });
      h.update(`${p} ${st.mode} ${st.size} ${st.mtimeNs} ${st.ctimeNs}\n`);
      if (st.isDirectory() && st.dev === dev) walk(p);
    }
  };
  walk(root);
  return h.digest('hex');
}
