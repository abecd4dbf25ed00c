// Image references the way docker normalises them (distribution/reference): familiar names,
// default tag "latest", docker.io/library/ shortening, and the lookup order of `docker image inspect`.
import { StrataError } from '../native/errors.js';
import { hexOf, SHA256_PREFIX } from './digest.js';
import type { Image, Reference, StoreModel } from './model.js';

export interface ParsedReference {
  /** Familiar repository name ("busybox", "example.com/team/base"). */
  name: string;
  tag: string | null;
  digest: string | null;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';

/** Parses "name[:tag][@digest]" and returns the familiar form of the name, or null when it is no valid reference. */
export function parseReference(input: string): ParsedReference | null {
  let rest = input.trim();
  if (rest === '' || /^[0-9a-f]{64}$/.test(rest)) return null;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/.test(digest)) return null;
  }
  let tag: string | null = null;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) return null;
  }
  const name = familiarName(rest);
  if (name === null) return null;
  return { name, tag, digest };
}

/** docker.io/library/busybox → busybox; docker.io/team/app → team/app; others unchanged. Null when invalid. */
export function familiarName(name: string): string | null {
  if (name === '' || name !== name.toLowerCase()) return null;
  const components = name.split('/');
  let domain: string | null = null;
  if (components.length > 1 && (/[.:]/.test(components[0]) || components[0] === 'localhost')) {
    domain = components.shift()!;
  }
  const path = components.join('/');
  const component = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
  if (!components.every((c) => component.test(c))) return null;
  if (domain === null || domain === DEFAULT_DOMAIN || domain === LEGACY_DEFAULT_DOMAIN) {
    if (path.startsWith(OFFICIAL_REPO_PREFIX) && path.split('/').length === 2) return path.slice(OFFICIAL_REPO_PREFIX.length);
    return path;
  }
  return `${domain}/${path}`;
}

const HEX_ID = /^(?:sha256:)?[0-9a-f]{64}$/;

/** Why docker's reference parser refuses `ref`, or null when it is a reference (or an image id). */
export function invalidReferenceReason(ref: string): string | null {
  if (ref === '' || HEX_ID.test(ref) || parseReference(ref)) return null;
  const at = ref.indexOf('@');
  const named = at >= 0 ? ref.slice(0, at) : ref;
  const slash = named.lastIndexOf('/');
  const colon = named.lastIndexOf(':');
  const repository = colon > slash ? named.slice(0, colon) : named;
  const firstSlash = repository.indexOf('/');
  const hasDomain = firstSlash >= 0 && /[.:]|^localhost$/.test(repository.slice(0, firstSlash));
  const remote = hasDomain ? repository.slice(firstSlash + 1) : repository;
  // Docker's grammar allows capitals in a domain (strata's parser does not): such a name is valid.
  if (hasDomain && parseReference(ref.slice(0, firstSlash).toLowerCase() + ref.slice(firstSlash))) return null;
  return remote !== remote.toLowerCase() ? 'invalid reference format: repository name must be lowercase' : 'invalid reference format';
}

export class ImageReferenceError extends StrataError {
  override name = 'ImageReferenceError';
  constructor(
    message: string,
    readonly candidates: string[] = [],
  ) {
    super(candidates.length ? `${message}\n  candidates:\n${candidates.map((c) => `    ${c}`).join('\n')}` : message);
  }
}

/** Reference store lookup only (no ID matching). */
export function lookupReference(model: Pick<StoreModel, 'references'>, parsed: ParsedReference): string | null {
  const tag = parsed.digest === null && parsed.tag === null ? 'latest' : parsed.tag;
  for (const r of model.references) {
    if (r.name !== parsed.name) continue;
    if (parsed.digest !== null ? r.digest === parsed.digest : r.tag === tag) return r.imageId;
  }
  return null;
}

function describeImage(model: StoreModel, id: string): string {
  const img = model.images.get(id);
  const tags = img && img.repoTags.length ? ` (${img.repoTags.join(', ')})` : '';
  return hexOf(id).slice(0, 12) + tags;
}

/**
 * Resolves what a user typed to an image id, in docker's order: full id, reference (name → name:latest),
 * then unique id prefix. Throws ImageReferenceError naming candidates when ambiguous or unknown.
 */
