// `strata images` against `docker images` on the habits scenario: every filter kind, REPO[:TAG], -a, -q,
// --digests, --no-trunc and several --format templates, line by line. Docker's order is random among
// images created in the same second (and among an image's repositories), so both outputs are put in one
// canonical order first; strata's own order is checked to be newest first. CREATED is relative: when the
// clock moved between the two runs (docker's output before and after strata's differs), relative times
// are masked and columns compared as cells.
import type { Test } from 'tap';
import type { HabitsContext } from '../../helpers/habits-scenario.js';

/** go-units HumanDuration phrases followed by " ago". */
const SINCE = /(?:Less than a second|About a minute|About an hour|\d+ (?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)) ago/g;

interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

async function docker(ctx: HabitsContext, args: string[]): Promise<Run> {
  try {
    return { stdout: await ctx.d.docker(args), stderr: '', code: 0 };
  } catch (err) {
    // dockerd.ts puts the arguments and docker's stderr into the message.
    return { stdout: '', stderr: String((err as Error).message), code: 1 };
  }
}

/** The image id a line names (short or full), if any. */
function idOf(line: string): string | null {
  const full = /sha256:([0-9a-f]{64})/.exec(line);
  if (full) return full[1].slice(0, 12);
  const short = /(?:^|[^0-9a-f])([0-9a-f]{12})(?:[^0-9a-f]|$)/.exec(line);
  return short ? short[1] : null;
}

/** Data lines in one order: newest image first (by the API's Created seconds), then by text. */
function canonical(out: string, created: Map<string, number>, header: boolean): string[] {
  const lines = out.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const head = header ? lines.splice(0, 1) : [];
  const key = (line: string) => {
    const id = idOf(line);
    return id === null ? 0 : created.get(id) ?? 0;
  };
  lines.sort((a, b) => key(b) - key(a) || (a < b ? -1 : a > b ? 1 : 0));
  return [...head, ...lines];
}

/** Relative times masked, columns as cells (runs of 2+ spaces or tabs split them). */
function masked(lines: string[]): string[] {
  return lines.map((l) => l.replace(SINCE, '<since>').split(/ {2,}|\t/).join(' | '));
}

async function compare(t: Test, ctx: HabitsContext, created: Map<string, number>, args: string[], header: boolean): Promise<void> {
  const label = `images ${args.map((a) => (/[\s*{}'[]/.test(a) ? `'${a}'` : a)).join(' ')}`;
  const before = await docker(ctx, ['images', ...args]);
  const mine = ctx.strata(['images', ...args]);
  const after = await docker(ctx, ['images', ...args]);
  t.equal(mine.code, 0, `${label}: exit 0${mine.code ? ` (${mine.stderr.trim()})` : ''}`);
  t.equal(before.code, 0, `${label}: docker exit 0${before.code ? ` (${before.stderr.trim()})` : ''}`);
  t.equal(mine.stderr, '', `${label}: no warning`);
  const theirs = canonical(before.stdout, created, header);
  const ours = canonical(mine.stdout, created, header);
  if (theirs.join('\n') === canonical(after.stdout, created, header).join('\n')) {
    t.same(ours, theirs, `${label}: same lines as docker`);
  } else {
    t.same(masked(ours), masked(theirs), `${label}: same cells as docker (the clock moved; relative times masked)`);
  }
  // Newest first, as docker sorts.
  const times = mine.stdout.split('\n').slice(header ? 1 : 0).map(idOf).filter((id): id is string => id !== null).map((id) => created.get(id) ?? 0);
  t.same(times, [...times].sort((a, b) => b - a), `${label}: newest first`);
}

