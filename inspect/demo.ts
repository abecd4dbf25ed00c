// The built-in demo store: sample images made once with a real dockerd (text files only, saved with
// docker save, kept base64-encoded in inspect/demo/), loaded offline into a fresh data-root.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDriver } from '../drivers/index.js';
import { loadArchive, type LoadedImage } from './load.js';

/** Where the sample archive is, from the sources or from the bundled dist/strata.js. */
export function demoArchivePath(): string {
  for (const candidate of ['./demo/demo-images.tar.b64', '../inspect/demo/demo-images.tar.b64']) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('inspect/demo/demo-images.tar.b64 is missing from this installation');
}

export async function buildDemoStore(root?: string): Promise<{ root: string; images: LoadedImage[] }> {
  const dir = root ?? mkdtempSync(join(tmpdir(), 'strata-demo-'));
  mkdirSync(dir, { recursive: true });
  const tar = join(dir, '.demo-images.tar');
  writeFileSync(tar, Buffer.from(readFileSync(demoArchivePath(), 'utf8').replace(/\s+/g, ''), 'base64'));
  try {
    // vfs needs no kernel feature and no privilege beyond owning the files: the demo runs anywhere.
    const images = await loadArchive(tar, { root: dir, driver: openDriver('vfs', dir)! });
    return { root: dir, images };
  } finally {
    rmSync(tar, { force: true });
  }
}
