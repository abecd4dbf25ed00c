// Docker's legacy v1 layout (Docker < 1.10): graph/<id>/{json,layersize,tar-data.json.gz}, tags in
// repositories-<driver>, each layer's content in the driver's directory under the same id, containers in
// containers/<id>/config.json. A v1 image *is* a layer with a parent: each graph entry becomes both an
// image and a layer of the model. Its random id stands where a modern store has a content digest, in the
// same `sha256:<hex>` form (v1 ids are 64 hex digits as well), so every command resolves and prints it as
// old docker did; the layer's DiffID is not recorded by v1 (only by a started 1.10 migration, in
// .migration-diffid) and is left unread until the content is hashed (diff, verify).
import { join } from 'node:path';
import { presence } from '../../native/errors.js';
import { isSha256Digest, SHA256_PREFIX } from '../digest.js';
import type { ContainerMount, Image, ImageConfig, Layer, LayerField, Reference, StoreModel } from '../model.js';
import { attachReferences, childrenByParent } from '../model-joins.js';
import { parseReference } from '../reference.js';
import type { ReadStoreOptions } from '../store-layout.js';
import { readContainers } from '../docker/containers.js';
import { readRepositoriesFile } from '../docker/references.js';
import { HEX64, MetadataReader, Unread } from '../docker/files.js';
import { checkedRead } from '../docker/read-store.js';

export const V1_LAYOUT = 'v1';
export const GRAPH_DIR = 'graph';

/** The model's id of a v1 id (bare 64 hex). */
export const v1ModelId = (hex: string): string => SHA256_PREFIX + hex;

/** The v1 id of a model id of a v1 store. */
export const v1HexOf = (id: string): string => (id.startsWith(SHA256_PREFIX) ? id.slice(SHA256_PREFIX.length) : id);

/** A container's config file in containers/<id>/ of a store of this layout. */
export const containerConfigName = (layout: string): string => (layout === V1_LAYOUT ? 'config.json' : 'config.v2.json');

/** graph/<id>/ of a layer or image of a v1 store. */
export function graphEntryDir(root: string, id: string): string {
  return join(root, GRAPH_DIR, v1HexOf(id));
}

/** The fields of a v1 image JSON strata reads (image/image.go V1Image, and 1.9's parent_id). */
interface V1Json {
  id?: unknown;
  parent?: unknown;
  parent_id?: unknown;
  created?: unknown;
  [key: string]: unknown;
}

/** The fields a v1 JSON carries that are not the image's config (moby's v1 migration drops the same). */
const NOT_CONFIG = new Set(['id', 'parent', 'parent_id', 'Size', 'layer_id', 'throwaway']);

interface GraphEntry {
  hex: string;
  json: V1Json | null;
  parent: string | null;
  /** The parent could not be read (json unreadable or naming no valid id). */
  parentUnread: boolean;
}

