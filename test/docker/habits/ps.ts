// ps's checks on the habits store: strata ps against docker ps while the daemon runs (the default table,
// -a, -q, -n, -l, --no-trunc, every field of --format and {{json .}}, each filter and their combinations,
// the filter errors in dockerd's words, -s sizes measured through the driver); offline, after the stop,
// the same listing from the files alone. dockerd's clean stop records c-running as exited, so the honesty
// check reads a copy of the container and image metadata taken while c-running was up: no daemon uses
// that copy, so a container recorded as running must show "(daemon not running)", never plainly Up.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { basename, join } from 'node:path';
import type { Test } from 'tap';
import { maskTimes, tableCells } from '../../helpers/docker-text.js';
import type { HabitsContext } from '../../helpers/habits-scenario.js';

/** Docker lists labels, mounts and networks in Go's random map order: compare them as sorted lists. */
function sortList(s: string): string {
  return s.split(',').sort().join(',');
}

const UNORDERED = ['Labels', 'Mounts', 'Networks'];

const FIELDS = ['ID', 'Image', 'Command', 'CreatedAt', 'Ports', 'State', 'Names', 'Labels', 'Mounts', 'Networks', 'LocalVolumes', 'RunningFor', 'Status'];
const FORMAT = FIELDS.map((f) => `{{.${f}}}`).join('|') + '|{{.Label "org.example.step"}}';

function normaliseFormatted(text: string): string[] {
  return text
    .trimEnd()
    .split('\n')
    .map((line) =>
      line
        .split('|')
        .map((cell, i) => (UNORDERED.includes(FIELDS[i] ?? '') ? sortList(cell) : maskTimes(cell)))
        .join('|'),
    );
}

function normaliseJson(text: string): Array<Record<string, string>> {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => {
      const row = JSON.parse(line) as Record<string, string>;
      for (const k of Object.keys(row)) row[k] = UNORDERED.includes(k) ? sortList(row[k]) : maskTimes(row[k]);
      return row;
    });
}

const FILTERS: string[][] = [
  ['status=exited', 'status=created'],
  ['name=^c-run'],
  ['label=org.example.multi=a b'],
  ['label=org.example.multi=a'],
  ['label=org.example.role=writer', 'label=org.example.multi'],
  ['ancestor=base:1'],
  ['ancestor=nope:1'],
  ['before=c-running'],
  ['since=c-dangling'],
  ['exited=0'],
  ['volume=vol-data'],
  ['volume=/anon'],
  ['network=none'],
  ['status=exited', 'ancestor=app:1'],
];

const FILTER_ERRORS: string[][] = [['foo=1'], ['status=bogus'], ['before=nope']];

