// A data-root's state as a read-only command must leave it: every path's mode, size, mtime and ctime.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Every path's mode, size, mtime and ctime below the data-root (same filesystem only), as one digest. */
export function fingerprint(root: string, opts: { linked?: boolean } = {}): string {
  const h = createHash('sha256');
  const dev = lstatSync(root, { bigint: true }).dev;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p, { bigint: true });
      // linked: a regular file may have gained hard links elsewhere (a migration's), which changes its
      // ctime and link count only; its owner, mode, size, mtime and every byte are compared instead.
      if (opts.linked && st.isFile()) h.update(`${p} ${st.mode} ${st.uid}:${st.gid} ${st.size} ${st.mtimeNs} ${createHash('sha256').update(readFileSync(p)).digest('hex')}\n`);
      else h.update(`${p} ${st.mode} ${st.size} ${st.mtimeNs} ${st.ctimeNs}\n`);
      if (st.isDirectory() && st.dev === dev) walk(p);
    }
  };
  walk(root);
  return h.digest('hex');
}

/**
 * What a data-root holds, comparable between two roots: every path below it (relative), its type, mode,
 * owner, size, content digest or link target, and its mtime where `mtimes` says it was restored from a
 * tar (layer contents) rather than stamped when written. Entries matching `ignore` are left out.
 */
export function contentFingerprint(root: string, opts: { mtimes?: (rel: string) => boolean; ignore?: (rel: string) => boolean } = {}): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (opts.ignore?.(r)) continue;
      const p = join(dir, name);
      const st = lstatSync(p, { bigint: true });
      let what = '';
      if (st.isFile()) what = createHash('sha256').update(readFileSync(p)).digest('hex');
      else if (st.isSymbolicLink()) what = readlinkSync(p);
      const mtime = opts.mtimes?.(r) ? ` ${st.mtimeNs}` : '';
      out.push(`${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '-' : st.size} ${what}${mtime}`);
      if (st.isDirectory()) walk(p, r);
    }
  };
  walk(root, '');
  return out;
}
