// The migrate benchmark (#16): the export benchmark's store (one real-dockerd overlay2 layer of ~20,000
// files, ~340 MB; bench/make-export-store.ts) migrated to vfs and to aufs with `strata migrate --out`,
// beside `cp -a` of the same layer directory (the copy a migration with copies is held to) and `cp -al`
// (what a hardlinked migration is held to). Interleaved rounds, medians of wall time, start-up included;
// each run's output is removed before the next, and the extra disk each leaves is reported.
//
//   node --import=tsx bench/migrate.ts [--rounds N] [--dir DIR] [--quick]
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { fmtS, median, pad, strata } from './common.js';
import { defaultExportParams, makeExportStore } from './make-export-store.js';

/** migrate --to vfs / cp -a: at most this (#16). */
export const COPY_TARGET = 1.5;
/** A hardlinked migration / cp -al: at most this (#16; strata does not hardlink yet). */
export const LINK_TARGET = 2;

function args(): { rounds: number; dir: string; quick: boolean } {
  const a = process.argv.slice(2);
  const o = { rounds: 5, dir: '/tmp/strata-bench', quick: false };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--rounds') o.rounds = Number(a[++i]);
    else if (a[i] === '--dir') o.dir = a[++i];
    else if (a[i] === '--quick') o.quick = true;
    else throw new Error(`unknown argument ${a[i]} (bench/migrate.ts [--rounds N] [--dir DIR] [--quick])`);
  }
  return o;
}

/** Wall seconds of one run of argv (which must succeed). */
function timed(argv: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 400)}`);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Free bytes on the filesystem holding `dir`: what a run used is the drop (hardlinks cost only their inodes' directory entries). */
function freeBytes(dir: string): number {
  spawnSync('sync');
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
}

const o = args();
const params = defaultExportParams(o.quick ? 5000 : 20_000);
const store = await makeExportStore(join(o.dir, o.quick ? 'export-quick' : 'export'), params, { force: false });
const root = store.root;
const work = join(o.dir, 'migrate-out');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

const runs: Record<string, { argv: (out: string) => string[]; samples: number[]; disk: number }> = {
  'cp -a': { argv: (out) => ['cp', '-a', store.contentDir, out], samples: [], disk: 0 },
  'cp -al': { argv: (out) => ['cp', '-al', store.contentDir, out], samples: [], disk: 0 },
  'migrate --to vfs': { argv: (out) => strata(root, 'migrate', '--to', 'vfs', '--out', out), samples: [], disk: 0 },
  'migrate --to aufs': { argv: (out) => strata(root, 'migrate', '--to', 'aufs', '--out', out), samples: [], disk: 0 },
};
for (let round = 0; round < o.rounds; round++) {
  const names = Object.keys(runs);
  // Interleaved, the order turned each round.
  for (const name of round % 2 ? names.reverse() : names) {
    const out = join(work, name.replace(/\W+/g, '-'));
    rmSync(out, { recursive: true, force: true });
    const before = freeBytes(work);
    runs[name].samples.push(timed(runs[name].argv(out)));
    runs[name].disk = Math.max(0, before - freeBytes(work));
    rmSync(out, { recursive: true, force: true });
  }
}
const med = (name: string) => median(runs[name].samples);
const rows = [['command', 'median wall', 'min', 'max', 'disk used'], ...Object.entries(runs).map(([name, r]) => [name, fmtS(med(name)), fmtS(Math.min(...r.samples)), fmtS(Math.max(...r.samples)), `${(r.disk / 1e6).toFixed(1)} MB`])];
console.log(`migrate benchmark: ${store.stats.files.toLocaleString('en-US')} files, ${(store.stats.contentBytes / 1e6).toFixed(0)} MB in one layer, ${o.rounds} interleaved rounds`);
console.log(pad(rows));
const copyRatio = med('migrate --to vfs') / med('cp -a');
console.log(`migrate --to vfs / cp -a: ${copyRatio.toFixed(2)}x (target <= ${COPY_TARGET}x: ${copyRatio <= COPY_TARGET ? 'ok' : 'MISSED'})`);
console.log(`migrate --to aufs / cp -al: ${(med('migrate --to aufs') / med('cp -al')).toFixed(2)}x (target <= ${LINK_TARGET}x for a hardlinked migration: MISSED, strata copies)`);
console.log(`extra disk of migrate --to aufs: ${(runs['migrate --to aufs'].disk / 1e6).toFixed(1)} MB (${((100 * runs['migrate --to aufs'].disk) / store.stats.contentBytes).toFixed(0)}% of the layer; target < 2% once hardlinked)`);
rmSync(work, { recursive: true, force: true });
