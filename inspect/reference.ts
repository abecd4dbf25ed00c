// Image references the way docker normalises them (distribution/reference): familiar names,
// default tag "latest", docker.io/library/ shortening, and the lookup order of `docker image inspect`.
import { StrataError } from '../native/errors.js';
import { hexOf, SHA256_PREFIX } from './digest.js';
import type { Image, StoreModel } from './model.js';

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
export function lookupReference(model: StoreModel, parsed: ParsedReference): string | null {
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