export async function live(t: Test, ctx: HabitsContext): Promise<void> {
  const s = ctx.scenario;
  for (const flags of [[], ['-a'], ['-n', '2']]) {
    const expected = await ctx.d.docker(['ps', ...flags]);
    const r = ctx.strata(['ps', ...flags]);
    t.equal(r.code, 0, `strata ps ${flags.join(' ')} succeeds${r.code ? `: ${r.stderr}` : ''}`);
    t.same(tableCells(r.stdout), tableCells(expected), `ps ${flags.join(' ')} = docker's (times masked)`);
  }
  for (const flags of [['-q'], ['-aq', '--no-trunc'], ['-l', '-q']]) {
    t.equal(ctx.strata(['ps', ...flags]).stdout, await ctx.d.docker(['ps', ...flags]), `ps ${flags.join(' ')} = docker's`);
  }
  const running = ctx.strata(['ps', '--format', '{{.Names}} {{.Status}}']).stdout;
  t.match(running, /^c-running Up \S/m, 'live: c-running is up');
  t.notMatch(running, /daemon not running/, 'live: no offline note while dockerd runs on the root');

  for (const flags of [['-a', '--format', FORMAT], ['-a', '--no-trunc', '--format', FORMAT]]) {
    const expected = await ctx.d.docker(['ps', ...flags]);
    t.same(normaliseFormatted(ctx.strata(['ps', ...flags]).stdout), normaliseFormatted(expected), `ps ${flags.slice(0, -1).join(' ')} <every field> = docker's`);
  }
  const json = await ctx.d.docker(['ps', '-a', '--format', '{{json .}}']);
  t.same(normaliseJson(ctx.strata(['ps', '-a', '--format', '{{json .}}']).stdout), normaliseJson(json), "ps -a {{json .}} = docker's (sizes measured as docker does)");
  ctx.saved['ps.json'] = json;

  for (const f of FILTERS) {
    const args = ['ps', '-a', '--format', '{{.Names}}', ...f.flatMap((x) => ['-f', x])];
    t.equal(ctx.strata(args).stdout, await ctx.d.docker(args), `ps -a -f ${f.join(' -f ')} = docker's`);
  }
  // Without -a a status filter still lists stopped containers, and ids select by prefix.
  t.equal(ctx.strata(['ps', '-q', '-f', 'status=exited']).stdout, await ctx.d.docker(['ps', '-q', '-f', 'status=exited']));
  const idPrefix = s.containers['c-exited'].slice(0, 5);
  t.equal(ctx.strata(['ps', '-aq', '-f', `id=${idPrefix}`]).stdout, await ctx.d.docker(['ps', '-aq', '-f', `id=${idPrefix}`]), 'id= by prefix');
  t.equal(
    ctx.strata(['ps', '-aq', '-f', `before=${s.containers['c-running']}`]).stdout,
    await ctx.d.docker(['ps', '-aq', '-f', `before=${s.containers['c-running']}`]),
    'before= by full id',
  );
  for (const f of FILTER_ERRORS) {
    const r = ctx.strata(['ps', '-a', '-f', f[0]]);
    let message = '';
    try {
      await ctx.d.docker(['ps', '-a', '-f', f[0]]);
    } catch (err) {
      message = /Error response from daemon: (.*)/.exec(String((err as Error).message))?.[1] ?? String(err);
    }
    t.equal(r.code, 1, `ps -f ${f[0]} fails`);
    t.equal(r.stderr, `strata: error: ${message}\n`, `ps -f ${f[0]}: dockerd's words`);
  }

  // Sizes: the read-write layers measured through the driver, as docker ps -s.
  const sizeFormat = ['--format', '{{.Names}} {{.Size}}'];
  t.equal(ctx.strata(['ps', '-a', '-s', ...sizeFormat]).stdout, await ctx.d.docker(['ps', '-a', '-s', ...sizeFormat]), "ps -a -s sizes = docker's");
  t.same(tableCells(ctx.strata(['ps', '-a', '-s']).stdout), tableCells(await ctx.d.docker(['ps', '-a', '-s'])), "ps -a -s table = docker's");
  ctx.saved['ps.status'] = await ctx.d.docker(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);

  // The metadata as it is while c-running is up (each container's mounts/ holds live mounts: left out).
  const copy = mkdtempSync(join(os.tmpdir(), 'strata-habits-ps-'));
  cpSync(join(ctx.root, 'containers'), join(copy, 'containers'), { recursive: true, filter: (src) => basename(src) !== 'mounts' });
  cpSync(join(ctx.root, 'image'), join(copy, 'image'), { recursive: true });
  mkdirSync(join(copy, ctx.driver));
  ctx.saved['ps.copy'] = copy;
}

export async function offline(t: Test, ctx: HabitsContext): Promise<void> {
  const live = ctx.saved['ps.status'] as string | undefined;
  const copy = ctx.saved['ps.copy'] as string | undefined;
  if (!live || !copy) {
    t.fail('the live ps checks did not run');
    return;
  }
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  const inCopy = (args: string[]) => ctx.strata([...args, '--root', copy], { noRoot: true });

  const r = inCopy(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
  t.equal(r.code, 0, r.stderr);
  const statuses = r.stdout.trimEnd().split('\n');
  t.match(statuses.find((l) => l.startsWith('c-running ')) ?? '', /^c-running Up .* \(daemon not running\)$/, 'no daemon: c-running is not plainly Up');
  t.same(
    statuses.map((l) => maskTimes(l.replace(/ \(daemon not running\)$/, ''))),
    live.trimEnd().split('\n').map(maskTimes),
    'the same containers in the same order, the same statuses but for the note',
  );
  t.match(inCopy(['ps']).stdout, /Up .* \(daemon not running\)\s+c-running\n/, 'the default listing shows the recorded-running container, with the note');
  const json = JSON.parse(inCopy(['ps', '-a', '--json']).stdout) as Array<{ name: string; state: string; daemonRunning: boolean }>;
  t.same(
    json.filter((c) => c.state === 'running').map((c) => [c.name, c.daemonRunning]),
    [['c-running', false]],
  );
  const saved = normaliseJson(ctx.saved['ps.json'] as string).map((row) => ({ ...row, Size: '' }));
  const now = normaliseJson(inCopy(['ps', '-a', '--format', '{{json .}}']).stdout).map((row) => ({ ...row, Size: '', Status: row.Status.replace(/ \(daemon not running\)$/, '') }));
  t.same(now, saved, "ps -a {{json .}} = docker's while it ran, but for the note (sizes need the layers: not in the copy)");

  // The real root after dockerd's clean stop: c-running is recorded as exited, and nothing is shown as up.
  const after = ctx.strata(['ps', '-a', '--format', '{{.Names}}|{{.State}}|{{.Status}}']);
  t.equal(after.code, 0, after.stderr);
  t.match(after.stdout, /^c-running\|exited\|Exited \(\d+\) /m, "after the stop: c-running as dockerd recorded it");
  t.notMatch(after.stdout, /\|Up /, 'after the stop: nothing plainly Up');
  t.equal(ctx.strata(['ps', '-q']).stdout, '', 'after the stop: no container is listed as running');
}
