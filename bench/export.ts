// The export benchmarks: strata diff / verify on one big committed layer (a real dockerd-made overlay2
// store, bench/make-export-store.ts), against GNU tar and sha256sum on the same bytes. Interleaved rounds,
// warm page cache, medians.
//
//   strata diff CHAIN --fresh | cat >/dev/null   vs  tar -cf - -C CONTENTDIR . | cat >/dev/null
//     throughput = layer bytes / (time - start-up), where start-up is the same command's time on a tiny
//     layer (strata) or an empty directory (tar); the wall-time ratio is reported beside it
//   strata diff CHAIN | cat >/dev/null           (exact rebuild from tar-split)
//   strata verify --json >/dev/null              vs  sha256sum LAYER.TAR (the same bytes, written once)
//
// GNU tar writes through cat because with its output on /dev/null it skips reading the files.
// Run from bench/run.ts (`npm run bench`, or alone: `npm run bench -- --only export`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, childEnv, fmtS, median, output, pad, strata, thousands, throughCat, timeOnce, type Bench } from './common.js';
import { defaultExportParams, makeExportStore, type ExportStoreInfo } from './make-export-store.js';
import { makeSmallStore } from './make-store.js';
import { formatSummary, profileStrata, type ProfileSummary } from './profile.js';

export interface ExportBenchOptions {
  rounds: number;
  /** Parent directory of the cached stores (/tmp/strata-bench). */
  dir: string;
  force: boolean;
  profile: boolean;
  /** 5,000 files (~80 MB) instead of 20,000 (~340 MB). */
  quick: boolean;
  /** Where missed targets' profiles go. */
  profDir: string;
  log: (s: string) => void;
}

/** diff --fresh throughput / GNU tar throughput (start-up taken out of both): at least this. */
export const FRESH_THROUGHPUT_OVER_TAR_TARGET = 1.0;
/** verify throughput / sha256sum throughput: at least this. */
export const VERIFY_OVER_SHA_TARGET = 0.8;

export interface ExportBenchResult {
  store: ExportStoreInfo;
  rounds: number;
  measuredSeconds: number;
  check: Record<string, unknown>;
  benchmarks: Record<string, { command: string; bytes: number; medianSeconds: number; minSeconds: number; maxSeconds: number; mbPerSecond: number; samples: number[] }>;
  ratios: { freshOverTar: number; freshThroughputOverTar: number; exactOverTar: number; verifyThroughputOverSha256sum: number };
  targets: {
    freshThroughputOverTar: { ratio: number; target: number; ok: boolean };
    verifyOverSha256sum: { fraction: number; target: number; ok: boolean };
  };
  profiles: Record<string, ProfileSummary & { text: string }>;
  /** The closing lines of the report. */
  summary: string[];
}

const MB = 1e6;

/** Entries below `dir` (every name once: files, hardlinks, symlinks, directories). */
function countEntries(dir: string): number {
  let n = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      n++;
      if (e.isDirectory()) stack.push(join(d, e.name));
    }
  }
  return n;
}