export function resolveImageId(model: StoreModel, input: string): string {
  const text = input.trim();
  const fullHex = /^(?:sha256:)?([0-9a-f]{64})$/.exec(text);
  if (fullHex) {
    const id = SHA256_PREFIX + fullHex[1];
    if (model.images.has(id)) return id;
    throw new ImageReferenceError(`No such image: ${text}`);
  }
  const parsed = parseReference(text);
  if (parsed) {
    const id = lookupReference(model, parsed);
    if (id !== null) {
      if (model.images.has(id)) return id;
      throw new ImageReferenceError(`${text}: tagged as ${describeImage(model, id)} in repositories.json, but that image is missing from imagedb`);
    }
  }
  const prefix = /^(?:sha256:)?([0-9a-f]+)$/.exec(text);
  if (prefix) {
    const matches = [...model.images.keys()].filter((id) => id.startsWith(SHA256_PREFIX + prefix[1]));
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) {
      throw new ImageReferenceError(
        `ambiguous image id prefix ${text}: ${matches.length} images match, give more characters`,
        matches.sort().map((id) => describeImage(model, id)),
      );
    }
  }
  const sameName = parsed ? model.references.filter((r) => r.name === parsed.name).map((r) => r.ref) : [];
  // dockerd's words: a name without tag or digest is looked up (and named) as name:latest.
  const asLooked = parsed && parsed.tag === null && parsed.digest === null ? `${text}:latest` : text;
  throw new ImageReferenceError(
    parsed === null && !prefix ? (invalidReferenceReason(text) ?? `invalid reference format: ${text}`) : `No such image: ${asLooked}`,
    sameName.sort(),
  );
}

export function resolveImage(model: StoreModel, input: string): Image {
  return model.images.get(resolveImageId(model, input))!;
}

/** How dockerd's image lookup (daemon/images/image.go GetImage, 20.10) found an image. */
export interface DaemonImageMatch {
  id: string;
  /** 'id': a full id or sha256 digest; 'reference': a tag or digest reference; 'id-prefix': a unique id prefix. */
  via: 'id' | 'reference' | 'id-prefix';
  /**
   * Whether the text as typed is a prefix of the id, with or without "sha256:" (docker's isImageIDPrefix):
   * rmi deletes by id when it is, and untags the reference when it is not, however the lookup matched.
   */
  idPrefix: boolean;
}

export type DaemonLookup =
  | { found: DaemonImageMatch }
  /** The daemon refuses the text (HTTP 400), in its words. */
  | { invalid: string }
  /** No image (HTTP 404), in the daemon's words ("No such image: name:latest"). */
  | { notFound: string };

const FULL_DIGEST = /^(?:sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$/;

/** docker's isImageIDPrefix: `text` starts the id, counting its "sha256:" or not. */
export function isImageIdPrefix(imageId: string, text: string): boolean {
  if (imageId.startsWith(text)) return true;
  const colon = imageId.indexOf(':');
  return colon >= 0 && imageId.slice(colon + 1).startsWith(text);
}

/** The familiar string of a reference with the default tag filled in (TagNameOnly), as dockerd names what it untags. */
export function taggedReferenceString(parsed: ParsedReference): string {
  const tag = parsed.tag ?? (parsed.digest === null ? 'latest' : null);
  return `${parsed.name}${tag === null ? '' : `:${tag}`}${parsed.digest === null ? '' : `@${parsed.digest}`}`;
}

/**
 * An id prefix lookup as dockerd's digest set does it: "sha256:abc" or "abc" against every image id; a
 * full-length match wins, two prefix matches are ambiguous (null, as not found).
 */
function searchIdPrefix(ids: Iterable<string>, text: string): string | null {
  const colon = text.indexOf(':');
  const alg = colon >= 0 ? text.slice(0, colon) : '';
  const hex = colon >= 0 ? text.slice(colon + 1) : text;
  if (hex === '') return null;
  let found: string | null = null;
  for (const id of ids) {
    const idColon = id.indexOf(':');
    if (alg !== '' && id.slice(0, idColon) !== alg) continue;
    const idHex = id.slice(idColon + 1);
    if (idHex === hex) return id;
    if (!idHex.startsWith(hex)) continue;
    if (found !== null) return null;
    found = id;
  }
  return found;
}

/**
 * Finds an image the way dockerd 20.10 does for the image API (GetImage): a 64-hex id or a sha256 digest
 * by id; otherwise the text must parse as a reference (else the daemon's "invalid reference format"),
 * looked up in the reference store (name alone → name:latest), then as a unique id prefix. Reports how
 * it matched, and whether docker's rmi takes the text for an id (see DaemonImageMatch.idPrefix).
 */
export function lookupAsDaemon(model: { images: ReadonlyMap<string, unknown>; references: Reference[] }, input: string): DaemonLookup {
  const digestText = /^[0-9a-f]{64}$/.test(input) ? SHA256_PREFIX + input : FULL_DIGEST.test(input) ? input : null;
  if (digestText !== null) {
    if (model.images.has(digestText)) return { found: { id: digestText, via: 'id', idPrefix: isImageIdPrefix(digestText, input) } };
    return { notFound: `No such image: ${digestText}` };
  }
  const parsed = input === input.trim() ? parseReference(input) : null;
  if (parsed === null) return { invalid: invalidReferenceReason(input) ?? 'invalid reference format' };
  const byRef = lookupReference(model, parsed);
  if (byRef !== null && model.images.has(byRef)) return { found: { id: byRef, via: 'reference', idPrefix: isImageIdPrefix(byRef, input) } };
  const byPrefix = searchIdPrefix(model.images.keys(), input);
  if (byPrefix !== null) return { found: { id: byPrefix, via: 'id-prefix', idPrefix: isImageIdPrefix(byPrefix, input) } };
  return { notFound: `No such image: ${taggedReferenceString(parsed)}` };
}
