// strata prune: what can be reclaimed (--dry-run, the default), and its removal (--apply) while nothing
// uses the store — the leftovers docker system prune never sees, and what it does see (dangling images,
// with --containers stopped containers). The plan is inspect/prune.ts's; removal inspect/store-remove.ts's.
import { closeSync, openSync, readSync, rmdirSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { FilterArgs } from '../../inspect/filter-args.js';
import { withWriteSession } from '../../inspect/open-for-write.js';
import { DEFAULT_MIN_AGE_MS, goDurationString, parseGoDuration, planPrune, pruneFilters, type PruneItem, type PruneOptions, type PrunePlan } from '../../inspect/prune.js';
import { assertRootIdle, removeGroups, type RemovalGroup } from '../../inspect/store-remove.js';
import { hintPermissionOnce } from '../../inspect/unreadable.js';
import type { Warning } from '../../inspect/warnings.js';
import { StrataError } from '../../native/errors.js';
import { join } from 'node:path';
import { dockerHumanSize, truncateId } from '../docker-format.js';
import { table } from '../format.js';
import { filterOption } from '../options.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';
import { V1_LAYOUT } from '../../inspect/v1/read-store.js';
import { createProgress } from '../progress.js';

interface PruneArgs extends GlobalArgs {
  dryRun?: boolean;
  apply?: boolean;
  yes?: boolean;
  containers?: boolean;
  minAge: number;
  filter?: FilterArgs;
}

/** --min-age: a Go duration (10m, 1h30m, 0s), in pflag's words when it is not one. */
function minAge(value: unknown): number {
  const text = String(value);
  let ms: number;
  try {
    ms = parseGoDuration(text);
  } catch (err) {
    throw new Error(`invalid argument ${JSON.stringify(text)} for "--min-age" flag: ${(err as Error).message}`);
  }
  if (ms < 0) throw new Error(`invalid argument ${JSON.stringify(text)} for "--min-age" flag: a duration cannot be negative`);
  return ms;
}

export const command = 'prune';
export const describe = 'What can be reclaimed — dangling images, unused layers, orphaned directories, stale write-sets, leftover container layers — and (--apply) its removal';

export function builder(y: Argv) {
  return y
    .option('dry-run', { type: 'boolean', describe: 'List what --apply would remove, item by item, with bytes on disk (the default)' })
    .option('apply', { type: 'boolean', describe: 'Remove what --dry-run lists; refused while a dockerd, a containerd shim or a mount uses the root' })
    // docker system/image/container prune: -f, --force skips the question; --filter has no short form there.
    .option('yes', { alias: ['y', 'f', 'force'], type: 'boolean', describe: 'Do not ask for confirmation (needed without a terminal)' })
    .option('containers', { type: 'boolean', describe: 'Also stopped (created, exited, dead) containers, as docker container prune removes them, and then the dangling images only they used' })
    .option('min-age', {
      type: 'string',
      requiresArg: true,
      default: '10m',
      coerce: minAge,
      describe: 'Leave anything modified more recently than this (a Go duration: 10m, 1h30m, 0s): a daemon may still be writing it',
    })
    .option(
      'filter',
      filterOption(
        'Filter values as docker system prune: until=<timestamp|duration> (images and containers by creation time, leftovers by modification time), ' +
          'label=<key>[=<value>] / label!=<key>[=<value>] (images and containers by their labels; leftovers carry none)',
        null,
      ),
    )
    // docker image/system prune -a removes every unused image, tagged ones too: strata's prune has no such mode.
    .option('all', {
      alias: 'a',
      type: 'boolean',
      hidden: true,
      coerce: (all: unknown) => {
        if (all === true || (Array.isArray(all) && all.includes(true))) {
          throw new Error('-a/--all is not supported: strata prune removes dangling images (with --containers also stopped containers) and leftovers, never unused tagged images');
        }
        return all;
      },
    })
    .conflicts('dry-run', 'apply')
    .example('$0 prune', 'what can be reclaimed, and why (nothing is removed)')
    .example('$0 prune --json', 'the same as JSON: {items, bytes, unknown, tooRecent, protected}')
    .example('$0 prune --containers --filter until=24h', 'also stopped containers, and only what was created more than a day ago')
    .example('systemctl stop docker && $0 prune --apply', 'remove it (asks first on a terminal)')
    .example('$0 prune --apply --yes --min-age 1h', 'without asking, leaving anything touched in the last hour');
}

function options(args: PruneArgs, now: number): PruneOptions {
  return { containers: args.containers, minAgeMs: args.minAge ?? DEFAULT_MIN_AGE_MS, now, ...pruneFilters(args.filter ?? new Map(), now) };
}

// --- text --------------------------------------------------------------------------------------------------

/** A short id as docker shows it (12 hex digits), keeping a suffix such as "-init". */
function shortId(id: string): string {
  const m = /^(?:sha256:)?([0-9a-f]{64})(.*)$/.exec(id);
  return m ? `${truncateId(m[1])}${m[2]}` : id;
}

function itemRows(items: PruneItem[], extra: (i: PruneItem) => string): string[][] {
  return items.map((i) => [i.kind, shortId(i.id), dockerHumanSize(i.bytes), extra(i), i.path]);
}

export function planText(plan: PrunePlan, minAgeMs: number): string {
  let out = '';
  if (plan.items.length === 0) out += 'Nothing to reclaim.\n';
  else {
    out += table(['KIND', 'ID', 'SIZE', 'REASON', 'PATH'], itemRows(plan.items, (i) => i.reason));
    out += `Total: ${plan.items.length} item${plan.items.length === 1 ? '' : 's'}, ${dockerHumanSize(plan.bytes)} reclaimable (strata prune --apply removes them)\n`;
  }
  if (plan.tooRecent.length > 0) {
    out += `\nToo recent (modified within --min-age ${goDurationString(minAgeMs)}; not removed):\n`;
    out += table(['KIND', 'ID', 'SIZE', 'MODIFIED', 'PATH'], itemRows(plan.tooRecent, (i) => i.modified));
  }
  if (plan.unknown.length > 0) {
    out += '\nUnknown (what owns them could not be read; never removed):\n';
    out += table(
      ['KIND', 'ID', 'SIZE', 'BLOCKED BY', 'PATH'],
      plan.unknown.map((u) => [u.kind, shortId(u.id), dockerHumanSize(u.bytes), `${u.unreadable[0]?.file ?? '?'}${u.unreadable.length > 1 ? ` (+${u.unreadable.length - 1})` : ''}`, u.path]),
    );
  }
  if (plan.protected.length > 0) {
    out += '\nProtected (a strata migration; never removed):\n';
    out += table(['PATH', 'REASON'], plan.protected.map((p) => [p.path, p.reason]));
  }
  return out;
}

/** What apply prints, in docker system prune's sections, then the leftovers docker does not know. */
export function appliedText(removed: PruneItem[], bytes: number): string {
  let out = '';
  const containers = removed.filter((i) => i.kind === 'container');
  const images = removed.filter((i) => i.kind === 'dangling-image');
  const leftovers = removed.filter((i) => i.kind !== 'container' && i.kind !== 'dangling-image');
  if (containers.length) out += `Deleted Containers:\n${containers.map((c) => `${c.id}\n`).join('')}\n`;
  if (images.length) {
    out += 'Deleted Images:\n';
    for (const i of images) {
      for (const ref of i.untag ?? []) out += `untagged: ${ref}\n`;
      for (const id of i.images ?? [i.id]) out += `deleted: ${id}\n`;
      for (const layer of i.layers ?? []) out += `deleted: ${layer}\n`;
    }
    out += '\n';
  }
  if (leftovers.length) out += `Deleted Leftovers:\n${leftovers.map((i) => `${i.kind} ${i.id}\n`).join('')}\n`;
  return `${out}Total reclaimed space: ${dockerHumanSize(bytes)}\n`;
}

// --- confirmation ------------------------------------------------------------------------------------------

/** One line typed on the terminal (/dev/tty, else stdin), or null when there is none to read. */
function readTerminalLine(): string | null {
  let fd: number;
  let opened = false;
  try {
    fd = openSync('/dev/tty', 'r');
    opened = true;
  } catch {
    fd = 0;
  }
  try {
    const buf = Buffer.alloc(1);
    const bytes: number[] = [];
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, 1, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        return null;
      }
      if (n === 0) return bytes.length ? Buffer.from(bytes).toString() : null;
      if (buf[0] === 0x0a) return Buffer.from(bytes).toString();
      bytes.push(buf[0]);
    }
  } finally {
    if (opened) closeSync(fd);
  }
}