/** Runs `argv | CMD` through bash and returns CMD's trimmed stdout. */
function pipeInto(argv: string[], cmd: string): string {
  const r = spawnSync('/bin/bash', ['-c', `set -o pipefail; "$@" | ${cmd}`, 'bash', ...argv], { env: childEnv, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0 || r.stderr) throw new Error(`${argv.join(' ')} | ${cmd} exited ${r.status}: ${r.stderr.slice(0, 400)}`);
  return r.stdout.trim();
}

export async function runExportBench(o: ExportBenchOptions): Promise<ExportBenchResult> {
  const log = o.log;
  const params = o.quick ? { ...defaultExportParams(5_000), bigFilesMiB: [4, 8] } : defaultExportParams();
  const store = await makeExportStore(join(o.dir, o.quick ? 'export-quick' : 'export'), params, { force: o.force, log });
  const R = store.root;
  const st = store.stats;
  log(
    `export store ${R}: 1 layer, ${thousands(st.files)} files + ${st.hardlinks} hardlinks + ${st.symlinks} symlinks + ${thousands(st.dirs)} dirs, ` +
      `${(st.contentBytes / MB).toFixed(0)} MB of content, layer tar ${(st.tarBytes / MB).toFixed(0)} MB ` +
      `(${store.reused ? 'reused; ' : ''}generated in ${store.generationSeconds.toFixed(1)} s)`,
  );

  // What strata sees: the layer, its driver directory, its tar-split.
  const layers = JSON.parse(output(strata(R, 'layers', '--json'))) as Array<{ chainId: string; diffId: string; contentDir: string; hasTarSplit: boolean; size: number }>;
  const layer = layers.find((l) => l.chainId === store.chainId);
  if (!layer || layers.length !== 1) throw new Error(`strata layers --json lists ${layers.length} layers, expected only ${store.chainId}`);
  if (layer.contentDir !== store.contentDir) throw new Error(`strata says the layer's directory is ${layer.contentDir}, dockerd made ${store.contentDir}`);
  if (!layer.hasTarSplit) throw new Error(`strata finds no tar-split for ${store.chainId}`);
  const C = layer.contentDir;
  const chain = layer.chainId;

  // The layer tar, written once by strata (which checks it hashes to the DiffID), for sha256sum.
  const tarFile = join(store.dir, 'layer.tar');
  rmSync(tarFile, { force: true });
  const w = spawnSync(process.execPath, [CLI, '--root', R, 'diff', chain, '-o', tarFile], { env: childEnv, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (w.status !== 0 || !w.stderr.includes('(= DiffID)')) throw new Error(`strata diff -o ${tarFile} exited ${w.status}: ${w.stderr.slice(0, 400)}`);
  const sha = output(['sha256sum', tarFile]).split(' ')[0];
  if (`sha256:${sha}` !== store.diffId) throw new Error(`${tarFile} hashes to sha256:${sha}, not the DiffID ${store.diffId}`);

  // Start-up, to take out of both throughputs: strata's on the smallest layer of a tiny store, tar's on an
  // empty directory.
  const small = makeSmallStore(join(o.dir, 'small'), { force: o.force });
  const smallLayers = JSON.parse(output(strata(small.dir, 'layers', '--json'))) as Array<{ chainId: string; size: number; contentDir: string | null }>;
  const tiny = smallLayers.filter((l) => l.contentDir && existsSync(l.contentDir)).sort((a, b) => a.size - b.size)[0];
  if (!tiny) throw new Error(`${small.dir}: no layer with a directory to time start-up on`);
  const emptyDir = join(store.dir, 'empty');
  mkdirSync(emptyDir, { recursive: true });

  const benches: Record<string, Bench> = {};
  const add = (id: string, label: string, argv: string[]) => (benches[id] = { id, label, argv, samples: [] });
  add('diff-fresh', 'diff --fresh | cat', throughCat(strata(R, 'diff', chain, '--fresh')));
  add('gnu-tar', 'tar -cf - -C DIR . | cat', throughCat(['tar', '-cf', '-', '-C', C, '.']));
  add('diff-fresh-startup', 'start-up: diff --fresh (tiny layer) | cat', throughCat(strata(small.dir, 'diff', tiny.chainId, '--fresh')));
  add('gnu-tar-startup', 'start-up: tar (empty dir) | cat', throughCat(['tar', '-cf', '-', '-C', emptyDir, '.']));
  add('diff-exact', 'diff (tar-split) | cat', throughCat(strata(R, 'diff', chain)));
  add('verify', 'verify --json', strata(R, 'verify', '--json'));
  add('sha256sum', 'sha256sum layer.tar', ['sha256sum', tarFile]);

  // Sanity: the byte counts, and fresh export and GNU tar list every entry of the directory.
  const entries = countEntries(C);
  const bytes: Record<string, number> = {
    'diff-fresh': Number(pipeInto(strata(R, 'diff', chain, '--fresh'), 'wc -c')),
    'gnu-tar': Number(pipeInto(['tar', '-cf', '-', '-C', C, '.'], 'wc -c')),
    'diff-exact': Number(pipeInto(strata(R, 'diff', chain), 'wc -c')),
    verify: st.tarBytes,
    sha256sum: st.tarBytes,
    'diff-fresh-startup': Number(pipeInto(strata(small.dir, 'diff', tiny.chainId, '--fresh'), 'wc -c')),
    'gnu-tar-startup': Number(pipeInto(['tar', '-cf', '-', '-C', emptyDir, '.'], 'wc -c')),
  };
  if (bytes['diff-exact'] !== st.tarBytes) throw new Error(`strata diff wrote ${bytes['diff-exact']} bytes, the layer tar has ${st.tarBytes}`);
  const freshEntries = Number(pipeInto(strata(R, 'diff', chain, '--fresh'), 'tar -tf - | wc -l'));
  const tarEntries = Number(pipeInto(['tar', '-cf', '-', '-C', C, '.'], 'tar -tf - | wc -l'));
  if (freshEntries !== entries) throw new Error(`strata diff --fresh archived ${freshEntries} entries, ${C} holds ${entries}`);
  if (tarEntries !== entries + 1) throw new Error(`GNU tar archived ${tarEntries} entries, expected ${entries} + "./"`);
  const verified = JSON.parse(output(benches['verify'].argv)) as Array<{ chainId: string; ok: boolean | null; bytes: number; problem: string | null }>;
  if (verified.length !== 1 || verified[0].ok !== true || verified[0].bytes !== st.tarBytes) throw new Error(`strata verify --json: ${JSON.stringify(verified).slice(0, 400)}`);
  log(
    `check: ${thousands(entries)} entries in the layer directory; tar bytes: exact ${thousands(bytes['diff-exact'])} (= DiffID), ` +
      `--fresh ${thousands(bytes['diff-fresh'])}, GNU tar ${thousands(bytes['gnu-tar'])}; verify ok`,
  );

  // Warm-up (untimed), then interleaved rounds, the unit order rotating, each pair's order alternating.
  const units: Bench[][] = [
    [benches['diff-fresh'], benches['gnu-tar'], benches['diff-fresh-startup'], benches['gnu-tar-startup']],
    [benches['diff-exact']],
    [benches['verify'], benches['sha256sum']],
  ];
  for (const b of Object.values(benches)) timeOnce(b);
  const started = performance.now();
  for (let round = 0; round < o.rounds; round++) {
    for (let u = 0; u < units.length; u++) {
      const unit = units[(u + round) % units.length];
      for (const b of round % 2 ? [...unit].reverse() : unit) b.samples.push(timeOnce(b));
    }
    process.stderr.write(`\rexport round ${round + 1}/${o.rounds}`);
  }
  process.stderr.write('\r\x1b[K');
  const measuredSeconds = (performance.now() - started) / 1000;

  const m = (id: string) => median(benches[id].samples);
  const mbps = (id: string) => bytes[id] / MB / m(id);
  const freshOverTar = m('diff-fresh') / m('gnu-tar');
  // Same bytes: the throughput ratio is the inverse ratio of the times after start-up.
  const freshThroughputOverTar = (m('gnu-tar') - m('gnu-tar-startup')) / (m('diff-fresh') - m('diff-fresh-startup'));
  const exactOverTar = m('diff-exact') / m('gnu-tar');
  const verifyFraction = m('sha256sum') / m('verify'); // same bytes: the throughput ratio is the inverse time ratio
  const freshOk = freshThroughputOverTar >= FRESH_THROUGHPUT_OVER_TAR_TARGET;
  const verifyOk = verifyFraction >= VERIFY_OVER_SHA_TARGET;

  log(`\nexport: ${o.rounds} interleaved rounds (warm cache) in ${measuredSeconds.toFixed(0)} s; layer tar ${(st.tarBytes / MB).toFixed(0)} MB\n`);
  const rows = [['benchmark', 'median', 'min', 'max', 'MB', 'MB/s']];
  for (const b of Object.values(benches)) {
    rows.push([b.label, fmtS(m(b.id)), fmtS(Math.min(...b.samples)), fmtS(Math.max(...b.samples)), (bytes[b.id] / MB).toFixed(0), mbps(b.id).toFixed(0)]);
  }
  rows.push(['diff --fresh / GNU tar time', `${freshOverTar.toFixed(2)}x`, '', '', '', '']);
  rows.push(['diff --fresh / GNU tar MB/s after start-up', freshThroughputOverTar.toFixed(2), '', '', '', freshOk ? 'ok' : 'MISSED']);
  rows.push(['diff (exact) / GNU tar', `${exactOverTar.toFixed(2)}x`, '', '', '', '']);
  rows.push(['verify / sha256sum MB/s', verifyFraction.toFixed(2), '', '', '', verifyOk ? 'ok' : 'MISSED']);
  log(pad(rows));

  const profiles: ExportBenchResult['profiles'] = {};
  const missed: Array<{ id: string; args: string[]; pipe: boolean }> = [];
  if (!freshOk) missed.push({ id: 'diff-fresh', args: ['--root', R, 'diff', chain, '--fresh'], pipe: true });
  if (!verifyOk) missed.push({ id: 'verify', args: ['--root', R, 'verify', '--json'], pipe: false });
  if (o.profile && missed.length) {
    mkdirSync(o.profDir, { recursive: true });
    for (const x of missed) {
      const summary = profileStrata(x.args, o.profDir, x.id, 200, { pipe: x.pipe });
      const text = formatSummary(summary, 15);
      const bySelf = [...summary.functions].sort((a, b) => b.selfMs - a.selfMs).slice(0, 25);
      const byTotal = [...summary.functions].filter((f) => f.bundled).sort((a, b) => b.totalMs - a.totalMs).slice(0, 25);
      profiles[x.id] = { ...summary, functions: [...new Set([...bySelf, ...byTotal])], text };
      writeFileSync(join(o.profDir, `${x.id}.txt`), text);
    }
    log(`\nmissed export target(s) profiled: ${missed.map((x) => join(o.profDir, `${x.id}.txt`)).join(', ')}`);
  }

  const summary = [
    `export (${(st.tarBytes / MB).toFixed(0)} MB layer, ${thousands(st.files)} files): diff --fresh ${mbps('diff-fresh').toFixed(0)} MB/s, GNU tar ${mbps('gnu-tar').toFixed(0)} MB/s, ` +
      `diff (exact) ${mbps('diff-exact').toFixed(0)} MB/s, verify ${mbps('verify').toFixed(0)} MB/s, sha256sum ${mbps('sha256sum').toFixed(0)} MB/s`,
    `ratio diff (exact)/GNU tar: ${exactOverTar.toFixed(2)}x (time)`,
    `diff --fresh throughput / GNU tar's, start-up taken out: ${freshThroughputOverTar.toFixed(2)} (target ≥ ${FRESH_THROUGHPUT_OVER_TAR_TARGET.toFixed(1)}: ${freshOk ? 'ok' : 'MISSED'}); ` +
      `wall time including start-up: ${freshOverTar.toFixed(2)}x tar's (start-up ${fmtS(m('diff-fresh-startup'))} vs ${fmtS(m('gnu-tar-startup'))})`,
    `verify throughput / sha256sum: ${verifyFraction.toFixed(2)} (target ≥ ${VERIFY_OVER_SHA_TARGET}: ${verifyOk ? 'ok' : 'MISSED'})`,
  ];
  return {
    store,
    rounds: o.rounds,
    measuredSeconds,
    check: { entries, freshEntries, gnuTarEntries: tarEntries, bytes, tarFile, tarFileExists: existsSync(tarFile) },
    benchmarks: Object.fromEntries(
      Object.values(benches).map((b) => [
        b.id,
        { command: b.argv.join(' '), bytes: bytes[b.id], medianSeconds: m(b.id), minSeconds: Math.min(...b.samples), maxSeconds: Math.max(...b.samples), mbPerSecond: mbps(b.id), samples: b.samples },
      ]),
    ),
    ratios: { freshOverTar, freshThroughputOverTar, exactOverTar, verifyThroughputOverSha256sum: verifyFraction },
    targets: {
      freshThroughputOverTar: { ratio: freshThroughputOverTar, target: FRESH_THROUGHPUT_OVER_TAR_TARGET, ok: freshOk },
      verifyOverSha256sum: { fraction: verifyFraction, target: VERIFY_OVER_SHA_TARGET, ok: verifyOk },
    },
    profiles,
    summary,
  };
}
