// Docker's tags and digests (image/<driver>/repositories.json): familiar reference → image id.
import { isSha256Digest } from '../digest.js';
import type { Reference } from '../model.js';
import { parseReference } from '../reference.js';
import { MetadataReader, Unread } from './files.js';

/** A repositories file's contents ({"Repositories": {name: {key: id}}}); null when absent or unreadable (recorded). */
export function readRepositoriesFile(r: MetadataReader, file: string): { Repositories?: Record<string, Record<string, string>> } | null {
  const data = r.json<{ Repositories?: Record<string, Record<string, string>> }>(file, true);
  if (data instanceof Unread) {
    r.unreadable.parts.push({ part: 'references', file: data.file, reason: data.reason });
    return null;
  }
  return data;
}

export function readReferences(r: MetadataReader, file: string): Reference[] {
  const data = readRepositoriesFile(r, file);
  if (data === null) return [];
  const refs: Reference[] = [];
  for (const repo of Object.values(data.Repositories ?? {})) {
    for (const [ref, imageId] of Object.entries(repo ?? {})) {
      const parsed = parseReference(ref);
      if (!parsed || typeof imageId !== 'string' || !isSha256Digest(imageId)) {
        r.warn(file, `unreadable reference ${JSON.stringify(ref)} → ${JSON.stringify(imageId)}`);
        continue;
      }
      refs.push({ ref, name: parsed.name, tag: parsed.tag, digest: parsed.digest, imageId });
    }
  }
  return refs;
}
