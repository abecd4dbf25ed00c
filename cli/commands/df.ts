// strata df: docker system df [-v] [--format], offline (docker/cli formatter/disk_usage.go, 20.10), then
// what the daemon does not tell: leaked layers, orphaned and unknown directories, the on-disk total.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { daemonRunsAny, isRecordedUp, listContainers } from '../../inspect/containers-list.js';
import { diskUsage, startMeasuringDataRoot, storeFindings, type StoreFindings, type DfImage, type DfInterruptedWrite, type DfUnknown, type DiskUsageReport } from '../../inspect/df.js';
import type { BuildCacheRecord } from '../../inspect/docker/buildkit.js';
import type { LocalVolume } from '../../inspect/docker/volumes.js';
import { hintPermissionOnce } from '../../inspect/unreadable.js';
import { formatWarning, type Warning } from '../../inspect/warnings.js';
import { goTimeString } from '../../inspect/docker-inspect.js';
import { dockerCreatedAt, dockerCreatedSince, dockerFinalFormat, dockerHumanDuration, dockerHumanSize, renderFormat, truncateId } from '../docker-format.js';
import { humanSize, splitRepoTag, table } from '../format.js';
import { asFormatterContext, asStruct, executeTemplate, parseTemplate, TemplateError } from '../go-template.js';
import { formatOption } from '../options.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';
import { psRow, PS_HEADERS } from './ps.js';
import { createProgress, type Progress } from '../progress.js';
import { dfAudit, DEFAULT_TOP, type AuditImage, type AuditPlanInput, type DfAudit } from '../../inspect/df-audit.js';
import { dfMetrics, exposition } from '../../inspect/prometheus.js';
import { withOutput } from '../../inspect/output-file.js';
import { planPrune } from '../../inspect/prune.js';
import type { MeasureProgress, ParallelMeasure } from '../../snapshots/measure-parallel.js';
import type { StoreModel } from '../../inspect/model.js';
import type { StorageDriver } from '../../drivers/types.js';

interface DfArgs extends GlobalArgs {
  verbose?: boolean;
  format?: string;
  audit?: boolean;
  top?: number;
  prometheus?: boolean;
  output?: string;
  follow?: boolean;
}

/** --top N: a whole number of at least 1, in the words of docker's flag errors. */
function topCount(v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`invalid argument "${String(v)}" for "--top" flag: a whole number of at least 1`);
  return n;
}

export const command = 'df';
export const describe = 'Disk usage like docker system df, plus orphaned directories and the on-disk total';

export function builder(y: Argv) {
  return y
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'Per image, container, volume and build cache record' })
    .option('format', formatOption("Docker's Go template, or table, or raw (fields Type, TotalCount, Active, Size, Reclaimable; with -v .Images, .Containers, .Volumes, .BuildCache)", 'formatter'))
    .option('audit', { type: 'boolean', describe: "After df's view: unique bytes per image, reclaimable bytes by prune's kinds, the largest images and layers, the unknown bucket (--json: an audit key)" })
    .option('top', { type: 'string', requiresArg: true, coerce: topCount, describe: `How many of the largest images and layers the audit lists (implies --audit; default ${DEFAULT_TOP})` })
    .option('prometheus', { type: 'boolean', describe: "The same figures as Prometheus metrics (text format 0.0.4), for node_exporter's textfile collector" })
    .option('output', { alias: 'o', type: 'string', requiresArg: true, describe: 'With --prometheus: write to FILE (a regular file is replaced by renaming a complete temporary file from its directory; a FIFO or device is written through; - is stdout)' })
    .option('follow', { type: 'boolean', describe: 'With -o: write where a symbolic link points (refused otherwise)' })
    .conflicts({ json: ['format', 'prometheus'], format: ['audit', 'top', 'prometheus'] })
    .example('$0 df', 'the summary')
    .example('$0 df -v', 'every image, container, volume and build cache record')
    .example("$0 df --format '{{.Type}}\\t{{.Size}}\\t{{.Reclaimable}}'", 'as docker system df --format')
    .example('$0 df -v --json', 'every number, as JSON')
    .example('$0 df --audit --top 5', 'where the disk went: the five largest images and layers, what prune could reclaim')
    .example('$0 df --prometheus -o /var/lib/prometheus/node-exporter/strata.prom', "metrics for node_exporter's textfile collector, written atomically");
}

