// strata's benchmark, in two sections, each timing the built CLI with interleaved rounds on a warm page
// cache and reporting medians:
//   listing  a synthetic data-root (cached): images, filtered images, history, ps, dangling, rmi --dry-run,
//            why, df and df --prometheus, df --json (side by side with du -sb)
//   tui      strata tui in tmux: first screen of tree rows on the listing store beside a trivial ink app, a
//            20,000-file layer's first directory level (bench/save.ts's store), peak RSS (bench/tui.ts)
//   export   one big committed layer in a real dockerd-made store (cached): diff --fresh vs GNU tar,
//            diff from tar-split, verify vs sha256sum (bench/export.ts)
//
//   node --import=tsx bench/run.ts [--quick] [--rounds N] [--dir DIR] [--force] [--no-profile] [--only SECTION]
//
//   --quick         200 images / 1,000 layers instead of 2,000 / 10,000; a 5,000-file export layer
//   --rounds N      measured rounds (default 9, at least 7)
//   --dir DIR       where the stores live (default /tmp/strata-bench)
//   --force         regenerate the stores
//   --no-profile    do not profile the commands that miss their target
//   --only SECTION  listing, tui or export
//
// Writes bench/out/results.json (and, for a missed target, bench/out/prof/*.cpuprofile).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { CLI, fmtS, median, OUT, output, pad, REPO, strata, thousands, timeOnce, type Bench } from './common.js';
import { runExportBench, type ExportBenchResult } from './export.js';
import { defaultParams, makeSmallStore, makeStore, type StoreInfo } from './make-store.js';
import { formatSummary, profileStrata, type ProfileSummary } from './profile.js';
import { runTuiBench, type TuiBenchResult } from './tui.js';

const SECTIONS = ['listing', 'tui', 'export'] as const;

/** #14: df --prometheus / df, the median of the paired ratios, at most this. */
const PROM_TARGET = 1.05;
type Section = (typeof SECTIONS)[number];

interface Options {
  quick: boolean;
  rounds: number;
  dir: string;
  force: boolean;
  profile: boolean;
  sections: Section[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, rounds: 9, dir: '/tmp/strata-bench', force: false, profile: true, sections: [...SECTIONS] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--rounds') o.rounds = Number(argv[++i]);
    else if (a === '--dir') o.dir = resolve(argv[++i]);
    else if (a === '--force') o.force = true;
    else if (a === '--no-profile') o.profile = false;
    else if (a === '--only') {
      const s = argv[++i] as Section;
      if (!SECTIONS.includes(s)) throw new Error(`--only takes ${SECTIONS.join(', ')}`);
      o.sections = [s];
    } else throw new Error(`unknown argument ${a} (bench/run.ts [--quick] [--rounds N] [--dir DIR] [--force] [--no-profile] [--only listing|tui|export])`);
  }
  if (!Number.isInteger(o.rounds) || o.rounds < 7) throw new Error('--rounds wants a whole number, at least 7');
  return o;
}

