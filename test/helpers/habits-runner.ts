// Docker's daily habits (#13), judged by docker itself: one scenario store per driver (overlay2, vfs),
// built once by a private dockerd, on which every part's checks (test/docker/habits/<part>.ts) compare
// strata's answers with docker's while the daemon runs (live) and after it stopped (offline). After the
// stop, every new read command runs once more between two fingerprints of the data-root: none may
// change a path's mode, size, mtime or ctime. Fails (never skips) when dockerd cannot start.
//
// test/docker/habits.test.ts runs it on overlay2, habits-vfs.test.ts on vfs (two files, so that tap runs
// them side by side). STRATA_HABITS_ONLY=images,ps runs only those parts; STRATA_HABITS_DRIVERS=vfs makes
// habits.test.ts use that driver instead (and habits-vfs.test.ts then runs nothing).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startDockerd, type StorageDriverName } from './dockerd.js';
import { buildHabitsScenario, makeContext, type HabitsContext } from './habits-scenario.js';
import { fingerprint } from './fingerprint.js';

interface HabitsPart {
  live?: (t: Test, ctx: HabitsContext) => Promise<void>;
  offline?: (t: Test, ctx: HabitsContext) => Promise<void>;
}

/** The parts, in the order they run; a part whose module is absent is reported as a failure. */
const PARTS = ['images', 'history', 'ps', 'inspect', 'df', 'prometheus', 'save', 'export'];

const only = process.env.STRATA_HABITS_ONLY?.split(',').filter(Boolean);

async function loadParts(t: Test): Promise<Array<[string, HabitsPart]>> {
  const parts: Array<[string, HabitsPart]> = [];
  for (const name of PARTS) {
    if (only && !only.includes(name)) continue;
    const file = new URL(`../docker/habits/${name}.ts`, import.meta.url);
    if (!existsSync(file)) {
      t.fail(`habits part ${name}: test/docker/habits/${name}.ts is missing`);
      continue;
    }
    parts.push([name, (await import(file.href)) as HabitsPart]);
  }
  return parts;
}

/** Every read command of #13, with the flags that reach the most code. */
function readCommands(ctx: HabitsContext, out: string): string[][] {
  const s = ctx.scenario;
  return [
    ['images'],
    ['images', 'app', '--digests', '--no-trunc'],
    ['images', '-a', '-f', 'dangling=false', '-f', 'label=org.example.version', '--format', '{{json .}}'],
    ['images', '-f', 'reference=*:1', '-q'],
    ['history', 'app:2', '--no-trunc'],
    ['history', 'bk:1', '--format', '{{.ID}} {{.Size}}'],
    ['ps', '-a', '-s'],
    ['ps', '-a', '--format', '{{json .}}'],
    ['inspect', 'app:1', s.containers['c-vol']],
    ['inspect', '--pretty', 'app:1'],
    ['df', '-v'],
    ['df', '--format', '{{json .}}'],
    ['save', 'app:2', 'bk:1', '-o', join(out, 'save.tar')],
    ['save', '--format', 'oci', 'base:1', '-o', join(out, 'save-oci.tar')],
    ['export', 'c-exited', '-o', join(out, 'export.tar')],
  ];
}

/** Builds the habits store on each driver and runs every part's checks on it. */
export function runHabits(drivers: StorageDriverName[]): void {
  for (const driver of drivers) {
    t.test(`habits on ${driver}`, async (t) => {
      const parts = await loadParts(t);
      const d = await startDockerd({ driver });
      t.teardown(() => d.remove());
      const t0 = Date.now();
      const scenario = await buildHabitsScenario(d);
      t.comment(`${driver}: habits scenario built in ${Date.now() - t0} ms`);
      const ctx = makeContext(d, scenario);

      for (const [name, part] of parts) {
        if (!part.live) continue;
        const started = Date.now();
        await t.test(`${name} (live)`, (t) => part.live!(t, ctx));
        t.comment(`${driver}: ${name} live ${Date.now() - started} ms`);
      }

      await d.stop();
      for (const [name, part] of parts) {
        if (!part.offline) continue;
        const started = Date.now();
        await t.test(`${name} (offline)`, (t) => part.offline!(t, ctx));
        t.comment(`${driver}: ${name} offline ${Date.now() - started} ms`);
      }

      if (!only) {
        await t.test('every read command leaves the store as it was', async (t) => {
          const out = await mkdtemp(join(os.tmpdir(), 'strata-habits-out-'));
          t.teardown(() => rm(out, { recursive: true, force: true }));
          const before = fingerprint(ctx.root);
          for (const args of readCommands(ctx, out)) {
            const r = ctx.strata(args);
            t.equal(r.code, 0, `strata ${args.join(' ')} succeeds offline${r.code ? `: ${r.stderr.trim().split('\n')[0]}` : ''}`);
          }
          t.equal(fingerprint(ctx.root), before, 'no path under the data-root changed mode, size, mtime or ctime');
        });
      }
    });
  }
}
