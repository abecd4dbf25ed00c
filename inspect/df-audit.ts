// df's audit: where the disk went, over the figures df already has (DiskUsageReport), the model and
// prune's plan: unique bytes per image, what prune could reclaim by kind, the largest images and layers,
// and what cannot be decided because something could not be read ("unknown", with the files that blocked
// it). Pure: every number comes from its inputs, nothing is read here.
import type { DfImage, DiskUsageReport } from './df.js';
import type { StoreModel, Unreadable } from './model.js';

/** prune's kinds, in the order the audit lists them (inspect/prune.ts PruneKind). */
export const RECLAIM_KINDS = ['dangling-image', 'unused-layer', 'orphan-directory', 'write-set', 'leftover-mount', 'container'] as const;
export type ReclaimKind = (typeof RECLAIM_KINDS)[number];

/** The part of prune's plan the audit reads (inspect/prune.ts PrunePlan satisfies it). */
export interface AuditPlanInput {
  items: Array<{ kind: string; path: string; id: string; bytes: number }>;
  tooRecent: Array<{ kind: string; bytes: number }>;
  unknown: Array<{ kind: string; path: string; id: string; bytes: number; unreadable: Unreadable[] }>;
  protected: Array<{ path: string; reason: string }>;
}

export interface AuditImage {
  id: string;
  /** The first repository tag, or "<none>" (docker's listing shows the first). */
  tag: string;
  repoTags: string[];
  size: number;
  sharedSize: number;
  /** Bytes no other listed image shares: what removing the image alone would free of its layers. */
  uniqueSize: number;
  containers: number;
}

export interface AuditLayer {
  chainId: string;
  cacheId: string | null;
  /** layerdb's size of the layer's own content (0 when unread). */
  size: number;
  /** Listed images that use it. */
  images: number;
  /** The first of those, by its tag (or id when it has none); null when no listed image uses it. */
  usedBy: string | null;
}

export interface ReclaimableByKind {
  kind: ReclaimKind;
  items: number;
  bytes: number;
}

export interface AuditUnknown {
  kind: string;
  path: string;
  id: string;
  bytes: number;
  /** The files that could not be read and blocked the decision. */
  unreadable: Unreadable[];
}

export interface DfAudit {
  /** How many the top lists hold at most. */
  top: number;
  /** Every listed image, most unique bytes first. */
  images: AuditImage[];
  /** The largest listed images by size. */
  topImages: AuditImage[];
  /** The largest layers by their own size, used or not. */
  topLayers: AuditLayer[];
  layerCount: number;
  /** What prune --dry-run would remove, by kind (every kind, zeros too); null when there was no plan. */
  reclaimable: { byKind: ReclaimableByKind[]; items: number; bytes: number; tooRecent: { items: number; bytes: number } } | null;
  /** What strata never removes: a migration's journal and directories, with the reason. */
  protected: Array<{ path: string; reason: string }>;
  /** df's unknown bucket and prune's, once each (by path). */
  unknown: AuditUnknown[];
  unknownBytes: number;
}

export const DEFAULT_TOP = 10;

/** The first tag docker would show, or "<none>". */
export function firstTag(repoTags: readonly string[]): string {
  return repoTags[0] ?? '<none>';
}

const bySizeThenId = <T extends { size: number }>(key: (x: T) => string) => (a: T, b: T) => b.size - a.size || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

function auditImage(i: DfImage): AuditImage {
  return { id: i.id, tag: firstTag(i.repoTags), repoTags: i.repoTags, size: i.size, sharedSize: i.sharedSize, uniqueSize: i.uniqueSize, containers: i.containers };
}

/** Every layer in layerdb with the listed images that use it. */
function auditLayers(report: DiskUsageReport, model: StoreModel): AuditLayer[] {
  const users = new Map<string, AuditImage[]>();
  const listed = report.images.map(auditImage).sort(bySizeThenId((x) => x.id));
  for (const img of listed) {
    for (const c of model.images.get(img.id)?.chainIds ?? []) {
      const list = users.get(c) ?? [];
      list.push(img);
      users.set(c, list);
    }
  }
  return [...model.layers.values()].map((l) => {
    const u = users.get(l.chainId) ?? [];
    return { chainId: l.chainId, cacheId: l.cacheId, size: l.size ?? 0, images: u.length, usedBy: u.length === 0 ? null : u[0].tag === '<none>' ? u[0].id : u[0].tag };
  });
}

function reclaimable(plan: AuditPlanInput): NonNullable<DfAudit['reclaimable']> {
  const byKind = RECLAIM_KINDS.map((kind) => {
    const items = plan.items.filter((i) => i.kind === kind);
    return { kind, items: items.length, bytes: items.reduce((n, i) => n + i.bytes, 0) };
  });
  return {
    byKind,
    items: plan.items.length,
    bytes: plan.items.reduce((n, i) => n + i.bytes, 0),
    tooRecent: { items: plan.tooRecent.length, bytes: plan.tooRecent.reduce((n, i) => n + i.bytes, 0) },
  };
}

/** df's unknown entries, then prune's that df did not have; the same path once, its blockers merged. */
function unknownBucket(report: DiskUsageReport, plan: AuditPlanInput | null): AuditUnknown[] {
  const out = new Map<string, AuditUnknown>();
  for (const u of [...report.unknown, ...(plan?.unknown ?? [])]) {
    const had = out.get(u.path);
    if (!had) {
      out.set(u.path, { kind: u.kind, path: u.path, id: u.id, bytes: u.bytes, unreadable: [...u.unreadable] });
      continue;
    }
    for (const b of u.unreadable) if (!had.unreadable.some((x) => x.file === b.file)) had.unreadable.push(b);
  }
  return [...out.values()];
}

/** opts.lists false: the top lists are left empty (the metrics show none of them; every other figure is the same). */
export function dfAudit(report: DiskUsageReport, model: StoreModel, plan: AuditPlanInput | null, opts: { top?: number; lists?: boolean } = {}): DfAudit {
  const top = opts.lists === false ? 0 : Math.max(1, Math.floor(opts.top ?? DEFAULT_TOP));
  const images = report.images.map(auditImage);
  const layers = opts.lists === false ? [] : auditLayers(report, model);
  const unknown = unknownBucket(report, plan);
  return {
    top,
    images: [...images].sort((a, b) => b.uniqueSize - a.uniqueSize || b.size - a.size || (a.id < b.id ? -1 : 1)),
    topImages: top === 0 ? [] : [...images].sort(bySizeThenId((x) => x.id)).slice(0, top),
    topLayers: layers.sort(bySizeThenId((x) => x.chainId)).slice(0, top),
    layerCount: model.layers.size,
    reclaimable: plan ? reclaimable(plan) : null,
    protected: plan?.protected ?? [],
    unknown,
    unknownBytes: unknown.reduce((n, u) => n + u.bytes, 0),
  };
}
