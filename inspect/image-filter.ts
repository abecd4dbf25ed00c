// `docker images [REPO[:TAG]] --filter …` as a question asked of the model: the filters of moby's image
// list (daemon/images/images.go, 20.10) and the name globbing of distribution/reference's FamiliarMatch.
// Different keys AND, values of one key OR (label: every value must hold, as moby's MatchKVList does).
import { checkFilterKeys, FilterError, labelsMatch, type FilterArgs } from './filter-args.js';
import {
  byCreatedDesc,
  containerCounts,
  hasChildren,
  summarizeImage,
  sortReferences,
  tagsKnown,
  type ImageSummary,
} from './images.js';
import type { Image, StoreModel } from './model.js';
import { ImageReferenceError, parseReference, resolveImageId } from './reference.js';
import type { TreeNode } from './tree.js';

/** An error in the words docker prints for it (after "Error response from daemon: "). */
export class ImageFilterError extends FilterError {
  override name = 'ImageFilterError';
}

// ---------------------------------------------------------------------------------------------------
// Go's path.Match: '*' is any run of characters but '/', '?' one character but '/', '[...]' a class
// (ranges, '^' negates), '\' escapes. A malformed pattern is an error even when the name fails to match
// before the bad part is reached (Go 1.16 and later, as the daemon here is built).

/** Go's path.ErrBadPattern, in Go's words (docker prints them). */
export class BadPatternError extends ImageFilterError {
  override name = 'BadPatternError';
  constructor(readonly pattern: string) {
    super('syntax error in pattern');
  }
}

class Malformed {}

function scanChunk(p: string[], from: number): { star: boolean; start: number; end: number } {
  let i = from;
  let star = false;
  for (; i < p.length && p[i] === '*'; i++) star = true;
  const start = i;
  let inClass = false;
  for (; i < p.length; i++) {
    if (p[i] === '\\') {
      if (i + 1 < p.length) i++;
    } else if (p[i] === '[') inClass = true;
    else if (p[i] === ']') inClass = false;
    else if (p[i] === '*' && !inClass) break;
  }
  return { star, start, end: i };
}

/** One (possibly escaped) character of a class; a class must go on after it. */
function classChar(p: string[], i: number, end: number): { cp: number; next: number } {
  if (i >= end || p[i] === '-' || p[i] === ']') throw new Malformed();
  if (p[i] === '\\' && ++i >= end) throw new Malformed();
  if (i + 1 >= end) throw new Malformed();
  return { cp: p[i].codePointAt(0)!, next: i + 1 };
}

/** Matches p[start,end) at name[at…]: where the match ends, or -1. A mismatch still parses the rest of the chunk. */
function matchChunk(p: string[], start: number, end: number, name: string[], at: number): number {
  let failed = false;
  let s = at;
  let i = start;
  while (i < end) {
    if (!failed && s >= name.length) failed = true;
    const c = p[i];
    if (c === '[') {
      const cp = failed ? -1 : name[s++].codePointAt(0)!;
      i++;
      const negated = i < end && p[i] === '^';
      if (negated) i++;
      let match = false;
      for (let ranges = 0; ; ranges++) {
        if (i < end && p[i] === ']' && ranges > 0) {
          i++;
          break;
        }
        const lo = classChar(p, i, end);
        let hi = lo.cp;
        i = lo.next;
        if (p[i] === '-') {
          const h = classChar(p, i + 1, end);
          hi = h.cp;
          i = h.next;
        }
        if (lo.cp <= cp && cp <= hi) match = true;
      }
      if (match === negated) failed = true;
      continue;
    }
    let literal = c;
    if (c === '\\') {
      if (++i >= end) throw new Malformed();
      literal = p[i];
    }
    if (!failed) {
      if (c === '?' ? name[s] === '/' : name[s] !== literal) failed = true;
      s++;
    }
    i++;
  }
  return failed ? -1 : s;
}

