// Is what `apply` was given a whole image archive rather than one layer? A `docker save` archive or an
// OCI image layout would apply as one odd layer (and then show up as leaked); it is recognised from its
// first entries, held back while they are looked at and then passed on, so a layer is read only once.
import { readTar } from '../drivers/archive/tar-reader.js';
import { StrataError } from '../native/errors.js';

export class NotALayerError extends StrataError {
  override name = 'NotALayerError';
}

/** How much of the stream is looked at: a save archive's telling entries come first, or near it. */
const WINDOW_BYTES = 64 * 1024;
const WINDOW_ENTRIES = 64;

const HEX64 = '[0-9a-f]{64}';
/** docker save (≤ 24): one directory per layer, <id>/{VERSION,json,layer.tar}, written before manifest.json. */
const SAVE_LAYER_ENTRY = new RegExp(`^${HEX64}/(layer\\.tar|VERSION)$`);
/** An OCI layout's blobs (docker save ≥ 25 writes them first). */
const OCI_BLOB_ENTRY = new RegExp(`^blobs/sha256/${HEX64}$`);

type Json = Record<string, unknown> | unknown[] | null;

function parseJson(bytes: Buffer): Json {
  try {
    return JSON.parse(bytes.toString('utf8')) as Json;
  } catch {
    return null;
  }
}

/** What a top-level JSON entry makes the archive, judged by its content (a layer may hold a file of that name). */
function kindOfTopJson(name: string, doc: Json): string | null {
  if (!doc || typeof doc !== 'object') return null;
  if (name === 'manifest.json' && Array.isArray(doc) && doc.some((m) => m && typeof m === 'object' && 'Config' in m && 'Layers' in m)) return 'a docker save archive (manifest.json)';
  if (name === 'index.json' && !Array.isArray(doc) && Array.isArray(doc.manifests)) return 'an OCI image layout (index.json)';
  if (name === 'oci-layout' && !Array.isArray(doc) && 'imageLayoutVersion' in doc) return 'an OCI image layout (oci-layout)';
  return null;
}

async function collect(content: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of content) parts.push(part);
  return Buffer.concat(parts);
}

/** What kind of image archive the tar starting with `head` is, or null for anything else (a layer). */
export async function imageArchiveKind(head: Buffer): Promise<string | null> {
  let seen = 0;
  try {
    for await (const { entry, content } of readTar([head])) {
      if (++seen > WINDOW_ENTRIES) return null;
      if (entry.type !== '0') continue;
      const name = entry.name.replace(/^(\.\/)+/, '');
      if (SAVE_LAYER_ENTRY.test(name)) return `a docker save archive (${name})`;
      if (OCI_BLOB_ENTRY.test(name)) return `an OCI image layout (${name})`;
      if (['manifest.json', 'index.json', 'oci-layout'].includes(name) && entry.size <= WINDOW_BYTES) {
        const kind = kindOfTopJson(name, parseJson(await collect(content)));
        if (kind) return kind;
      }
    }
  } catch {
    // the window ends inside an entry, or the tar is malformed: applying it will say so
  }
  return null;
}

/**
 * Passes a layer tar through unchanged, but refuses, before a byte reaches the layer, one whose first
 * entries show it is a whole image archive: that is for `strata load`.
 */
export async function* refusingImageArchives(tar: AsyncIterable<Buffer>, file: string): AsyncGenerator<Buffer> {
  const it = tar[Symbol.asyncIterator]();
  try {
    const head: Buffer[] = [];
    let length = 0;
    let done = false;
    while (length < WINDOW_BYTES) {
      const r = await it.next();
      if (r.done) {
        done = true;
        break;
      }
      head.push(r.value);
      length += r.value.length;
    }
    const kind = await imageArchiveKind(Buffer.concat(head));
    if (kind) throw new NotALayerError(`${kind}, not a layer tar: load it with \`strata load\``, { file });
    yield* head;
    if (done) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  } finally {
    await it.return?.();
  }
}
