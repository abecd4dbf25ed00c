// history's checks on the habits store: strata history against docker history for every kind of image
// the scenario holds (legacy-built chains whose steps are local images, a tagged intermediate, the dangling
// old build, an imported base, a BuildKit build whose older steps are <missing>), with --no-trunc,
// --human=false, -q, --format and the default table; offline, the same answers from the files alone.
import type { Test } from 'tap';
import { maskTimes, tableCells } from '../../helpers/docker-text.js';
import type { HabitsContext } from '../../helpers/habits-scenario.js';

const FULL = '{{.ID}}|{{.CreatedSince}}|{{.CreatedAt}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}';

function refsOf(ctx: HabitsContext): string[] {
  return ['app:1', 'app:2', 'base:1', 'mid:tagged', ctx.scenario.images['dangling'], 'bk:1', 'labelled:1'];
}

/** For every image: the full format (exact: no relative time in it) and the default table (times masked). */
const EXACT: string[][] = [['--no-trunc', '--human=false', '--format', FULL]];
const MASKED: string[][] = [[]];
/** The other flags: those without relative times on a legacy-built image and on the BuildKit one, the rest on the BuildKit one. */
const EXACT_MORE: string[][] = [['-q'], ['-q', '--no-trunc'], ['--human=false'], ['--format', '{{json .}}', '--human=false']];
const MASKED_MORE: string[][] = [['--no-trunc'], ['--format', '{{json .}}'], ['--format', 'table {{.ID}}\t{{.CreatedSince}}\t{{.Size}}']];

function variants(ref: string): Array<{ flags: string[]; exact: boolean }> {
  const more = ref === 'app:2' || ref === 'bk:1';
  return [
    ...[...EXACT, ...(more ? EXACT_MORE : [])].map((flags) => ({ flags, exact: true })),
    ...[...MASKED, ...(ref === 'bk:1' ? MASKED_MORE : [])].map((flags) => ({ flags, exact: false })),
  ];
}

export async function live(t: Test, ctx: HabitsContext): Promise<void> {
  const docker: Record<string, string> = {};
  for (const ref of refsOf(ctx)) {
    for (const { flags, exact } of variants(ref)) {
      const key = `${flags.join(' ')} ${ref}`;
      const expected = await ctx.d.docker(['history', ...flags, ref]);
      docker[key] = expected;
      const r = ctx.strata(['history', ...flags, ref]);
      t.equal(r.code, 0, `strata history ${key} succeeds${r.code ? `: ${r.stderr}` : ''}`);
      t.equal(r.stderr, '', `strata history ${key}: no warnings`);
      if (exact) t.equal(r.stdout, expected, `history ${key} = docker's`);
      else if (flags[0] === '--format' && flags[1] === '{{json .}}') t.same(r.stdout.split('\n').map(maskTimes), expected.split('\n').map(maskTimes), `history ${key} = docker's (times masked)`);
      else t.same(tableCells(r.stdout), tableCells(expected), `history ${key} = docker's (times masked)`);
    }
  }
  ctx.saved['history.docker'] = docker;

  // The steps' ids: legacy builds have one local image per step, BuildKit's only the top one.
  const q = ctx.strata(['history', '-q', '--no-trunc', 'app:2']).stdout.trim().split('\n');
  t.equal(q[0], ctx.scenario.images['app:2']);
  t.notOk(q.includes('<missing>'), 'every step of a legacy build is a local image');
  const bk = ctx.strata(['history', '-q', 'bk:1']).stdout.trim().split('\n');
  t.ok(bk.slice(1).every((l) => l === '<missing>'), "BuildKit's older steps are <missing>");

  const missing = ctx.strata(['history', 'nope:1']);
  t.equal(missing.code, 1);
  t.equal(missing.stderr.split('\n')[0], 'strata: error: No such image: nope:1', "docker's words: No such image: nope:1");
}

export async function offline(t: Test, ctx: HabitsContext): Promise<void> {
  const docker = ctx.saved['history.docker'] as Record<string, string> | undefined;
  if (!docker) {
    t.fail('the live history checks did not run');
    return;
  }
  for (const ref of refsOf(ctx)) {
    for (const { flags } of variants(ref).filter((v) => v.exact)) {
      const key = `${flags.join(' ')} ${ref}`;
      const r = ctx.strata(['history', ...flags, ref]);
      t.equal(r.stdout, docker[key], `offline: history ${key} = docker's while it ran`);
    }
    if (ref !== 'app:2' && ref !== 'bk:1') continue;
    const key = ` ${ref}`;
    t.same(tableCells(ctx.strata(['history', ref]).stdout), tableCells(docker[key]), `offline: history ${ref} table = docker's (times masked)`);
  }
}
