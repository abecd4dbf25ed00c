// df's figures as Prometheus metrics, in the text exposition format 0.0.4 that node_exporter's textfile
// collector reads: which figure becomes which metric (dfMetrics), and the text (exposition). Both pure.
// Every number is one df already computed (DiskUsageReport: docker's /system/df figures) or the audit's
// (prune's plan), so `df --prometheus` and `df` never disagree. The text format is a data format like
// JSON: rendered here so tests and the CLI share one writer. No sample carries a timestamp (the textfile
// collector refuses them); strata_scrape_timestamp_seconds says when the figures were taken.
import type { DfAudit } from './df-audit.js';
import type { DiskUsageReport } from './df.js';

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'gauge';
  samples: Sample[];
}

// --- the text format -------------------------------------------------------------------------------

const NEEDS_ESCAPE = /[\\"\n]/;

/** A label value as the format quotes it: backslash, double quote and line feed escaped. */
export function escapeLabelValue(v: string): string {
  // Most values (ids, tags) hold none of the three: returned as they are (thousands of series per scrape).
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed escaped (a double quote stays). */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A value as Go's ParseFloat reads it: integers in full, others shortest round-trip, NaN and infinities spelled. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Label names found valid: each name checked once, not once per series. */
const validLabelNames = new Set<string>();

/**
 * A label set as the series line writes it (`{a="x",b="y"}`, or nothing), made once per object: a set
 * shared by several families (an image's id and tags) is written once, not once per family.
 */
const labelTexts = new WeakMap<Labels, string>();

function labelText(name: string, labels: Labels): string {
  let text = labelTexts.get(labels);
  if (text !== undefined) return text;
  const names = Object.keys(labels);
  for (const l of names) {
    if (validLabelNames.has(l)) continue;
    if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new Error(`invalid label name ${l} in ${name}`);
    validLabelNames.add(l);
  }
  text = names.length === 0 ? '' : `{${names.map((l) => `${l}="${escapeLabelValue(labels[l])}"`).join(',')}}`;
  labelTexts.set(labels, text);
  return text;
}

/** The families as exposition text: HELP, TYPE, then the family's series; each name and each series once. */
export function exposition(families: MetricFamily[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`invalid metric name ${f.name}`);
    if (seen.has(f.name)) throw new Error(`metric family ${f.name} twice`);
    seen.add(f.name);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}\n`, `# TYPE ${f.name} ${f.type}\n`);
    // Within a family a series is its label set's text.
    const series = new Set<string>();
    for (const s of f.samples) {
      const labels = labelText(f.name, s.labels);
      if (series.has(labels)) throw new Error(`series ${f.name}${labels} twice`);
      series.add(labels);
      out.push(`${f.name}${labels} ${formatValue(s.value)}\n`);
    }
  }
  return out.join('');
}

// --- df's figures as metrics -----------------------------------------------------------------------

export interface DfMetricsInput {
  report: DiskUsageReport;
  audit: DfAudit;
  /** Warnings met while reading: items that could not be read. */
  errors: number;
  /** When the figures were taken (ms since the epoch). */
  now: number;
  /** How long taking them took (ms). */
  durationMs: number;
}