function ensureBuilt(log: (s: string) => void): void {
  if (existsSync(CLI)) return;
  log('dist/strata.js is missing: npm run build');
  const r = spawnSync('npm', ['run', 'build'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 || !existsSync(CLI)) throw new Error('npm run build failed');
}

/** The listing section: returns its part of results.json and its closing lines. */
function runListing(o: Options, log: (s: string) => void): { results: Record<string, unknown>; summary: string[] } {
  const params = o.quick ? defaultParams(200, 1_000) : defaultParams();
  const big: StoreInfo = makeStore(join(o.dir, o.quick ? 'quick' : 'full'), params, { force: o.force });
  const small: StoreInfo = makeSmallStore(join(o.dir, 'small'), { force: o.force });
  const s = big.stats;
  log(
    `store ${big.dir}: ${thousands(s.images)} images, ${thousands(s.layers)} layers, ${s.containers} containers, ` +
      `${thousands(s.totalFiles ?? 0)} files + ${thousands(s.totalSymlinks ?? 0)} symlinks + ${thousands(s.totalDirs ?? 0)} dirs ` +
      `(${big.reused ? `reused; generated in ${big.generationSeconds.toFixed(1)} s` : `generated in ${big.generationSeconds.toFixed(1)} s`})`,
  );

  const R = big.dir;
  const S = small.dir;
  const layersLabel = `${thousands(s.layers)} layers`;
  const benches: Record<string, Bench> = {};
  const add = (id: string, label: string, argv: string[], target?: number) => (benches[id] = { id, label, argv, target, samples: [] });
  add('images-tree', 'images --tree', strata(R, 'images', '--tree'), 0.5);
  add('images', 'images', strata(R, 'images'));
  add('images-a-json', 'images -a --json', strata(R, 'images', '-a', '--json'));
  // #13: history, ps and filtered listings read metadata only, and should cost what images costs.
  const tagged = (JSON.parse(output(strata(R, 'images', '--json'))) as Array<{ repoTags: string[] }>).find((i) => i.repoTags.length)?.repoTags[0];
  if (!tagged) throw new Error('the bench store has no tagged image for history');
  add('images-filtered', 'images -f dangling=false -f reference=*', strata(R, 'images', '-f', 'dangling=false', '-f', 'reference=*'));
  add('history', `history ${tagged}`, strata(R, 'history', tagged));
  add('ps-a', 'ps -a', strata(R, 'ps', '-a'));
  add('dangling', 'dangling', strata(R, 'dangling'));
  // #14: rmi --dry-run and why read metadata only (< 0.5 s with start-up); df --prometheus costs what df costs.
  const refs = benchRefs(JSON.parse(output(strata(R, 'images', '-a', '--json'))) as BenchImage[]);
  add('rmi-dry-run', `rmi --dry-run ${refs.leaf}`, strata(R, 'rmi', '--dry-run', refs.leaf), 0.5);
  add('why', `why ${refs.base}`, strata(R, 'why', refs.base), 0.5);
  add('df', 'df', strata(R, 'df'));
  add('df-prometheus', 'df --prometheus', strata(R, 'df', '--prometheus'));
  add('df-json', 'df --json', strata(R, 'df', '--json'));
  add('du', 'du -sb', ['du', '-sb', R]);
  add('small-df', 'df (tiny store)', strata(S, 'df'));
  add('small-du', 'du -sb (tiny store)', ['du', '-sb', S]);
  add('node-baseline', 'node -e 0 (baseline)', [process.execPath, '-e', '0']);

  // Sanity: the store reads without warnings and strata agrees with what was generated and with du.
  const all = JSON.parse(output(strata(R, 'images', '-a', '--json'))) as Array<{ dangling: boolean }>;
  const dangling = all.filter((i) => i.dangling).length;
  if (all.length !== s.images || dangling !== s.dangling) throw new Error(`strata sees ${all.length} images / ${dangling} dangling, generated ${s.images} / ${s.dangling}`);
  const df = JSON.parse(output(strata(R, 'df', '--json'))) as { dataRoot: { apparentBytes: number }; leakedLayers: unknown[]; orphans: unknown[] };
  const duBytes = Number(output(['du', '-sb', R]).split('\t')[0]);
  log(`check: ${all.length} images (${dangling} dangling); df data-root ${thousands(df.dataRoot.apparentBytes)} B, du -sb ${thousands(duBytes)} B`);

  // Warm-up (untimed), then interleaved rounds: every unit once per round, the order rotating each round,
  // df and du back to back with their order alternating.
  const units: Bench[][] = [
    [benches['images-tree']],
    [benches['images']],
    [benches['images-a-json']],
    [benches['images-filtered']],
    [benches['history']],
    [benches['ps-a']],
    [benches['dangling']],
    [benches['rmi-dry-run']],
    [benches['why']],
    [benches['df-json'], benches['du']],
    [benches['df'], benches['df-prometheus']],
    [benches['small-df'], benches['small-du']],
    [benches['node-baseline']],
  ];
  for (const b of Object.values(benches)) timeOnce(b);
  const started = performance.now();
  for (let round = 0; round < o.rounds; round++) {
    for (let u = 0; u < units.length; u++) {
      const unit = units[(u + round) % units.length];
      const ordered = round % 2 ? [...unit].reverse() : unit;
      for (const b of ordered) b.samples.push(timeOnce(b));
    }
    process.stderr.write(`\rround ${round + 1}/${o.rounds}`);
  }
  process.stderr.write('\r\x1b[K');
  const measuredSeconds = (performance.now() - started) / 1000;

  const rows = [['benchmark', 'median', 'min', 'max', 'target', '']];
  for (const b of Object.values(benches)) {
    const m = median(b.samples);
    rows.push([b.label, fmtS(m), fmtS(Math.min(...b.samples)), fmtS(Math.max(...b.samples)), b.target ? `< ${b.target} s` : '', b.target ? (m < b.target ? 'ok' : 'MISSED') : '']);
  }
  const ratio = median(benches['df-json'].samples) / median(benches['du'].samples);
  const smallRatio = median(benches['small-df'].samples) / median(benches['small-du'].samples);
  rows.push(['df/du ratio', `${ratio.toFixed(2)}x`, '', '', '<= 1.5x', ratio <= 1.5 ? 'ok' : 'MISSED']);
  const imagesMedian = median(benches['images'].samples);
  const metadataRatios: Record<string, number> = {};
  for (const id of ['images-filtered', 'history', 'ps-a']) {
    metadataRatios[id] = median(benches[id].samples) / imagesMedian;
    rows.push([`${benches[id].label} / images`, `${metadataRatios[id].toFixed(2)}x`, '', '', '<= 1.1x', metadataRatios[id] <= 1.1 ? 'ok' : 'MISSED']);
  }
  // #14: df --prometheus costs what df costs. The two run back to back in each round (order alternating),
  // so each round's pair is compared; the median of those ratios is judged, the ratio of medians shown too.
  const dfS = benches['df'].samples;
  const promS = benches['df-prometheus'].samples;
  const promRatio = median(promS.map((t, i) => t / dfS[i]));
  const promOfMedians = median(promS) / median(dfS);
  rows.push([
    `df --prometheus ${fmtS(median(promS))} / df ${fmtS(median(dfS))}`,
    `${promRatio.toFixed(2)}x`,
    `${Math.min(...promS.map((t, i) => t / dfS[i])).toFixed(2)}x`,
    `${Math.max(...promS.map((t, i) => t / dfS[i])).toFixed(2)}x`,
    `<= ${PROM_TARGET}x`,
    `${promRatio <= PROM_TARGET ? 'ok' : 'MISSED'} (paired; of medians ${promOfMedians.toFixed(2)}x)`,
  ]);
  log(`\n${o.rounds} interleaved rounds (warm cache, stdout to /dev/null) in ${measuredSeconds.toFixed(0)} s; ${cpus().length} CPUs, node ${process.version}\n`);
  log(pad(rows));

  const treeMedian = median(benches['images-tree'].samples);
  const missed: Array<{ id: string; args: string[] }> = [];
  if (treeMedian >= 0.5) missed.push({ id: 'images-tree', args: ['--root', R, 'images', '--tree'] });
  if (ratio > 1.5) missed.push({ id: 'df-json', args: ['--root', R, 'df', '--json'] });
  if (promRatio > PROM_TARGET) missed.push({ id: 'df-prometheus', args: ['--root', R, 'df', '--prometheus'] });
  for (const id of ['rmi-dry-run', 'why'] as const) if (median(benches[id].samples) >= 0.5) missed.push({ id, args: benches[id].argv.slice(2) });

  const profiles: Record<string, ProfileSummary & { text: string }> = {};
  if (o.profile && missed.length) {
    for (const m of missed) {
      const summary = profileStrata(m.args, join(OUT, 'prof'), m.id);
      const text = formatSummary(summary, 12);
      const bySelf = [...summary.functions].sort((a, b) => b.selfMs - a.selfMs).slice(0, 25);
      const byTotal = [...summary.functions].filter((f) => f.bundled).sort((a, b) => b.totalMs - a.totalMs).slice(0, 25);
      profiles[m.id] = { ...summary, functions: [...new Set([...bySelf, ...byTotal])], text };
      writeFileSync(join(OUT, 'prof', `${m.id}.txt`), text);
    }
    log(`\nmissed target(s) profiled: ${missed.map((m) => `bench/out/prof/${m.id}.txt`).join(', ')}`);
  }

  const results = {
    store: big,
    smallStore: small,
    check: { images: all.length, dangling, dfApparentBytes: df.dataRoot.apparentBytes, duBytes, leakedLayers: df.leakedLayers.length, orphans: df.orphans.length },
    benchmarks: Object.fromEntries(
      Object.values(benches).map((b) => [b.id, { command: b.argv.join(' '), medianSeconds: median(b.samples), minSeconds: Math.min(...b.samples), maxSeconds: Math.max(...b.samples), targetSeconds: b.target ?? null, samples: b.samples }]),
    ),
    ratios: { dfOverDu: ratio, smallDfOverDu: smallRatio, overImages: metadataRatios, dfPrometheusOverDf: promRatio, dfPrometheusOverDfOfMedians: promOfMedians },
    refs,
    targets: {
      imagesTree: { medianSeconds: treeMedian, target: 0.5, ok: treeMedian < 0.5 },
      dfOverDu: { ratio, target: 1.5, ok: ratio <= 1.5 },
      rmiDryRun: { medianSeconds: median(benches['rmi-dry-run'].samples), target: 0.5, ok: median(benches['rmi-dry-run'].samples) < 0.5 },
      why: { medianSeconds: median(benches['why'].samples), target: 0.5, ok: median(benches['why'].samples) < 0.5 },
      dfPrometheusOverDf: { ratio: promRatio, target: PROM_TARGET, ok: promRatio <= PROM_TARGET, dfSeconds: median(dfS), dfPrometheusSeconds: median(promS) },
    },
    profiles,
  };
  const summary = [
    `images --tree (${layersLabel}): ${fmtS(treeMedian)} (target < 0.5 s: ${treeMedian < 0.5 ? 'ok' : 'MISSED'})`,
    `start-up, tiny store: df ${fmtS(median(benches['small-df'].samples))}, du -sb ${fmtS(median(benches['small-du'].samples))}, node -e 0 ${fmtS(median(benches['node-baseline'].samples))} (ratio ${smallRatio.toFixed(1)}x)`,
    `ratio df/du (${layersLabel}): ${ratio.toFixed(2)}x (target <= 1.5x: ${ratio <= 1.5 ? 'ok' : 'MISSED'})`,
    `rmi --dry-run ${refs.leaf}: ${fmtS(median(benches['rmi-dry-run'].samples))}, why ${refs.base}: ${fmtS(median(benches['why'].samples))} (target < 0.5 s each)`,
    `df --prometheus ${fmtS(median(promS))} vs df ${fmtS(median(dfS))}: ${promRatio.toFixed(2)}x paired (target <= ${PROM_TARGET}x: ${promRatio <= PROM_TARGET ? 'ok' : 'MISSED'})`,
    `metadata-only commands over images: ${Object.entries(metadataRatios).map(([id, r]) => `${benches[id].label} ${r.toFixed(2)}x`).join(', ')}`,
  ];
  return { results, summary };
}

interface BenchImage {
  id: string;
  repoTags: string[];
  parent: string | null;
  chainIds: string[];
  containers: number;
}

/**
 * rmi's case: a tagged leaf image no container uses (docker rmi succeeds). why's: the pulled base most
 * images build on (the most children, containers and sharers to walk).
 */
function benchRefs(images: BenchImage[]): { leaf: string; base: string } {
  const parents = new Set(images.map((i) => i.parent).filter((p): p is string => p !== null));
  const users = new Map<string, number>();
  for (const i of images) for (const c of i.chainIds) users.set(c, (users.get(c) ?? 0) + 1);
  const leaf = images.find((i) => i.repoTags.length > 0 && i.containers === 0 && i.parent !== null && !parents.has(i.id));
  const bases = images.filter((i) => i.parent === null && i.repoTags.length > 0 && i.chainIds.length > 0);
  const base = bases.sort((a, b) => (users.get(b.chainIds.at(-1)!) ?? 0) - (users.get(a.chainIds.at(-1)!) ?? 0))[0];
  if (!leaf || !base) throw new Error('the bench store has no tagged leaf image or no tagged base');
  return { leaf: leaf.repoTags[0], base: base.repoTags[0] };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const log = (s: string) => process.stdout.write(`${s}\n`);
  const t0 = performance.now();
  ensureBuilt(log);

  let listing: ReturnType<typeof runListing> | null = null;
  let exp: ExportBenchResult | null = null;
  let tui: TuiBenchResult | null = null;
  if (o.sections.includes('listing')) listing = runListing(o, log);
  if (o.sections.includes('tui')) {
    if (listing) log('');
    if (o.quick) log('tui: --quick still measures the 2,000-image store (its targets are set on it)');
    tui = await runTuiBench({ rounds: o.rounds, dir: o.dir, log });
  }
  if (o.sections.includes('export')) {
    if (listing) log('');
    exp = await runExportBench({ rounds: o.rounds, dir: o.dir, force: o.force, profile: o.profile, quick: o.quick, profDir: join(OUT, 'prof'), log });
  }

  mkdirSync(OUT, { recursive: true });
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '',
    quick: o.quick,
    rounds: o.rounds,
    sections: o.sections,
    ...(listing?.results ?? {}),
    ...(tui ? { tui: { ...tui, summary: undefined } } : {}),
    ...(exp ? { export: { ...exp, summary: undefined } } : {}),
    totalSeconds: (performance.now() - t0) / 1000,
  };
  writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 2) + '\n');

  log('');
  log('results: bench/out/results.json');
  for (const line of [...(listing?.summary ?? []), ...(tui?.summary ?? []), ...(exp?.summary ?? [])]) log(line);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
}