async function compareJson(t: Test, ctx: HabitsContext, args: string[]): Promise<void> {
  const label = `images ${args.join(' ')} --format '{{json .}}'`;
  const parse = (out: string) =>
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, string>)
      .sort((a, b) => (a.ID + a.Repository + a.Tag < b.ID + b.Repository + b.Tag ? -1 : 1));
  const before = await docker(ctx, ['images', ...args, '--format', '{{json .}}']);
  const mine = ctx.strata(['images', ...args, '--format', '{{json .}}']);
  const after = await docker(ctx, ['images', ...args, '--format', '{{json .}}']);
  t.equal(mine.code, 0, `${label}: exit 0${mine.code ? ` (${mine.stderr.trim()})` : ''}`);
  const theirs = parse(before.stdout);
  const ours = parse(mine.stdout);
  t.ok(theirs.length > 0, `${label}: docker lists something`);
  if (JSON.stringify(theirs) !== JSON.stringify(parse(after.stdout))) for (const o of [...theirs, ...ours]) delete o.CreatedSince;
  t.same(ours, theirs, `${label}: the same objects, field by field`);
  t.same(
    mine.stdout.split('\n').filter(Boolean).map((l) => Object.keys(JSON.parse(l))),
    before.stdout.split('\n').filter(Boolean).map((l) => Object.keys(JSON.parse(l))),
    `${label}: keys in docker's order`,
  );
}

/** An error docker's daemon reports: the same words after strata's and docker's prefixes, exit 1. */
async function compareError(t: Test, ctx: HabitsContext, args: string[]): Promise<void> {
  const label = `images ${args.join(' ')}`;
  const theirs = await docker(ctx, ['images', ...args]);
  const mine = ctx.strata(['images', ...args]);
  const words = /Error response from daemon: (.*)/.exec(theirs.stderr)?.[1]?.trim();
  t.equal(theirs.code, 1, `${label}: docker fails`);
  t.ok(words, `${label}: docker says why (${theirs.stderr.trim().split('\n').at(-1)})`);
  t.equal(mine.code, 1, `${label}: strata fails with 1`);
  t.equal(mine.stdout, '', `${label}: nothing on stdout`);
  t.equal(mine.stderr, `strata: error: ${words}\n`, `${label}: in docker's words, one line`);
}

const TABLE_CASES: string[][] = [
  [],
  ['-a'],
  ['app'],
  ['app:1'],
  ['app:*'],
  ['base'],
  ['base:latest'],
  ['example.com/team/base'],
  ['example.com/team/base:v1'],
  ['nothing-here'],
  ['-a', 'mid'],
  ['-f', 'dangling=true'],
  ['-f', 'dangling=false'],
  ['-a', '-f', 'dangling=false'],
  ['-a', '-f', 'dangling=true'],
  ['-f', 'label=org.example.step'],
  ['-f', 'label=org.example.step=env-and-label'],
  ['-f', 'label=org.example.multi=a b'],
  ['-f', 'label=org.example.version'],
  ['-f', 'label=org.example.version=1'],
  ['-f', 'label=org.example.version=nope'],
  ['-f', 'label=org.example.version', '-f', 'label=org.example.step'],
  ['-f', 'label=org.example.team', '-f', 'label=org.example.tier=gold'],
  ['-f', 'label=org.example.empty='],
  ['-a', '-f', 'label=org.example.step'],
  ['-f', 'before=app:1'],
  ['-f', 'since=base:1'],
  ['-a', '-f', 'since=mid:tagged'],
  ['-f', 'since=base:1', '-f', 'before=app:2'],
  ['-f', 'reference=*:1'],
  ['-f', 'reference=example.com/*/*'],
  ['-f', 'reference=app', '-f', 'reference=base'],
  ['-f', 'reference=*/*'],
  ['-f', 'reference=b?se:[l1]*'],
  ['-f', 'reference=app', '-f', 'label=org.example.version=1'],
  ['-f', 'dangling=true', '-f', 'reference=*'],
  ['--digests'],
  ['--digests', 'base'],
  ['--no-trunc'],
  ['-a', '--no-trunc', '--digests'],
  ['--format', 'table'],
  ['--format', 'table {{.Repository}}\t{{.Size}}'],
  ['--digests', '--format', 'table {{.Repository}}\t{{.Tag}}'],
  ['--format', 'table {{.ID}}\t{{.CreatedAt}}\t{{.VirtualSize}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}\t{{.Digest}}\t{{.CreatedSince}}'],
];

/** The cases run on every driver. */
const DRIVER_CASES = new Set(['', '-a', '-a --no-trunc --digests', '-f dangling=true', "--format table {{.ID}}\t{{.CreatedAt}}\t{{.VirtualSize}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}\t{{.Digest}}\t{{.CreatedSince}}", '-a -q']);

