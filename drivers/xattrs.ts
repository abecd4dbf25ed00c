// Extended attributes of a whole tree in one pass. Node has no getxattr, so this asks getfattr (Debian's
// attr package) once per tree: overlay opaque markers and file capabilities are all strata needs.
import { StrataError } from '../native/errors.js';
import { spawn } from 'node:child_process';
import { byteString, walkReadsXattrs, walkTree, type ByteString, type WalkEntry } from '../snapshots/walk.js';

/** Absolute path (the ByteString of its bytes, see snapshots/walk.ts) → attribute name → value. */
export type XattrTree = Map<ByteString, Map<string, Buffer>>;

export class XattrToolError extends StrataError {
  override name = 'XattrToolError';
}

/**
 * A file name as getfattr prints it, back to its bytes: getfattr writes bytes from 0x80 up as they are,
 * and control characters and the backslash as \ooo (older versions a backslash as \\). `text` holds the
 * printed bytes one char per byte (a ByteString), so no byte is lost to decoding.
 */
export function unescapeGetfattrPath(text: ByteString): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c && /^[0-7]{3}$/.test(text.slice(i + 1, i + 4))) {
      bytes.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    } else if (c === 0x5c && text[i + 1] === '\\') {
      bytes.push(0x5c);
      i += 1;
    } else bytes.push(c & 0xff);
  }
  return Buffer.from(bytes);
}

/** A value as getfattr prints it (`v` a ByteString): base64 ("0s…"), hex ("0x…") or quoted text. */
function decodeValue(v: ByteString): Buffer {
  if (v.startsWith('0s')) return Buffer.from(v.slice(2), 'base64');
  if (v.startsWith('0x')) return Buffer.from(v.slice(2), 'hex');
  if (v.startsWith('"') && v.endsWith('"')) return Buffer.from(v.slice(1, -1), 'latin1');
  return Buffer.from(v, 'latin1');
}

/** getfattr's dump, as its bytes (or as a ByteString of them). */
export function parseGetfattrDump(dump: Buffer | ByteString): XattrTree {
  const text = typeof dump === 'string' ? dump : dump.toString('latin1');
  const tree: XattrTree = new Map();
  let current: Map<string, Buffer> | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      tree.set(byteString(unescapeGetfattrPath(line.slice('# file: '.length))), current);
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
      else resolve(parseGetfattrDump(Buffer.concat(out)));
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
      const xattrs = tree.get(byteString(e.path));
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
