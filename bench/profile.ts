// Runs dist/strata.js once under `node --cpu-prof` and summarizes where the time goes: the top functions
// by self time, and the top functions by total (inclusive) time.
//
//   node --import=tsx bench/profile.ts [--top N] [--out DIR] [--pipe] -- --root R df --json
//
//   --pipe  stdout through `| cat >/dev/null` instead of straight to /dev/null (strata diff to a pipe)
import { spawnSync } from 'node:child_process';
import { mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(REPO, 'dist', 'strata.js');

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  /** From dist/ (strata's own bundled code, yargs included) rather than Node's internals. */
  bundled: boolean;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  file: string;
  wallMs: number;
  sampledMs: number;
  functions: FunctionTime[];
}

/** strata's wrapper around every command body (cli/output.ts). */
const BODY = 'runCommand';

function keyOf(f: CallFrame): { key: string; name: string; where: string } {
  const name = f.functionName || '(anonymous)';
  const where = f.url ? `${basename(f.url.replace(/^file:\/\//, ''))}:${f.lineNumber + 1}` : '';
  return { key: `${name}\u0000${where}`, name, where };
}

/** Self and inclusive time per function (same name and place), from a .cpuprofile file. */
export function summarizeProfile(file: string): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const fns = new Map<string, FunctionTime>();
  const fn = (node: ProfileNode): FunctionTime => {
    const k = keyOf(node.callFrame);
    let f = fns.get(k.key);
    if (!f) fns.set(k.key, (f = { name: k.name, where: k.where, bundled: node.callFrame.url.includes('/dist/'), selfMs: 0, totalMs: 0 }));
    return f;
  };
  // A sample lasts until the next one; the last lasts as long as the mean.
  const n = p.samples.length;
  const mean = n > 1 ? (p.endTime - p.startTime) / n : 0;
  let sampled = 0;
  for (let i = 0; i < n; i++) {
    const us = i + 1 < n ? p.timeDeltas[i + 1] : mean;
    const ms = Math.max(0, us) / 1000;
    sampled += ms;
    const node = byId.get(p.samples[i]);
    if (!node) continue;
    fn(node).selfMs += ms;
    // Inclusive time, counted once per function per sample, for the frames below the command's body
    // (runCommand) so the yargs frames every sample passes through do not crowd the list. Code resumed
    // after an await (async generators: diff, verify) runs from the microtask queue, not under
    // runCommand: those samples count too, all but the start-up ones (module evaluation).
    const stack: FunctionTime[] = [];
    let inBody = false;
    let startup = false;
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id)!.callFrame;
      if (cf.functionName === BODY) {
        inBody = true;
        break;
      }
      if (cf.functionName === 'evaluate' && !cf.url) startup = true;
      stack.push(fn(byId.get(id)!));
    }
    if (inBody || !startup) for (const f of new Set(stack)) f.totalMs += ms;
  }
  return { file, wallMs: (p.endTime - p.startTime) / 1000, sampledMs: sampled, functions: [...fns.values()] };
}

export function formatSummary(s: ProfileSummary, top = 12): string {
  const pct = (ms: number) => `${((ms * 100) / s.sampledMs).toFixed(1).padStart(5)}%`;
  const row = (f: FunctionTime, ms: number) => `  ${ms.toFixed(1).padStart(8)} ms ${pct(ms)}  ${f.name}${f.where ? `  (${f.where})` : ''}`;
  const self = [...s.functions].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  const skip = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);
  const total = [...s.functions].filter((f) => !skip.has(f.name) && f.bundled).sort((a, b) => b.totalMs - a.totalMs).slice(0, top);
  return [
    `profile ${s.file}: ${s.wallMs.toFixed(0)} ms profiled`,
    'top self time:',
    ...self.map((f) => row(f, f.selfMs)),
    'top total time (strata functions under runCommand or resumed after an await, callees included):',
    ...total.map((f) => row(f, f.totalMs)),
    '',
  ].join('\n');
}

/**
 * Runs `node --cpu-prof dist/strata.js ARGS` (stdout to /dev/null, or with `pipe` through `| cat >/dev/null`,
 * as the export benchmarks run it) and returns the profile's summary.
 */
export function profileStrata(args: string[], outDir: string, name: string, intervalUs = 200, opts: { pipe?: boolean } = {}): ProfileSummary {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${name}.cpuprofile`);
  rmSync(file, { force: true });
  const devnull = openSync('/dev/null', 'w');
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const argv = [process.execPath, '--cpu-prof', `--cpu-prof-dir=${outDir}`, `--cpu-prof-name=${name}.cpuprofile`, `--cpu-prof-interval=${intervalUs}`, CLI, ...args];
  const [cmd, ...cmdArgs] = opts.pipe ? ['/bin/bash', '-c', 'set -o pipefail; "$@" | cat >/dev/null', 'bash', ...argv] : argv;
  const r = spawnSync(cmd, cmdArgs, {
    stdio: ['ignore', devnull, 'pipe'],
    env,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`strata ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 500)}`);
  if (!readdirSync(outDir).includes(`${name}.cpuprofile`)) throw new Error(`no profile written to ${file}`);
  return summarizeProfile(file);
}

function main(argv: string[]): void {
  let top = 12;
  let pipe = false;
  let out = join(REPO, 'bench', 'out', 'prof');
  const dash = argv.indexOf('--');
  const own = dash < 0 ? [] : argv.slice(0, dash);
  const args = dash < 0 ? argv : argv.slice(dash + 1);
  for (let i = 0; i < own.length; i++) {
    if (own[i] === '--top') top = Number(own[++i]);
    else if (own[i] === '--out') out = resolve(own[++i]);
    else if (own[i] === '--pipe') pipe = true;
    else throw new Error(`unknown option ${own[i]}`);
  }
  if (args.length === 0) throw new Error('usage: profile.ts [--top N] [--out DIR] [--pipe] -- <strata arguments>');
  const words = args.filter((a, i) => a !== '--root' && args[i - 1] !== '--root');
  const name = words.join('_').replace(/[^A-Za-z0-9_-]+/g, '').replace(/^[-_]+/, '') || 'strata';
  process.stdout.write(formatSummary(profileStrata(args, out, name, 200, { pipe }), top));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`profile: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