const noTerminal = () => new StrataError('prune --apply removes files and there is no terminal to ask on: add --yes to confirm');

/** Asks y/N on a terminal; without one, --yes must have been given. */
function confirmed(args: PruneArgs, plan: PrunePlan): boolean {
  if (args.yes) return true;
  if (!process.stdin.isTTY) throw noTerminal();
  const say = (s: string) => (args.json ? process.stderr.write(s) : writeOut(s));
  say(`WARNING! This will remove the ${plan.items.length} item${plan.items.length === 1 ? '' : 's'} listed above (${dockerHumanSize(plan.bytes)}).\nAre you sure you want to continue? [y/N] `);
  const answer = readTerminalLine();
  return answer !== null && /^\s*y(es)?\s*$/i.test(answer);
}

// --- apply -------------------------------------------------------------------------------------------------

const keyOf = (i: PruneItem) => `${i.kind} ${i.id}`;

interface Applied {
  removed: PruneItem[];
  failed: Array<{ kind: string; id: string; path: string; reason: string }>;
  skipped: Array<{ kind: string; id: string; path: string; reason: string }>;
  bytes: number;
}

async function apply(args: PruneArgs, listed: PrunePlan, warnings: Warning[]): Promise<Applied> {
  return withWriteSession(args.root, { command: 'prune', driver: args.driver, existingStore: true }, async (session) => {
    // Under the lock: nothing may have started on the root, and the plan is made again on what is there now.
    assertRootIdle(args.root);
    const { model, driver } = await loadStore(args, 'all');
    const planWarnings: Warning[] = [];
    const again = await planPrune(model, driver, options(args, Date.now()), planWarnings);
    const now = new Map(again.items.map((i) => [keyOf(i), i]));
    const out: Applied = { removed: [], failed: [], skipped: [], bytes: 0 };
    const toRemove: PruneItem[] = [];
    for (const item of listed.items) {
      const current = now.get(keyOf(item));
      if (session.removedTemps.includes(item.path)) {
        // A stale strata temp entry: opening the write session removed it already.
        out.removed.push(item);
        out.bytes += item.bytes;
      } else if (!current) out.skipped.push({ kind: item.kind, id: item.id, path: item.path, reason: 'no longer prunable when the store was read again' });
      else if (!current.paths.every((p) => item.paths.includes(p))) out.skipped.push({ kind: item.kind, id: item.id, path: item.path, reason: 'changed since it was listed (more paths to remove): run prune again' });
      else toRemove.push(current);
    }
    const byLabel = new Map<string, PruneItem>(toRemove.map((i) => [keyOf(i), i]));
    const groups: RemovalGroup[] = toRemove.map((i) => ({ label: keyOf(i), paths: i.paths }));
    const result = removeGroups(args.root, groups, {
      commit: (g) => {
        const item = byLabel.get(g.label);
        if (item?.untag?.length) session.writer.untag(item.untag);
      },
    });
    for (const g of result.removed) out.removed.push(byLabel.get(g.label)!);
    for (const f of result.failed) {
      const item = byLabel.get(f.group.label)!;
      out.failed.push({ kind: item.kind, id: item.id, path: item.path, reason: f.reason });
    }
    out.bytes += result.bytesFreed;
    // The session's writer makes the metadata directories a write needs; prune wrote into none of them.
    for (const dir of [...session.writer.created.paths].reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        // not empty, or gone: left as it is
      }
    }
    if (result.trashLeft) warnings.push({ file: result.trashLeft.path, message: `not deleted (${result.trashLeft.reason}); the next strata write removes it` });
    for (const s of out.skipped) warnings.push({ file: s.path, message: `${s.kind} not removed: ${s.reason}` });
    for (const f of out.failed) warnings.push({ file: f.path, message: `${f.kind} not removed: ${f.reason}` });
    return out;
  });
}