const gauge = (name: string, help: string, samples: Sample[]): MetricFamily => ({ name, help, type: 'gauge', samples });
const one = (value: number): Sample[] => [{ labels: {}, value }];
const sum = <T>(list: readonly T[], f: (x: T) => number) => list.reduce((n, x) => n + f(x), 0);
const byKey = <T>(key: (x: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

export function dfMetrics({ report: r, audit, errors, now, durationMs }: DfMetricsInput): MetricFamily[] {
  const images = [...audit.images].sort(byKey((i) => i.id));
  // One label set per image, shared by its four families (written once: exposition's labelText).
  const labelSets = new Map(images.map((i) => [i.id, { id: i.id, tag: i.tag, tags: i.repoTags.join(',') } as Labels]));
  const imageLabels = (i: (typeof images)[number]): Labels => labelSets.get(i.id)!;
  const containers = [...r.containers].filter((c) => c.sizeRw !== null).sort(byKey((c) => c.id));
  const measuredVolumes = r.volumes.filter((v) => v.size !== null);
  const families: MetricFamily[] = [
    gauge('strata_scrape_timestamp_seconds', 'When strata took these figures, in seconds since the epoch.', one(Math.round(now) / 1000)),
    gauge('strata_scrape_duration_seconds', 'How long strata took to take these figures.', one(Math.round(durationMs) / 1000)),
    gauge('strata_scrape_errors', 'Items strata could not read while taking these figures (its warnings); figures that depend on them are incomplete.', one(errors)),
    gauge('strata_data_root_bytes', 'The data-root on disk: apparent size, each inode once, not crossing into mounts (du -sb).', [{ labels: { root: r.dataRoot.path }, value: r.dataRoot.apparentBytes }]),
    gauge('strata_data_root_allocated_bytes', 'The data-root on disk: allocated blocks, each inode once (du -s --block-size=1).', [{ labels: { root: r.dataRoot.path }, value: r.dataRoot.allocatedBytes }]),
    gauge('strata_layers_size_bytes', "Docker's LayersSize (/system/df): layer sizes of the layers the listed images use, each once.", one(r.layersSize)),
    gauge('strata_layers', 'Layers in layerdb.', one(audit.layerCount)),
    gauge('strata_images', 'Images docker images lists (no intermediate build images).', one(r.images.length)),
    gauge('strata_image_size_bytes', "An image's size: its layers' sizes (docker's Size).", images.map((i) => ({ labels: imageLabels(i), value: i.size }))),
    gauge('strata_image_shared_size_bytes', "An image's bytes in layers other listed images use too (docker's SharedSize).", images.map((i) => ({ labels: imageLabels(i), value: i.sharedSize }))),
    gauge('strata_image_unique_size_bytes', "An image's bytes in layers no other listed image uses (Size - SharedSize).", images.map((i) => ({ labels: imageLabels(i), value: i.uniqueSize }))),
    gauge('strata_image_containers', 'Containers using an image.', images.map((i) => ({ labels: imageLabels(i), value: i.containers }))),
    gauge('strata_containers', 'Containers.', one(r.containers.length)),
    gauge('strata_container_rw_bytes', "A container's read-write layer (docker's SizeRw); a container whose layer could not be measured has no series.", containers.map((c) => ({ labels: { id: c.id, name: c.name, image: c.image, state: c.state }, value: c.sizeRw! }))),
    gauge('strata_volumes', 'Local volumes.', one(r.volumes.length)),
    gauge('strata_volumes_size_bytes', 'Bytes in local volumes (those that could be measured).', one(sum(measuredVolumes, (v) => v.size!))),
    gauge('strata_volumes_reclaimable_bytes', 'Bytes in local volumes no container uses.', one(sum(measuredVolumes, (v) => (v.refCount === 0 ? v.size! : 0)))),
    gauge('strata_build_cache_records', "BuildKit's build cache records.", one(r.buildCache.length)),
    gauge('strata_build_cache_size_bytes', "The build cache's size as docker system df shows it: records not shared with images.", one(sum(r.buildCache, (b) => (b.shared ? 0 : b.size ?? 0)))),
    gauge('strata_build_cache_reclaimable_bytes', 'Build cache bytes not in use.', one(sum(r.buildCache, (b) => (b.inUse || b.shared ? 0 : b.size ?? 0)))),
    gauge('strata_orphan_directories', 'Driver directories no layer, container or build cache references (and nothing unreadable might).', one(r.orphans.length)),
    gauge('strata_orphan_directories_bytes', 'Bytes in orphaned driver directories.', one(sum(r.orphans, (o) => o.bytes))),
    gauge('strata_leaked_layers', 'layerdb layers no image or container uses.', one(r.leakedLayers.length)),
    gauge('strata_leaked_layers_bytes', 'layerdb sizes of leaked layers.', one(sum(r.leakedLayers, (l) => l.size ?? 0))),
    gauge('strata_unknown_items', 'Directories and layers whose owner could not be decided because something could not be read: never reclaimable.', one(audit.unknown.length)),
    gauge('strata_unknown_bytes', 'Bytes in directories and layers whose owner could not be decided.', one(audit.unknownBytes)),
    gauge('strata_interrupted_writes_bytes', "Bytes in strata's own temporary entries (stale ones are interrupted writes).", one(sum(r.interruptedWrites, (w) => w.bytes))),
  ];
  if (audit.reclaimable) {
    const rec = audit.reclaimable;
    families.push(
      gauge('strata_reclaimable_items', 'Items strata prune --dry-run --containers lists, by kind.', rec.byKind.map((k) => ({ labels: { kind: k.kind }, value: k.items }))),
      gauge('strata_reclaimable_bytes', 'Bytes on disk strata prune --dry-run --containers would free, by kind.', rec.byKind.map((k) => ({ labels: { kind: k.kind }, value: k.bytes }))),
      gauge('strata_reclaimable_too_recent_bytes', 'Bytes prune leaves alone for now: modified too recently (--min-age).', one(rec.tooRecent.bytes)),
    );
  }
  return families;
}