// --- docker's summary rows (DiskUsageContext.Write) --------------------------------------------------

/** "1.2MB (40%)" when there is a total, as docker prints RECLAIMABLE. */
function withPercent(part: number, total: number): string {
  return total > 0 ? `${dockerHumanSize(part, 4)} (${Math.floor((part * 100) / total)}%)` : dockerHumanSize(part, 4);
}

/** The build cache size docker's CLI shows: records not shared with images. */
export function builderSize(cache: BuildCacheRecord[]): number {
  return cache.reduce((n, r) => n + (r.shared ? 0 : r.size ?? 0), 0);
}

/** A summary row as docker's formatter sees it; keys in the order of docker's JSON (alphabetical). */
export interface SummaryRow {
  Active: string;
  Reclaimable: string;
  Size: string;
  TotalCount: string;
  Type: string;
}

function summaryRow(Type: string, TotalCount: number, Active: number, Size: string, Reclaimable: string): SummaryRow {
  return { Active: String(Active), Reclaimable, Size, TotalCount: String(TotalCount), Type };
}

export const SUMMARY_HEADERS: Record<string, string> = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
const SUMMARY_TABLE = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const SUMMARY_RAW = 'type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n';

/** Docker's four rows: Images, Containers, Local Volumes, Build Cache. */
export function dockerSummary(r: DiskUsageReport): SummaryRow[] {
  const usedImages = r.images.filter((i) => i.containers > 0);
  const usedBytes = usedImages.reduce((n, i) => n + i.size - i.sharedSize, 0);
  const rw = r.containers.map((c) => ({ active: isRecordedUp(c.state), bytes: c.sizeRw ?? 0 }));
  const ctrTotal = rw.reduce((n, c) => n + c.bytes, 0);
  const ctrReclaimable = rw.reduce((n, c) => n + (c.active ? 0 : c.bytes), 0);
  const measured = r.volumes.filter((v) => v.size !== null);
  const volTotal = measured.reduce((n, v) => n + v.size!, 0);
  const volReclaimable = measured.reduce((n, v) => n + (v.refCount === 0 ? v.size! : 0), 0);
  const cacheSize = builderSize(r.buildCache);
  const inUse = r.buildCache.reduce((n, b) => n + (b.inUse && !b.shared ? b.size ?? 0 : 0), 0);
  return [
    summaryRow('Images', r.images.length, usedImages.length, dockerHumanSize(r.layersSize, 4), withPercent(r.layersSize - usedBytes, r.layersSize)),
    summaryRow('Containers', r.containers.length, rw.filter((c) => c.active).length, dockerHumanSize(ctrTotal, 4), withPercent(ctrReclaimable, ctrTotal)),
    summaryRow('Local Volumes', r.volumes.length, r.volumes.filter((v) => v.refCount > 0).length, dockerHumanSize(volTotal, 4), withPercent(volReclaimable, volTotal)),
    summaryRow('Build Cache', r.buildCache.length, r.buildCache.filter((b) => b.inUse).length, dockerHumanSize(cacheSize, 4), dockerHumanSize(cacheSize - inUse, 4)),
  ];
}

/** strata's own rows, after docker's: what the daemon does not count. */
export function extraRows(r: DiskUsageReport): string[][] {
  const orphanBytes = r.orphans.reduce((n, o) => n + o.bytes, 0);
  const leakedBytes = r.leakedLayers.reduce((n, l) => n + (l.size ?? 0), 0);
  const rows = [
    ['Leaked layers', String(r.leakedLayers.length), '0', humanSize(leakedBytes, 4), humanSize(leakedBytes, 4)],
    ['Orphaned dirs', String(r.orphans.length), '0', humanSize(orphanBytes, 4), humanSize(orphanBytes, 4)],
  ];
  if (r.unknown.length > 0) {
    const bytes = r.unknown.reduce((n, u) => n + u.bytes, 0);
    rows.push(['Unknown', String(r.unknown.length), '-', humanSize(bytes, 4), humanSize(0, 4)]);
  }
  if (r.interruptedWrites.length > 0) {
    const stale = r.interruptedWrites.filter((w) => w.stale);
    const bytes = (list: DfInterruptedWrite[]) => list.reduce((n, w) => n + w.bytes, 0);
    rows.push(['Interrupted writes', String(r.interruptedWrites.length), String(r.interruptedWrites.length - stale.length), humanSize(bytes(r.interruptedWrites), 4), humanSize(bytes(stale), 4)]);
  }
  return rows;
}