/** Reads a v1 store into the model. */
export function readV1Store(opts: ReadStoreOptions): StoreModel {
  const r = new MetadataReader();
  const graph = join(opts.root, GRAPH_DIR);
  const listed = r.list(graph);
  const names = listed instanceof Unread || listed === null ? [] : listed.filter((n) => HEX64.test(n)).sort();
  if (listed instanceof Unread) r.unreadable.parts.push({ part: 'layers', file: listed.file, reason: listed.reason });

  const entries = new Map<string, GraphEntry>();
  const layers = new Map<string, Layer>();
  for (const hex of names) {
    const dir = join(graph, hex);
    const entry = readGraphEntry(r, dir, hex);
    entries.set(hex, entry);
    const id = v1ModelId(hex);
    const layer: Layer = { id: hex, chainId: id, diffId: null, parent: entry.parent === null ? null : v1ModelId(entry.parent), size: null, cacheId: hex, unread: [] };
    const unread = (field: LayerField, file: string, reason: string) => {
      layer.unread.push(field);
      r.unreadable.layers.push({ chainId: id, field, file, reason });
    };
    if (entry.parentUnread) unread('parent', join(dir, 'json'), 'the v1 JSON naming the parent could not be read');
    const sizeFile = join(dir, 'layersize');
    const sizeText = r.text(sizeFile, true);
    if (sizeText instanceof Unread) unread('size', sizeFile, sizeText.reason);
    else if (sizeText === null) layer.unread.push('size');
    else if (/^\d+$/.test(sizeText)) layer.size = Number(sizeText);
    else {
      r.cannotRead(sizeFile, `not a number (${JSON.stringify(sizeText.slice(0, 40))})`);
      unread('size', sizeFile, 'not a number');
    }
    // A Docker 1.10 that started on this store and computed the layer's checksum left it here.
    const diffFile = join(dir, '.migration-diffid');
    const diff = r.text(diffFile, true);
    if (typeof diff === 'string' && isSha256Digest(diff)) layer.diffId = diff;
    else layer.unread.push('diffId');
    layers.set(id, layer);
  }

  const images = new Map<string, Image>();
  for (const [hex, entry] of entries) {
    if (entry.json === null) continue;
    const id = v1ModelId(hex);
    const chain = chainOf(r, entries, hex, graph);
    const config: ImageConfig = {};
    for (const [k, v] of Object.entries(entry.json)) if (!NOT_CONFIG.has(k)) config[k] = v;
    // The history Docker 1.10's migration gives it: one step per ancestor, the oldest first.
    config.history = chain.ids.map((c) => historyStepOf(entries.get(v1HexOf(c))?.json ?? null));
    const diffIds = chain.ids.map((c) => layers.get(c)?.diffId ?? null);
    images.set(id, {
      id,
      config,
      created: typeof entry.json.created === 'string' ? entry.json.created : '',
      diffIds: diffIds.every((d): d is string => d !== null) ? diffIds : [],
      chainIds: chain.ids,
      parent: entry.parent !== null && entries.get(entry.parent)?.json ? v1ModelId(entry.parent) : null,
      repoTags: [],
      repoDigests: [],
      unread: entry.parentUnread || chain.broken ? ['parent'] : [],
    });
  }

  const references = readV1References(r, opts.root, opts.driver);
  attachReferences(images, references, (ref) =>
    r.warn(join(opts.root, `repositories-${opts.driver}`), `${ref.ref} names ${ref.imageId.slice(SHA256_PREFIX.length, SHA256_PREFIX.length + 12)}, which is not in graph/`),
  );
  const children = childrenByParent(images);

  // Containers of that era: config.json, the read-write layer in the driver under the container's own id.
  const mounts = new Map<string, ContainerMount>();
  const driverHome = join(opts.root, opts.driver);
  const containers = readContainers(r, opts.root, '', mounts, {
    configName: 'config.json',
    imageIdOf: (image) => (HEX64.test(image) ? v1ModelId(image) : image),
    mountOf: (id, imageId) => {
      const initId = `${id}-init`;
      const hasInit = [join(driverHome, 'diff', initId), join(driverHome, 'dir', initId), join(driverHome, 'metadata', initId)].some((p) => presence(p) === true);
      const mount: ContainerMount = { containerId: id, mountId: id, initId: hasInit ? initId : null, parentChainId: layers.has(imageId) ? imageId : null, unread: [] };
      mounts.set(id, mount);
      return mount;
    },
  });

  const model: StoreModel = {
    root: opts.root,
    layout: V1_LAYOUT,
    driver: opts.driver,
    images,
    layers,
    containers,
    mounts,
    references,
    children,
    unreadable: r.unreadable,
    warnings: r.warnings,
  };
  return checkedRead(model, graph);
}