export async function handler(args: ArgumentsCamelCase<PruneArgs>): Promise<void> {
  await runCommand(async () => {
    const opts = options(args, Date.now());
    // Refused before anything is read when it could not be applied anyway.
    if (args.apply) assertRootIdle(args.root);
    const { model, driver } = await loadStore(args, 'all');
    // prune's items are the modern layout's files (layerdb, imagedb, mounts): a v1 store has none of them.
    if (model.layout === V1_LAYOUT) throw new StrataError('a legacy v1 graph/ store: strata prunes only the modern layout (strata migrate --to overlay2 --out DIR converts it; strata dangling lists what is unused)', { file: join(model.root, 'graph') });
    // A driver strata does not write (devicemapper): --apply is refused before the plan is measured or asked about.
    if (args.apply && driver && !driver.capabilities.writable) throw new StrataError(`the ${driver.name} driver is read-only in strata: prune --dry-run lists what could go`, { file: args.root });
    const warnings: Warning[] = [...model.warnings];
    const progress = createProgress('measuring', null, !args.json);
    let shown = 0;
    const plan = await planPrune(model, driver, { ...opts, onMeasured: (bytes) => (progress.add(bytes - shown), (shown = bytes)) }, warnings);
    progress.done();
    hintPermissionOnce(warnings);
    if (!args.apply) {
      if (args.json) printJson(plan);
      else writeOut(planText(plan, opts.minAgeMs!));
      // docker system prune -f removes; here -f only skips --apply's question: say so, on stderr.
      if (args.yes && plan.items.length > 0) process.stderr.write('strata: note: -f/--yes without --apply: a dry run, nothing was removed (add --apply to remove)\n');
      return warnings;
    }
    if (plan.items.length === 0) {
      if (args.json) printJson({ removed: [], failed: [], skipped: [], bytes: 0 });
      else writeOut(`${planText(plan, opts.minAgeMs!)}Total reclaimed space: 0B\n`);
      return warnings;
    }
    if (!args.yes && !process.stdin.isTTY) throw noTerminal();
    if (!args.json && !args.yes) writeOut(planText(plan, opts.minAgeMs!) + '\n');
    // Declined: nothing removed, and no error (docker system prune answers N the same way).
    if (!confirmed(args, plan)) return warnings;
    const applied = await apply(args, plan, warnings);
    if (args.json) printJson(applied);
    else writeOut(appliedText(applied.removed, applied.bytes));
    if (applied.failed.length > 0) process.exitCode = 1;
    return warnings;
  });
}
