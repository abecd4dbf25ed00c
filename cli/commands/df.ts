// strata df: docker system df [-v], offline, plus orphaned driver directories and the real on-disk total.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { diskUsage, startMeasuringDataRoot, type DfInterruptedWrite, type DfUnknown, type DiskUsageReport } from '../../inspect/df.js';
import { hintPermissionOnce } from '../../inspect/unreadable.js';
import type { Warning } from '../../inspect/warnings.js';
import { ago, containerStatus, humanSize, shortHex, splitRepoTag, table } from '../format.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface DfArgs extends GlobalArgs {
  verbose?: boolean;
}

export const command = 'df';
export const describe = 'Disk usage like docker system df, plus orphaned directories and the on-disk total';

export function builder(y: Argv) {
  return y
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'Per image and per container' })
    .example('$0 df', 'the summary')
    .example('$0 df -v --json', 'every number, as JSON');
}

function percentOf(part: number, total: number): string {
  return total > 0 ? `${humanSize(part, 4)} (${Math.floor((part * 100) / total)}%)` : humanSize(part, 4);
}

export function summaryRows(r: DiskUsageReport): string[][] {
  const activeImages = r.images.filter((i) => i.containers > 0);
  const used = activeImages.reduce((n, i) => n + i.size - i.sharedSize, 0);
  const isActive = (state: string) => ['running', 'paused', 'restarting'].includes(state);
  const rw = (n: number | null) => n ?? 0;
  const ctrTotal = r.containers.reduce((n, c) => n + rw(c.sizeRw), 0);
  const ctrReclaimable = r.containers.filter((c) => !isActive(c.state)).reduce((n, c) => n + rw(c.sizeRw), 0);
  const orphanBytes = r.orphans.reduce((n, o) => n + o.bytes, 0);
  const leakedBytes = r.leakedLayers.reduce((n, l) => n + (l.size ?? 0), 0);
  const rows = [
    ['Images', String(r.images.length), String(activeImages.length), humanSize(r.layersSize, 4), percentOf(r.layersSize - used, r.layersSize)],
    ['Containers', String(r.containers.length), String(r.containers.filter((c) => isActive(c.state)).length), humanSize(ctrTotal, 4), percentOf(ctrReclaimable, ctrTotal)],
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

function verboseText(r: DiskUsageReport, now: number): string {
  const imageRows = r.images.flatMap((i) => {
    const refs = i.repoTags.length ? i.repoTags.map(splitRepoTag) : [['<none>', '<none>']];
    return refs.map(([repo, tag]) => [repo, tag, shortHex(i.id), ago(i.created, now), humanSize(i.size), humanSize(i.sharedSize), humanSize(i.uniqueSize), String(i.containers)]);
  });
  const ctrRows = r.containers.map((c) => [
    shortHex(c.id),
    c.image.startsWith('sha256:') ? shortHex(c.image) : c.image,
    JSON.stringify(c.command.length > 20 ? `${c.command.slice(0, 19)}…` : c.command),
    c.sizeRw === null ? 'N/A' : humanSize(c.sizeRw),
    ago(c.created, now),
    containerStatus(c, now),
    c.name,
  ]);
  const orphanRows = r.orphans.map((o) => [o.path, humanSize(o.bytes)]);
  return [
    'Images space usage:\n\n',
    table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'], imageRows),
    '\nContainers space usage:\n\n',
    table(['CONTAINER ID', 'IMAGE', 'COMMAND', 'SIZE', 'CREATED', 'STATUS', 'NAMES'], ctrRows),
    '\nOrphaned driver directories (no layer or container references them):\n\n',
    table(['PATH', 'SIZE'], orphanRows),
    `\nLeaked layers (in layerdb, used by no image or container): ${r.leakedLayers.length}\n`,
  ].join('');
}

export async function handler(args: ArgumentsCamelCase<DfArgs>): Promise<void> {
  await runCommand(async () => {
    const walkWarnings: Warning[] = [];
    const dataRoot = startMeasuringDataRoot(args.root, walkWarnings);
    // The measuring threads have the other cores already: layerdb is read here, not on one more thread.
    const { model, driver } = await loadStore(args, 'usage', { parallelLayers: Infinity });
    const warnings: Warning[] = [...model.warnings];
    const report = await diskUsage(model, driver, warnings, dataRoot);
    warnings.push(...walkWarnings);
    hintPermissionOnce(warnings);
    if (args.json) {
      printJson(report);
      return warnings;
    }
    const now = Date.now();
    const text =
      (args.verbose ? verboseText(report, now) : table(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], summaryRows(report))) + extraSections(report);
    const root = report.dataRoot;
    writeOut(`${text}\nData-root ${root.path} on disk: ${humanSize(root.apparentBytes, 4)} (${humanSize(root.allocatedBytes, 4)} allocated; hardlinks counted once)\n`);
    return warnings;
  });
}