/** A v1 image's step of history as Docker 1.10's migration made it (image/v1 HistoryFromConfig). */
function historyStepOf(json: V1Json | null): NonNullable<ImageConfig['history']>[number] {
  if (json === null) return {};
  const cmd = (json.container_config as { Cmd?: unknown } | null | undefined)?.Cmd;
  const createdBy = Array.isArray(cmd) ? cmd.filter((a) => typeof a === 'string').join(' ') : typeof cmd === 'string' ? cmd : '';
  const step: NonNullable<ImageConfig['history']>[number] = {};
  if (typeof json.created === 'string') step.created = json.created;
  if (typeof json.author === 'string' && json.author !== '') (step as Record<string, unknown>).author = json.author;
  if (createdBy !== '') step.created_by = createdBy;
  if (typeof json.comment === 'string' && json.comment !== '') step.comment = json.comment;
  return step;
}

/** One graph entry: its JSON and its parent (graph/<id>/parent, else the JSON's parent, else 1.9's parent_id). */
function readGraphEntry(r: MetadataReader, dir: string, hex: string): GraphEntry {
  const file = join(dir, 'json');
  const json = r.json<V1Json>(file);
  if (json instanceof Unread || json === null || typeof json !== 'object' || Array.isArray(json)) {
    if (!(json instanceof Unread)) r.cannotRead(file, 'not a v1 image JSON object');
    r.unreadable.images.push({ id: v1ModelId(hex), file, reason: json instanceof Unread ? json.reason : 'not a v1 image JSON object' });
    return { hex, json: null, parent: null, parentUnread: true };
  }
  const compat = r.text(join(dir, 'parent'), true);
  let parent: unknown = typeof compat === 'string' && compat !== '' ? compat : json.parent;
  if ((parent === undefined || parent === '') && typeof json.parent_id === 'string') parent = json.parent_id.replace(/^sha256:/, '');
  if (parent === undefined || parent === null || parent === '') return { hex, json, parent: null, parentUnread: false };
  if (typeof parent !== 'string' || !HEX64.test(parent)) {
    r.warn(file, `parent ${JSON.stringify(parent)} is no v1 image id`);
    return { hex, json, parent: null, parentUnread: true };
  }
  return { hex, json, parent, parentUnread: false };
}

/** The model ids of an entry's layers, base first; broken when a parent is missing or the chain loops. */
function chainOf(r: MetadataReader, entries: Map<string, GraphEntry>, hex: string, graph: string): { ids: string[]; broken: boolean } {
  const ids: string[] = [];
  const seen = new Set<string>();
  let current: string | null = hex;
  let broken = false;
  while (current !== null) {
    if (seen.has(current)) {
      r.warn(join(graph, hex, 'json'), `parent chain loops back to ${current.slice(0, 12)}`);
      broken = true;
      break;
    }
    seen.add(current);
    const entry = entries.get(current);
    if (!entry) {
      r.warn(join(graph, hex, 'json'), `parent ${current.slice(0, 12)} is missing from graph/`);
      broken = true;
      break;
    }
    ids.push(v1ModelId(current));
    if (entry.parentUnread) broken = true;
    current = entry.parent;
  }
  return { ids: ids.reverse(), broken };
}

/** repositories-<driver>: {"Repositories": {"ubuntu": {"13.10": "<v1 id>"}}}; a digest in the tag's place is a digest reference. */
export function readV1References(r: MetadataReader, root: string, driver: string): Reference[] {
  const file = join(root, `repositories-${driver}`);
  const data = readRepositoriesFile(r, file);
  if (data === null) return [];
  const refs: Reference[] = [];
  for (const [name, tags] of Object.entries(data.Repositories ?? {})) {
    for (const [tag, id] of Object.entries(tags ?? {})) {
      const ref = isSha256Digest(tag) ? `${name}@${tag}` : `${name}:${tag}`;
      const parsed = parseReference(ref);
      if (!parsed || typeof id !== 'string' || !HEX64.test(id)) {
        r.warn(file, `unreadable reference ${JSON.stringify(ref)} → ${JSON.stringify(id)}`);
        continue;
      }
      const familiar = parsed.digest !== null ? `${parsed.name}@${parsed.digest}` : `${parsed.name}:${parsed.tag}`;
      refs.push({ ref: familiar, name: parsed.name, tag: parsed.tag, digest: parsed.digest, imageId: v1ModelId(id) });
    }
  }
  return refs;
}