/** Cells padded to at least the given widths (docker's rows' columns), so extra rows line up under them. */
function alignedUnder(rows: string[][], widths: number[]): string {
  const all = rows.map((r) => r.map((c, i) => Math.max(widths[i] ?? 10, [...c].length + 3)));
  const cols = Math.max(...all.map((r) => r.length));
  const w = Array.from({ length: cols }, (_, i) => Math.max(...all.map((r) => r[i] ?? 0)));
  return rows.map((r) => `${r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(w[i] - [...c].length))).join('').trimEnd()}\n`).join('');
}

/** The column widths docker's tabwriter gives rows (min width 10, padding 3). */
function columnWidths(rows: string[][]): number[] {
  return rows[0].map((_, i) => Math.max(10, ...rows.map((r) => [...(r[i] ?? '')].length + 3)));
}

/** docker system df's table, then strata's rows aligned under it. */
export function summaryText(r: DiskUsageReport): string {
  const dockerRows = [['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], ...dockerSummary(r).map((s) => [s.Type, s.TotalCount, s.Active, s.Size, s.Reclaimable])];
  return table(dockerRows[0], dockerRows.slice(1)) + alignedUnder(extraRows(r), columnWidths(dockerRows));
}

// --- docker's -v contexts (imageContext, ContainerContext, volumeContext, buildCacheContext) ---------

/** Build cache times as docker's CLI prints them: the time decoded from the API, nanoseconds and zone kept. */
export { goTimeString };

/** docker's CreatedSince of a time kept to the nanosecond (build cache records): no cut to seconds. */
const since = (iso: string, now: number) => `${dockerHumanDuration(now - Date.parse(iso))} ago`;

export function imageContext(i: DfImage, trunc: boolean, now: number): Record<string, string> {
  const [repo, tag] = i.repoTags.length > 0 ? splitRepoTag(i.repoTags[0]) : ['<none>', '<none>'];
  return asFormatterContext({
    Containers: String(i.containers),
    // Both cut to whole seconds, as the API gives an image's time.
    CreatedAt: dockerCreatedAt(i.created),
    CreatedSince: dockerCreatedSince(i.created, now),
    Digest: '',
    ID: trunc ? truncateId(i.id) : i.id,
    Repository: repo,
    SharedSize: dockerHumanSize(i.sharedSize, 4),
    Size: dockerHumanSize(i.size, 3),
    Tag: tag,
    UniqueSize: dockerHumanSize(i.uniqueSize, 4),
    VirtualSize: dockerHumanSize(i.size, 4),
  }, '*formatter.imageContext');
}

export function volumeContext(v: LocalVolume): Record<string, unknown> {
  const labels = v.labels ?? {};
  const row: Record<string, unknown> = {
    Driver: v.driver,
    Labels: Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(','),
    Links: String(v.refCount),
    Mountpoint: v.mountpoint,
    Name: v.name,
    Scope: v.scope,
    Size: v.size === null ? 'N/A' : dockerHumanSize(v.size, 4),
  };
  Object.defineProperty(row, 'Label', { value: (name: string) => labels[name] ?? '', enumerable: false });
  return asFormatterContext(row, '*formatter.volumeContext');
}

export function buildCacheContext(b: BuildCacheRecord, trunc: boolean, now: number): Record<string, string> {
  const id = trunc ? truncateId(b.id) : b.id;
  return asFormatterContext({
    CacheType: b.type,
    CreatedAt: goTimeString(b.createdAt),
    CreatedSince: since(b.createdAt, now),
    Description: b.description,
    ID: b.inUse ? `${id}*` : id,
    InUse: String(b.inUse),
    LastUsedAt: b.lastUsedAt === null ? '' : goTimeString(b.lastUsedAt),
    LastUsedSince: b.lastUsedAt === null ? '' : since(b.lastUsedAt, now),
    Parent: trunc ? truncateId(b.parent) : b.parent,
    Shared: String(b.shared),
    Size: b.size === null ? 'N/A' : dockerHumanSize(b.size, 3),
    UsageCount: String(b.usageCount),
  }, '*formatter.buildCacheContext');
}

interface VerboseData {
  Images: Array<Record<string, string>>;
  Containers: Array<Record<string, unknown>>;
  Volumes: Array<Record<string, unknown>>;
  BuildCache: Array<Record<string, string>>;
}

function verboseData(r: DiskUsageReport, model: Parameters<typeof listContainers>[0], trunc: boolean, now: number): VerboseData {
  const sizes = new Map(r.containers.map((c) => [c.id, c.sizeRw]));
  const listed = listContainers(model, { all: true });
  const daemonRunning = daemonRunsAny(model, listed.map((l) => l.container));
  return asStruct({
    Images: r.images.map((i) => imageContext(i, trunc, now)),
    // docker system df -v leaves out the virtual size.
    Containers: listed.map((l) => asFormatterContext(psRow(l, { trunc, now, daemonRunning, sizes: { sizeRw: sizes.get(l.container.id) ?? null, sizeRootFs: 0 } }), '*formatter.ContainerContext')),
    Volumes: r.volumes.map(volumeContext),
    BuildCache: r.buildCache.map((b) => buildCacheContext(b, trunc, now)),
  }, '*formatter.diskUsageContext');
}

const IMAGE_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.VirtualSize}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
const CONTAINER_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}';
const VOLUME_TABLE = 'table {{.Name}}\t{{.Links}}\t{{.Size}}';
const BUILD_CACHE_TABLE = 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}';
const IMAGE_HEADERS = { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', VirtualSize: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS' };
const VOLUME_HEADERS = { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' };
const BUILD_CACHE_HEADERS = { ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED' };

/** docker system df -v's four sections. */
export function verboseText(r: DiskUsageReport, data: VerboseData): string {
  return [
    'Images space usage:\n\n',
    renderFormat(IMAGE_TABLE, data.Images, IMAGE_HEADERS),
    '\nContainers space usage:\n\n',
    renderFormat(CONTAINER_TABLE, data.Containers, PS_HEADERS),
    '\nLocal Volumes space usage:\n\n',
    renderFormat(VOLUME_TABLE, data.Volumes, VOLUME_HEADERS),
    `\nBuild cache usage: ${dockerHumanSize(builderSize(r.buildCache), 4)}\n\n`,
    renderFormat(BUILD_CACHE_TABLE, data.BuildCache, BUILD_CACHE_HEADERS),
  ].join('');
}

/** `-v --format`: docker runs the template once over all four lists (no header, no alignment). */
export function verboseFormatText(format: string, data: VerboseData): string {
  try {
    return executeTemplate(parseTemplate(dockerFinalFormat(format)), data);
  } catch (err) {
    if (err instanceof TemplateError) throw new TemplateError(`template parsing error: ${err.message}`);
    throw err;
  }
}

// --- strata's extras -----------------------------------------------------------------------------

/** Why an item's owner is unknown: the first file that could not be read, and how many more. */
export function unknownReason(u: DfUnknown): string {
  const more = u.unreadable.length > 1 ? `, and ${u.unreadable.length - 1} more` : '';
  return `unknown (unreadable: ${u.unreadable[0]?.file ?? '?'}${more})`;
}

export function interruptedState(w: DfInterruptedWrite): string {
  return w.stale ? 'interrupted strata write' : `strata write in progress${w.pid === null ? '' : ` (pid ${w.pid})`}`;
}

/** The buckets shown only when they hold something: what may belong to something unreadable, and strata's own leftovers. */
function extraSections(r: DiskUsageReport): string {
  const parts: string[] = [];
  if (r.unknown.length > 0) {
    parts.push(
      '\nUnknown (may belong to something that could not be read; never counted as orphaned or leaked):\n\n',
      table(['PATH', 'SIZE', 'REASON'], r.unknown.map((u) => [u.path, humanSize(u.bytes), unknownReason(u)])),
    );
  }
  if (r.interruptedWrites.length > 0) {
    parts.push('\nTemporary entries of strata writers:\n\n', table(['PATH', 'SIZE', 'STATE'], r.interruptedWrites.map((w) => [w.path, humanSize(w.bytes), interruptedState(w)])));
  }
  return parts.join('');
}

function verboseExtras(r: DiskUsageReport): string {
  return [
    '\nOrphaned driver directories (no layer, container or build cache references them):\n\n',
    table(['PATH', 'SIZE'], r.orphans.map((o) => [o.path, humanSize(o.bytes)])),
    `\nLeaked layers (in layerdb, used by no image or container): ${r.leakedLayers.length}\n`,
  ].join('');
}

// --- the audit (--audit, --top) and the metrics (--prometheus) ---------------------------------------

const KIND_NOTES: Record<string, string> = {
  'dangling-image': 'untagged images no other image is built on',
  'unused-layer': 'layers no image or container uses',
  'orphan-directory': 'driver directories nothing references',
  'write-set': 'stale layerdb/tmp/write-set-*',
  'leftover-mount': "layerdb/mounts of containers whose directory is gone",
  container: "stopped containers' read-write layers (prune --containers)",
};

const nameOfImage = (i: AuditImage) => (i.tag === '<none>' ? '<none>:<none>' : i.tag);

/** The audit's sections, after df's own view. */
export function auditText(a: DfAudit, imageCount: number): string {
  const parts: string[] = ['\nAudit (strata prune --dry-run --containers lists every reclaimable item):\n'];
  if (a.reclaimable) {
    const rec = a.reclaimable;
    parts.push(
      '\nReclaimable by kind:\n\n',
      table(
        ['KIND', 'ITEMS', 'SIZE', 'WHAT'],
        [
          ...rec.byKind.map((k) => [k.kind, String(k.items), humanSize(k.bytes, 4), KIND_NOTES[k.kind] ?? '']),
          ['total', String(rec.items), humanSize(rec.bytes, 4), ''],
          ['too recent', String(rec.tooRecent.items), humanSize(rec.tooRecent.bytes, 4), 'modified within --min-age: left alone for now'],
        ],
      ),
    );
  }
  if (a.protected.length > 0) parts.push('\nProtected (never pruned):\n\n', table(['PATH', 'REASON'], a.protected.map((p) => [p.path, p.reason])));
  const unique = a.images.reduce((n, i) => n + i.uniqueSize, 0);
  parts.push(
    `\nLargest images (${a.topImages.length} of ${imageCount}; unique bytes of all images: ${humanSize(unique, 4)}):\n\n`,
    table(['IMAGE', 'IMAGE ID', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'], a.topImages.map((i) => [nameOfImage(i), truncateId(i.id), humanSize(i.size, 4), humanSize(i.sharedSize, 4), humanSize(i.uniqueSize, 4), String(i.containers)])),
    `\nLargest layers (${a.topLayers.length} of ${a.layerCount}):\n\n`,
    table(['LAYER', 'SIZE', 'IMAGES', 'USED BY'], a.topLayers.map((l) => [truncateId(l.chainId), humanSize(l.size, 4), String(l.images), l.usedBy === null ? '-' : l.usedBy.startsWith('sha256:') ? truncateId(l.usedBy) : l.usedBy])),
  );
  if (a.unknown.length > 0) {
    parts.push(
      `\nUnknown (${humanSize(a.unknownBytes, 4)}; never reclaimable until the file that blocked the decision can be read):\n\n`,
      table(['PATH', 'KIND', 'SIZE', 'BLOCKED BY'], a.unknown.map((u) => [u.path, u.kind, humanSize(u.bytes, 4), u.unreadable.map((b) => `${b.file}: ${b.reason}`).join('; ')])),
    );
  }
  return parts.join('');
}

/** A progress bar for the data-root walk, made once the walk knows how many directories it cut the tree into. */
function walkProgress(enabled: boolean): { onProgress: MeasureProgress | undefined; done(): void } {
  let bar: Progress | null = null;
  let shown = 0;
  return {
    // Without a bar the walk is not asked for progress: it then runs as one job on its threads, never
    // waiting between batches for this thread (which reads the store, and plans for --audit, meanwhile).
    onProgress: !enabled ? undefined : (done, total) => {
      bar ??= createProgress('df: measuring', total, enabled, String);
      bar.label('directories');
      bar.add(done - shown);
      shown = done;
    },
    done: () => bar?.done(),
  };
}

/**
 * prune's plan for the audit: every kind docker's own prune has too (exited containers included). Made
 * while the data-root walk still runs; its items are measured from that walk's entries, and what the walk
 * lists is not looked at again for mtimes.
 */
function reclaimPlan(model: StoreModel, driver: StorageDriver | null, dataRoot: ParallelMeasure, found: StoreFindings, warnings: Warning[]): Promise<AuditPlanInput | null> {
  const plan = planPrune(model, driver, { containers: true, sizes: dataRoot.entries, walked: dataRoot.known, found, stampModified: false }, warnings);
  plan.catch(() => {}); // awaited after df's own figures; a failure is reported there, not as unhandled
  return plan;
}

/** What -o and --follow need, said as yargs says a usage error (exit 2, before anything is read). */
function optionMisuse(args: DfArgs): string | null {
  if (args.output !== undefined && !args.prometheus) return '-o/--output writes the metrics: it needs --prometheus';
  if (args.follow && args.output === undefined) return '--follow applies to -o FILE';
  return null;
}

export async function handler(args: ArgumentsCamelCase<DfArgs>): Promise<void> {
  const misuse = optionMisuse(args);
  if (misuse) {
    process.stderr.write(`strata: error: ${misuse}\n(strata --help lists commands and options)\n`);
    process.exitCode = 2;
    return;
  }
  await runCommand(async () => {
    const started = Date.now();
    const toFile = args.prometheus === true && args.output !== undefined && args.output !== '-' && args.output !== '/dev/stdout';
    // On a terminal only: never over a pipe's reader (df | less), nor with --json.
    const progress = walkProgress(!args.json && (toFile || process.stdout.isTTY === true));
    const walkWarnings: Warning[] = [];
    const wantAudit = args.audit === true || args.top !== undefined || args.prometheus === true;
    const { model, report, audit, warnings } = await (async () => {
      try {
        const dataRoot = startMeasuringDataRoot(args.root, walkWarnings, progress.onProgress);
        // The measuring threads have the other cores already: layerdb is read here, not on one more thread.
        const { model, driver } = await loadStore(args, 'usage', { parallelLayers: Infinity });
        const warnings: Warning[] = [...model.warnings];
        const planWarnings: Warning[] = [];
        // What both classify (driver directories, unused layers) is found once.
        const found = storeFindings(model, driver);
        const plan = wantAudit ? reclaimPlan(model, driver, dataRoot, found, planWarnings) : null;
        const report = await diskUsage(model, driver, warnings, dataRoot, found);
        warnings.push(...walkWarnings);
        const audit = plan ? dfAudit(report, model, await plan, { top: args.top, lists: !args.prometheus }) : null;
        warnings.push(...planWarnings);
        return { model, report, audit, warnings };
      } finally {
        progress.done();
      }
    })();
    hintPermissionOnce(warnings);
    if (args.prometheus) {
      const text = exposition(dfMetrics({ report, audit: audit!, errors: new Set(warnings.map(formatWarning)).size, now: Date.now(), durationMs: Date.now() - started }));
      await withOutput(args.output ?? '-', { follow: args.follow }, async (out) => {
        await out.write(Buffer.from(text));
      });
      return warnings;
    }
    if (args.json) {
      printJson(audit ? { ...report, audit } : report);
      return warnings;
    }
    const now = Date.now();
    if (args.format !== undefined && args.format !== '') {
      if (args.verbose && args.format === 'table') {
        writeOut(verboseText(report, verboseData(report, model, true, now)));
      } else if (args.verbose) {
        const trunc = args.format.startsWith('table');
        writeOut(verboseFormatText(args.format, verboseData(report, model, trunc, now)));
      } else {
        const format = args.format === 'table' ? SUMMARY_TABLE : args.format === 'raw' ? SUMMARY_RAW : args.format;
        writeOut(renderFormat(format, dockerSummary(report).map((row) => asFormatterContext(row, '*formatter.diskUsageImagesContext')), SUMMARY_HEADERS));
      }
      return warnings;
    }
    const text = args.verbose
      ? verboseText(report, verboseData(report, model, true, now)) + verboseExtras(report)
      : summaryText(report);
    const root = report.dataRoot;
    writeOut(`${text}${extraSections(report)}\nData-root ${root.path} on disk: ${humanSize(root.apparentBytes, 4)} (${humanSize(root.allocatedBytes, 4)} allocated; hardlinks counted once)\n${audit ? auditText(audit, report.images.length) : ''}`);
    return warnings;
  });
}
