// The migrate benchmark (#16): the export benchmark's store (one real-dockerd overlay2 layer of ~20,000
// files, ~340 MB; bench/make-export-store.ts) migrated with `strata migrate --out`: to aufs and back to
// overlay2 with hardlinks (held to `cp -al` of the same layer directory), and to vfs with --copy (held to
// `cp -a`). Interleaved rounds, medians of wall time, start-up included; each run writes a new directory
// (all removed at the end), and the extra disk each leaves is reported.
//
//   node --import=tsx bench/migrate.ts [--rounds N] [--dir DIR] [--quick]
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { fmtS, median, pad, strata } from './common.js';
import { defaultExportParams, makeExportStore } from './make-export-store.js';

/** migrate --to vfs / cp -a: at most this (#16). */
export const COPY_TARGET = 1.5;
/** A hardlinked migration / cp -al: at most this (#16). */
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

// The way back starts from an aufs store migrated once (hard links of the original layer's files).
const aufsRoot = join(o.dir, 'migrate-aufs-source');
rmSync(aufsRoot, { recursive: true, force: true });
timed(strata(root, 'migrate', '--to', 'aufs', '--out', aufsRoot));
const runs: Record<string, { argv: (out: string) => string[]; samples: number[]; disk: number }> = {
  'cp -a': { argv: (out) => ['cp', '-a', store.contentDir, out], samples: [], disk: 0 },
  'cp -al': { argv: (out) => ['cp', '-al', store.contentDir, out], samples: [], disk: 0 },
  'migrate --to vfs --copy': { argv: (out) => strata(root, 'migrate', '--to', 'vfs', '--copy', '--out', out), samples: [], disk: 0 },
  'migrate --to aufs': { argv: (out) => strata(root, 'migrate', '--to', 'aufs', '--out', out), samples: [], disk: 0 },
  'migrate aufs --to overlay2': { argv: (out) => strata(aufsRoot, 'migrate', '--to', 'overlay2', '--out', out), samples: [], disk: 0 },
};
for (let round = 0; round < o.rounds; round++) {
  const names = Object.keys(runs);
  // Interleaved, the order turned each round.
  for (const name of round % 2 ? names.reverse() : names) {
    // Every run writes a new directory, and none is removed before the end: ext4 will not hand out a
    // directory inode freed moments ago, and scans past each one, so a run made right after the removal
    // of another's ~1,000 directories was slowed by it (by up to 3x here, more the deeper its tree).
    const out = join(work, `${name.replace(/\W+/g, '-')}-${round}`);
    const before = freeBytes(work);
    runs[name].samples.push(timed(runs[name].argv(out)));
    runs[name].disk = Math.max(0, before - freeBytes(work));
  }
}
const med = (name: string) => median(runs[name].samples);
const rows = [['command', 'median wall', 'min', 'max', 'disk used'], ...Object.entries(runs).map(([name, r]) => [name, fmtS(med(name)), fmtS(Math.min(...r.samples)), fmtS(Math.max(...r.samples)), `${(r.disk / 1e6).toFixed(1)} MB`])];
console.log(`migrate benchmark: ${store.stats.files.toLocaleString('en-US')} files, ${(store.stats.contentBytes / 1e6).toFixed(0)} MB in one layer, ${o.rounds} interleaved rounds`);
console.log(pad(rows));
const copyRatio = med('migrate --to vfs --copy') / med('cp -a');
console.log(`migrate --to vfs --copy / cp -a: ${copyRatio.toFixed(2)}x (target <= ${COPY_TARGET}x: ${copyRatio <= COPY_TARGET ? 'ok' : 'MISSED'})`);
for (const name of ['migrate --to aufs', 'migrate aufs --to overlay2']) {
  const ratio = med(name) / med('cp -al');
  const disk = runs[name].disk;
  console.log(`${name} / cp -al: ${ratio.toFixed(2)}x (target <= ${LINK_TARGET}x: ${ratio <= LINK_TARGET ? 'ok' : 'MISSED'}); extra disk ${(disk / 1e6).toFixed(1)} MB, ${((100 * disk) / store.stats.contentBytes).toFixed(1)}% of the layer (target < 2%: ${disk < 0.02 * store.stats.contentBytes ? 'ok' : 'MISSED'})`);
}
rmSync(work, { recursive: true, force: true });
rmSync(aufsRoot, { recursive: true, force: true });