const LINE_CASES: string[][] = [
  ['-q'],
  ['-q', '--no-trunc'],
  ['-a', '-q'],
  ['-q', '-f', 'dangling=true', '--no-trunc'],
  ['-q', '-f', 'reference=*:1'],
  ['--format', '{{.ID}}\t{{.Repository}}:{{.Tag}}'],
  ['-a', '--format', '{{.ID}}\t{{.Repository}}:{{.Tag}}\t{{.Digest}}'],
  ['--no-trunc', '--format', '{{.ID}} {{.Size}} {{.VirtualSize}} {{.CreatedAt}}'],
  ['-q', '--format', '{{.Repository}}'],
  ['-q', '--format', 'table'],
  ['--format', 'raw'],
  ['--digests', '--format', 'raw'],
  ['-q', '--format', 'raw'],
];

export async function live(t: Test, ctx: HabitsContext): Promise<void> {
  const api = await ctx.d.api<Array<{ Id: string; Created: number }>>('/images/json?all=1');
  const created = new Map(api.map((i) => [i.Id.slice(7, 19), i.Created]));

  // The filters do not depend on the driver: on the second driver only what reads its layout (sizes, the
  // listing, the fields) is checked again.
  const full = ctx.driver === 'overlay2';
  const table = full ? TABLE_CASES : TABLE_CASES.filter((a) => DRIVER_CASES.has(a.join(' ')));
  const line = full ? LINE_CASES : LINE_CASES.filter((a) => DRIVER_CASES.has(a.join(' ')));
  for (const args of table) await compare(t, ctx, created, args, true);
  for (const args of line) await compare(t, ctx, created, args, false);
  const jsonCases = [[], ['-a'], ['-f', 'label=org.example.version'], ['-a', '-f', 'dangling=false', '-f', 'label=org.example.version'], ['--digests', 'base']];
  for (const args of full ? jsonCases : jsonCases.slice(0, 2)) await compareJson(t, ctx, args);
  if (!full) return saveForOffline(ctx);
  for (const args of [
    ['-f', 'foo=bar'],
    ['-f', 'dangling=maybe'],
    ['-f', 'since=nothere'],
    ['-f', 'before=Nope'],
    ['-f', 'reference=x['],
    ['app['],
  ]) {
    await compareError(t, ctx, args);
  }

  // docker.io/library/x is x for strata; docker matches patterns against familiar names only, so its
  // own answer to the qualified spelling is empty.
  const familiar = ctx.strata(['images', '--format', '{{.Repository}}:{{.Tag}}', 'app:1']);
  const qualified = ctx.strata(['images', '--format', '{{.Repository}}:{{.Tag}}', 'docker.io/library/app:1']);
  t.equal(qualified.stdout, familiar.stdout, 'docker.io/library/app:1 is app:1');
  t.equal(familiar.stdout, 'app:1\n');

  // --json: strata's shape, filtered alike.
  const json = JSON.parse(ctx.strata(['images', '--json', '-f', 'label=org.example.version=1']).stdout) as Array<{ id: string; repoTags: string[] }>;
  const ids = (await ctx.d.docker(['images', '-q', '--no-trunc', '-f', 'label=org.example.version=1'])).split('\n').filter(Boolean);
  t.same(json.map((i) => i.id).sort(), [...new Set(ids)].sort(), '--json lists the images docker selects');

  await saveForOffline(ctx);
}

async function saveForOffline(ctx: HabitsContext): Promise<void> {
  ctx.saved.images = {
    quiet: await ctx.d.docker(['images', '-a', '-q', '--no-trunc']),
    format: await ctx.d.docker(['images', '--format', '{{.ID}} {{.Repository}}:{{.Tag}} {{.Size}}', '-f', 'reference=*:1']),
  };
}

export async function offline(t: Test, ctx: HabitsContext): Promise<void> {
  const saved = ctx.saved.images as { quiet: string; format: string } | undefined;
  if (!saved) return;
  const created = new Map<string, number>();
  const quiet = ctx.strata(['images', '-a', '-q', '--no-trunc']);
  t.same(canonical(quiet.stdout, created, false), canonical(saved.quiet, created, false), 'offline: images -a -q --no-trunc as docker listed them');
  const format = ctx.strata(['images', '--format', '{{.ID}} {{.Repository}}:{{.Tag}} {{.Size}}', '-f', 'reference=*:1']);
  t.same(canonical(format.stdout, created, false), canonical(saved.format, created, false), 'offline: a filtered --format as docker printed it');
}
