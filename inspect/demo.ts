// The built-in demo store: sample images made once with a real dockerd (text files only, saved with
// docker save, kept base64-encoded in inspect/demo/), loaded offline into a fresh data-root.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errnoOf, fsError, StrataError } from '../native/errors.js';
import { loadArchive, type LoadedImage } from './load.js';
import { withWriteSession } from './open-for-write.js';

/** Where the sample archive is, from the sources or from the bundled dist/strata.js. */
export function demoArchivePath(): string {
  // From the sources (inspect/), the bundle (dist/) or one of its chunks (dist/chunks/).
  for (const candidate of ['./demo/demo-images.tar.b64', '../inspect/demo/demo-images.tar.b64', '../../inspect/demo/demo-images.tar.b64']) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new StrataError('missing from this installation (reinstall strata)', { file: 'inspect/demo/demo-images.tar.b64' });
}

/** Refuses a --dir that is a file, or a directory that already holds something (a data-root, say). */
function checkDemoDir(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    if (errnoOf(err) === 'ENOTDIR') throw new StrataError('not a directory (demo --dir builds a new store: name a new or empty directory)', { file: dir, cause: err });
    throw fsError(dir, err);
  }
  if (entries.length > 0) throw new StrataError('not empty (demo --dir builds a new store: name a new or empty directory)', { file: dir });
}

/** Builds the demo store in `root` (new or empty), or in a new temporary directory. */
export async function buildDemoStore(root?: string): Promise<{ root: string; images: LoadedImage[] }> {
  if (root !== undefined) checkDemoDir(root);
  const dir = root ?? mkdtempSync(join(tmpdir(), 'strata-demo-'));
  // The sample archive is unpacked beside the store, never into it.
  const scratch = mkdtempSync(join(tmpdir(), 'strata-demo-archive-'));
  try {
    const tar = join(scratch, 'demo-images.tar');
    writeFileSync(tar, Buffer.from(readFileSync(demoArchivePath(), 'utf8').replace(/\s+/g, ''), 'base64'));
    // vfs needs no kernel feature and no privilege beyond owning the files: the demo runs anywhere.
    const images = await withWriteSession(dir, { command: 'demo', driver: 'vfs' }, (session) => loadArchive(tar, { session }));
    return { root: dir, images };
  } catch (err) {
    if (root === undefined) rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
