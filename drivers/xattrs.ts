// Extended attributes of a whole tree in one pass. Node has no getxattr, so this asks getfattr (Debian's
// attr package) once per tree: overlay opaque markers and file capabilities are all strata needs.
import { StrataError } from '../native/errors.js';
import { spawn } from 'node:child_process';
import { walkReadsXattrs, walkTree, type WalkEntry } from '../snapshots/walk.js';

/** Absolute path → attribute name → value. */
export type XattrTree = Map<string, Map<string, Buffer>>;

export class XattrToolError extends StrataError {
  override name = 'XattrToolError';
}

/** getfattr prints non-printable bytes of file names as \ooo and a backslash as \\. */
export function unescapeGetfattrPath(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c && /^[0-7]{3}$/.test(text.slice(i + 1, i + 4))) {
      bytes.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    } else if (c === 0x5c && text[i + 1] === '\\') {
      bytes.push(0x5c);
      i += 1;
    } else {
      for (const b of Buffer.from(text[i], 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeValue(v: string): Buffer {
  if (v.startsWith('0s')) return Buffer.from(v.slice(2), 'base64');
  if (v.startsWith('0x')) return Buffer.from(v.slice(2), 'hex');
  if (v.startsWith('"') && v.endsWith('"')) return Buffer.from(v.slice(1, -1), 'utf8');
  return Buffer.from(v, 'utf8');
}

export function parseGetfattrDump(text: string): XattrTree {
  const tree: XattrTree = new Map();
  let current: Map<string, Buffer> | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      tree.set(unescapeGetfattrPath(line.slice('# file: '.length)), current);
    } else if (current && line.includes('=')) {
      const eq = line.indexOf('=');
      current.set(line.slice(0, eq), decodeValue(line.slice(eq + 1)));
    }
  }
  return tree;
}

/** Every extended attribute below `dir` (the directory itself included), without following symlinks. */
export function readXattrTree(dir: string): Promise<XattrTree> {
  return new Promise((resolve, reject) => {
    const child = spawn('getfattr', ['--absolute-names', '-R', '-P', '-h', '-d', '-m', '-', '-e', 'base64', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(new XattrToolError(e.code === 'ENOENT' ? 'getfattr not found: install the attr package to read overlay opaque markers and capabilities' : e.message)),
    );
    child.on('close', (code) => {
      if (code !== 0 && out.length === 0 && err) reject(new XattrToolError(`getfattr ${dir}: ${err.trim().split('\n')[0]}`));
      else resolve(parseGetfattrDump(Buffer.concat(out).toString('utf8')));
    });
  });
}

/**
 * walkTree's entries with their extended attributes: read by the native scan as it goes, or else by one
 * getfattr pass over the tree first.
 */
export async function walkTreeWithXattrs(dir: string): Promise<Iterable<WalkEntry>> {
  if (walkReadsXattrs()) return walkTree(dir, { xattrs: true });
  const tree = await readXattrTree(dir);
  return (function* () {
    for (const e of walkTree(dir)) {
      const xattrs = tree.get(e.path);
      yield xattrs ? { ...e, xattrs } : e;
    }
  })();
}

export const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque'];

export function isOpaque(attrs: Map<string, Buffer> | undefined): boolean {
  if (!attrs) return false;
  return OPAQUE_XATTRS.some((k) => {
    const v = attrs.get(k);
    return v !== undefined && v.length === 1 && v[0] === 0x79; // "y"
  });
}