function matchChars(p: string[], name: string[]): boolean {
  let at = 0;
  let n = 0;
  chunks: while (at < p.length) {
    const { star, start, end } = scanChunk(p, at);
    at = end;
    const last = at >= p.length;
    if (star && start === end) return !name.slice(n).includes('/');
    const t = matchChunk(p, start, end, name, n);
    if (t >= 0 && (t === name.length || !last)) {
      n = t;
      continue;
    }
    if (star) {
      for (let i = n; i < name.length && name[i] !== '/'; i++) {
        const u = matchChunk(p, start, end, name, i + 1);
        if (u < 0 || (last && u < name.length)) continue;
        n = u;
        continue chunks;
      }
    }
    while (at < p.length) {
      const next = scanChunk(p, at);
      at = next.end;
      matchChunk(p, next.start, next.end, [], 0);
    }
    return false;
  }
  return n === name.length;
}

/** Go's path.Match(pattern, name); a malformed pattern throws BadPatternError. */
export function pathMatch(pattern: string, name: string): boolean {
  try {
    return matchChars(Array.from(pattern), Array.from(name));
  } catch (err) {
    if (err instanceof Malformed) throw new BadPatternError(pattern);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------
// Filter arguments.

export { addFilter, labelsMatch, parseFilterFlags, type FilterArgs } from './filter-args.js';

export const IMAGE_FILTER_KEYS = ['dangling', 'label', 'before', 'since', 'reference'] as const;

export interface ImageFilters {
  /** dangling=true: untagged images without children only. */
  danglingOnly: boolean;
  /** dangling=false (or dangling given and not true): no untagged image. */
  noDangling: boolean;
  /** label=k / label=k=v, all of which must hold. */
  labels: string[];
  /** before= / since=: the image named (the last one given when several are). */
  before: string | null;
  since: string | null;
  /** reference= patterns (and the REPO[:TAG] argument), any of which may match; null without any. */
  references: string[] | null;
}

/** Validates filter arguments as the daemon does, in its words. */
export function imageFilters(args: FilterArgs): ImageFilters {
  checkFilterKeys(args, IMAGE_FILTER_KEYS);
  const dangling = args.get('dangling');
  let danglingOnly = false;
  if (dangling) {
    danglingOnly = dangling.includes('true');
    if (!danglingOnly && !dangling.includes('false')) throw new ImageFilterError(`Invalid filter 'dangling=[${dangling.join(' ')}]'`);
  }
  const last = (key: string) => args.get(key)?.at(-1) ?? null;
  return {
    danglingOnly,
    noDangling: !!dangling && !danglingOnly,
    labels: args.get('label') ?? [],
    before: last('before'),
    since: last('since'),
    references: args.get('reference') ?? null,
  };
}

/** No filter at all. */
export const NO_FILTERS: ImageFilters = { danglingOnly: false, noDangling: false, labels: [], before: null, since: null, references: null };

export function hasFilters(f: ImageFilters): boolean {
  return f.danglingOnly || f.noDangling || f.labels.length > 0 || f.before !== null || f.since !== null || f.references !== null;
}

// ---------------------------------------------------------------------------------------------------
// Matching.

/**
 * The pattern with docker.io/ and docker.io/library/ taken off, as familiar names are written: docker
 * matches patterns against familiar names only, so `docker.io/library/x` would never match `x` there.
 * strata lets it match (the fully qualified spelling of the same repository); null when nothing changes.
 */
export function familiarPattern(pattern: string): string | null {
  let rest = pattern;
  for (const domain of ['docker.io/', 'index.docker.io/']) {
    if (rest.startsWith(domain)) rest = rest.slice(domain.length);
  }
  if (rest.startsWith('library/') && !rest.slice('library/'.length).includes('/')) rest = rest.slice('library/'.length);
  return rest === pattern ? null : rest;
}

/** The repository of a familiar reference ("app:1" → "app", "tool@sha256:…" → "tool"). */
export function referenceName(ref: string): string {
  const at = ref.indexOf('@');
  if (at >= 0) return ref.slice(0, at);
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? ref.slice(0, colon) : ref;
}

/** distribution/reference FamiliarMatch: the familiar string, else the familiar name (its error is not raised). */
function familiarMatch(pattern: string, ref: string): boolean {
  if (pathMatch(pattern, ref)) return true;
  try {
    return pathMatch(pattern, referenceName(ref));
  } catch {
    return false;
  }
}

/** Whether one of the patterns matches the familiar reference (tried in order, as the daemon does). */
export function referenceMatches(patterns: readonly string[], ref: string): boolean {
  for (const pattern of patterns) {
    if (familiarMatch(pattern, ref)) return true;
    const familiar = familiarPattern(pattern);
    if (familiar !== null && familiarMatch(familiar, ref)) return true;
  }
  return false;
}

/** The image config's Config.Labels; null when the image has no Config (such images never match a label). */
export function imageLabels(image: Image): Record<string, string> | null {
  const config = image.config.config;
  if (!config || typeof config !== 'object') return null;
  const labels = (config as { Labels?: unknown }).Labels;
  return labels && typeof labels === 'object' ? (labels as Record<string, string>) : {};
}

/** RFC 3339 time in nanoseconds since the epoch (before/since compare times exactly, as Go does); null when unparsable. */
export function createdNanos(iso: string): bigint | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i.exec(iso);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${m[3].toUpperCase()}`);
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** The daemon's words for an image it cannot find (ErrImageDoesNotExist, or the reference parser's). */
export function noSuchImageMessage(input: string): string {
  const hex = /^(?:sha256:)?([0-9a-f]{64})$/.exec(input);
  if (hex) return `No such image: sha256:${hex[1]}`;
  const parsed = parseReference(input);
  if (parsed) return `No such image: ${parsed.name}${parsed.digest ? `@${parsed.digest}` : `:${parsed.tag ?? 'latest'}`}`;
  if (input === '') return 'repository name must have at least one component';
  if (parseReference(input.toLowerCase())) return 'invalid reference format: repository name must be lowercase';
  return 'invalid reference format';
}

/** The image a before=/since= value names, resolved as the daemon resolves it (id, reference, id prefix). */
export function filterImage(model: StoreModel, value: string): Image {
  try {
    return model.images.get(resolveImageId(model, value))!;
  } catch (err) {
    if (err instanceof ImageReferenceError) throw new ImageFilterError(noSuchImageMessage(value));
    throw err;
  }
}

export interface SelectOptions {
  /** -a: untagged images with children too. */
  all?: boolean;
}

/**
 * The images `docker images` lists for these filters, newest first. Each summary's repoTags and
 * repoDigests hold only the references a reference filter let through; an image with neither is one of
 * docker's `<none>` rows.
 */
export function selectImages(model: StoreModel, filters: ImageFilters, opts: SelectOptions = {}): ImageSummary[] {
  const before = filters.before === null ? null : createdNanos(filterImage(model, filters.before).created) ?? 0n;
  const since = filters.since === null ? null : createdNanos(filterImage(model, filters.since).created) ?? 0n;
  // Without the tags no image is known to be dangling, so dangling=true lists none.
  if (filters.danglingOnly && !tagsKnown(model)) return [];
  const containers = containerCounts(model);
  const out: ImageSummary[] = [];
  for (const image of model.images.values()) {
    const children = hasChildren(model, image.id);
    if (filters.danglingOnly && children) continue;
    if (before !== null || since !== null) {
      const created = createdNanos(image.created) ?? 0n;
      if (before !== null && created >= before) continue;
      if (since !== null && created <= since) continue;
    }
    if (filters.labels.length > 0 && !labelsMatch(filters.labels, imageLabels(image))) continue;
    const patterns = filters.references;
    const repoTags = patterns === null ? image.repoTags : image.repoTags.filter((ref) => referenceMatches(patterns, ref));
    const repoDigests = patterns === null ? image.repoDigests : image.repoDigests.filter((ref) => referenceMatches(patterns, ref));
    if (repoTags.length === 0 && repoDigests.length === 0) {
      if (!opts.all && children) continue;
      if (filters.noDangling || patterns !== null) continue;
    } else if (filters.danglingOnly && repoTags.length > 0) continue;
    const summary = summarizeImage(model, image, containers);
    out.push(patterns === null ? summary : { ...summary, repoTags: sortReferences(repoTags), repoDigests: sortReferences(repoDigests) });
  }
  return out.sort(byCreatedDesc);
}

/**
 * The image tree cut down to the images the filters select and the branches leading to them; every
 * node is kept when there is no filter.
 */
export function restrictTree(nodes: TreeNode[], keep: ReadonlySet<string>): TreeNode[] {
  const out: TreeNode[] = [];
  for (const node of nodes) {
    const children = restrictTree(node.children, keep);
    if (children.length > 0 || (node.kind === 'image' && keep.has(node.id))) out.push({ ...node, children });
  }
  return out;
}
