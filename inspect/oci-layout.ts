// What an OCI image layout (image-spec image-layout.md) holds, as `strata load` reads it: index.json's
// descriptors, nested indexes narrowed to this host's platform, each image's config and layer blobs, and
// the names to tag them with. Pure over a reader of the layout's small JSON documents, so one code path
// serves a layout directory, an OCI archive and a docker ≥ 25 save archive's index.
import { arch as nodeArch } from 'node:process';
import { StrataError } from '../native/errors.js';
import { isSha256Digest } from './digest.js';
import { parseReference } from './reference.js';

export class OciLayoutError extends StrataError {
  override name = 'OciLayoutError';
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface Platform {
  os?: string;
  architecture?: string;
  variant?: string;
}

/** containerd's annotation for the full image name (docker ≥ 25 and buildx write it beside the ref name). */
export const IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

/** One image of the layout: its blobs by member name, and the references to tag it with. */
export interface LayoutImage {
  configMember: string;
  /** The config's digest as the manifest gives it (the image id, once checked). */
  configDigest: string;
  layerMembers: string[];
  layerDigests: string[];
  tags: string[];
}

export interface LayoutReader {
  has(member: string): boolean;
  /** A member parsed as JSON; throws a one-line error naming it. */
  json(member: string): unknown;
}

/** The member of a blob: blobs/<algorithm>/<hex>. Only sha256 is what Docker's stores address by. */
export function blobMember(digest: unknown, where: string): string {
  if (typeof digest !== 'string' || !isSha256Digest(digest)) throw new OciLayoutError(`${where}: ${JSON.stringify(digest)} is not a sha256 digest`);
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

/** Go's GOARCH names for Node's process.arch. */
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips64el: 'mips64le', loong64: 'loong64' };

/** The platform images are chosen for: linux on this machine's architecture (containerd's default matcher). */
export function hostPlatform(arch: string = nodeArch): Platform {
  const architecture = GOARCH[arch] ?? arch;
  if (architecture === 'arm64') return { os: 'linux', architecture, variant: 'v8' };
  return { os: 'linux', architecture };
}

export function formatPlatform(p: Platform | undefined): string {
  if (!p) return 'unknown';
  return [p.os ?? 'unknown', p.architecture ?? 'unknown', p.variant].filter(Boolean).join('/');
}

/** An attestation or other non-image entry buildx puts into an index (platform unknown/unknown). */
function isAttestation(d: Descriptor): boolean {
  return d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' || (d.platform?.os === 'unknown' && d.platform?.architecture === 'unknown');
}

/** How well a descriptor's platform fits: 2 exact, 1 without variant (or arm64's implied v8), 0 no platform, -1 another one. */
function platformFit(d: Descriptor, want: Platform): number {
  const p = d.platform;
  if (!p || (!p.os && !p.architecture)) return 0;
  if (p.os !== want.os || p.architecture !== want.architecture) return -1;
  if ((p.variant ?? '') === (want.variant ?? '')) return 2;
  if (!p.variant) return 1;
  return -1;
}

/**
 * The one entry of an index to load: the best fit for `want` (exact, then without a variant, then one
 * that names no platform). None fitting is an error listing what the index has: a store of this machine
 * has no use for another platform's image, and which of several it would be is anyone's guess.
 */
export function choosePlatform(entries: Descriptor[], want: Platform, where: string): Descriptor {
  const images = entries.filter((d) => !isAttestation(d));
  let best: Descriptor | null = null;
  let bestFit = -1;
  for (const d of images) {
    const fit = platformFit(d, want);
    if (fit > bestFit) {
      best = d;
      bestFit = fit;
    }
  }
  if (best) return best;
  const has = images.map((d) => formatPlatform(d.platform));
  throw new OciLayoutError(`${where} has no image for ${formatPlatform(want)}${has.length ? ` (it has ${[...new Set(has)].join(', ')})` : ''}`);
}

/**
 * The reference a top-level entry is tagged with, in Docker's familiar form with a tag ("app:2",
 * "localhost/hb/app:1"), or null when it names none. io.containerd.image.name is the full name (docker ≥ 25
 * and containerd take it first); org.opencontainers.image.ref.name is either a full reference (podman,
 * skopeo with a name) or a bare tag ("latest", "1": buildx, docker ≥ 25), which names an image only beside
 * an image name without a tag. A bare tag alone is reported in `bareTag` (docker ≥ 25 would make it the
 * repository name, `1:latest`; strata leaves the image untagged and says so).
 */
export function referenceOf(annotations: Record<string, string> | undefined): { ref: string | null; bareTag?: string; invalid?: string } {
  const imageName = annotations?.[IMAGE_NAME_ANNOTATION];
  const refName = annotations?.[REF_NAME_ANNOTATION];
  const isBareTag = (s: string) => !/[/:@]/.test(s) && /^[\w][\w.-]{0,127}$/.test(s);
  const tagged = (s: string): string | null => {
    const parsed = parseReference(s);
    if (!parsed || parsed.digest) return null;
    return `${parsed.name}:${parsed.tag ?? 'latest'}`;
  };
  if (imageName) {
    const parsed = parseReference(imageName);
    if (!parsed || parsed.digest) return { ref: null, invalid: imageName };
    const tag = parsed.tag ?? (refName && isBareTag(refName) ? refName : 'latest');
    return { ref: `${parsed.name}:${tag}` };
  }
  if (!refName) return { ref: null };
  if (isBareTag(refName)) return { ref: null, bareTag: refName };
  const ref = tagged(refName);
  return ref ? { ref } : { ref: null, invalid: refName };
}

interface ManifestDoc {
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
  schemaVersion?: number;
}

function asDescriptors(value: unknown, where: string): Descriptor[] {
  if (!Array.isArray(value)) throw new OciLayoutError(`${where}: "manifests" is not a list`);
  for (const d of value) {
    if (!d || typeof d !== 'object' || typeof (d as Descriptor).digest !== 'string') throw new OciLayoutError(`${where}: a descriptor without a digest`);
  }
  return value as Descriptor[];
}

/** Layers Docker can apply: tar, plain or compressed (the compression is told by magic, as dockerd does). */
function checkLayerType(d: Descriptor, where: string): void {
  const type = d.mediaType ?? '';
  if (type.includes('encrypted')) throw new OciLayoutError(`${where}: layer ${d.digest} is encrypted (${type}); strata cannot decrypt it`);
  if (type && !/\.tar($|[+.])/.test(type)) {
    throw new OciLayoutError(`${where}: layer ${d.digest} has media type ${type}, not a layer tar`);
  }
}

/**
 * The images an OCI layout's index.json names, for this host's platform: each top-level entry is an image
 * manifest, or an index narrowed to one manifest by platform. Entries naming the same image are merged.
 */
export function imagesInLayout(reader: LayoutReader, want: Platform = hostPlatform()): { images: LayoutImage[]; warnings: string[] } {
  const warnings: string[] = [];
  const index = reader.json('index.json') as ManifestDoc;
  if (!index || typeof index !== 'object' || Array.isArray(index)) throw new OciLayoutError('index.json is not an image index');
  const top = asDescriptors(index.manifests ?? [], 'index.json');
  const images: LayoutImage[] = [];
  const byConfig = new Map<string, LayoutImage>();
  for (const entry of top) {
    if (isAttestation(entry)) continue;
    const { ref, bareTag, invalid } = referenceOf(entry.annotations);
    if (bareTag) warnings.push(`index.json: ${entry.digest} is named only by the tag ${JSON.stringify(bareTag)} (${REF_NAME_ANNOTATION}, no ${IMAGE_NAME_ANNOTATION}); loaded untagged`);
    if (invalid) warnings.push(`index.json: ${entry.digest} is named ${JSON.stringify(invalid)}, which is no valid image reference; loaded untagged`);
    const image = manifestImage(reader, entry, want, 0);
    const same = byConfig.get(image.configDigest);
    if (same) {
      if (ref && !same.tags.includes(ref)) same.tags.push(ref);
      continue;
    }
    image.tags = ref ? [ref] : [];
    byConfig.set(image.configDigest, image);
    images.push(image);
  }
  if (images.length === 0) throw new OciLayoutError('index.json names no image');
  return { images, warnings };
}

function manifestImage(reader: LayoutReader, desc: Descriptor, want: Platform, depth: number): LayoutImage {
  const member = blobMember(desc.digest, 'index.json');
  if (depth > 8) throw new OciLayoutError(`${member}: indexes nested more than 8 deep`);
  const doc = reader.json(member) as ManifestDoc;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new OciLayoutError(`${member} is neither an image index nor a manifest`);
  const type = doc.mediaType ?? desc.mediaType;
  if (doc.manifests !== undefined || (type && INDEX_TYPES.has(type))) {
    const pick = choosePlatform(asDescriptors(doc.manifests ?? [], member), want, member);
    return manifestImage(reader, pick, want, depth + 1);
  }
  if (doc.schemaVersion === 1) throw new OciLayoutError(`${member} is a schema 1 manifest, which Docker no longer loads`);
  if (!doc.config || !Array.isArray(doc.layers)) throw new OciLayoutError(`${member} is neither an image index nor a manifest`);
  if (doc.config.mediaType && !CONFIG_TYPES.has(doc.config.mediaType)) {
    throw new OciLayoutError(`${member} is not a container image (its config is ${doc.config.mediaType})`);
  }
  for (const l of doc.layers) checkLayerType(l, member);
  return {
    configMember: blobMember(doc.config.digest, member),
    configDigest: doc.config.digest,
    layerMembers: doc.layers.map((l) => blobMember(l.digest, member)),
    layerDigests: doc.layers.map((l) => l.digest),
    tags: [],
  };
}
