// ink and React are the TUI's alone: the bundle's entry and a text command's chunk graph (their static
// imports, followed through) hold none of them, so `strata images` starts as fast as before the TUI.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

interface Metafile {
  outputs: Record<string, { imports: Array<{ path: string; kind: string }>; inputs: Record<string, unknown>; entryPoint?: string }>;
}

const TUI_PACKAGES = /node_modules\/(ink|react|react-reconciler|yoga-layout|ink-spinner)\//;

t.test('text commands do not load ink or React; the tui command does', async (t) => {
  const dir = t.testdir({});
  const build = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: { build: string } }).scripts.build.split(' && ')[0].split(' ');
  const meta = join(dir, 'meta.json');
  const args = [...build.slice(1).map((a) => (a.startsWith('--outdir=') ? `--outdir=${join(dir, 'dist')}` : a)), `--metafile=${meta}`];
  execFileSync(join(REPO, 'node_modules', '.bin', 'esbuild'), args, { cwd: REPO });
  const { outputs } = JSON.parse(readFileSync(meta, 'utf8')) as Metafile;

  /** Every output a module loads before it runs: its static imports, and theirs. */
  const staticGraph = (start: string): Set<string> => {
    const seen = new Set<string>();
    const walk = (out: string) => {
      if (seen.has(out) || !(out in outputs)) return; // node:fs and the like are not outputs
      seen.add(out);
      for (const i of outputs[out]?.imports ?? []) if (i.kind === 'import-statement') walk(i.path);
    };
    walk(start);
    return seen;
  };
  const chunkOf = (input: string) => Object.keys(outputs).find((o) => o.endsWith('.js') && input in outputs[o].inputs && outputs[o].imports !== undefined)!;
  const tuiInputs = (outs: Set<string>) => [...outs].flatMap((o) => Object.keys(outputs[o].inputs)).filter((i) => TUI_PACKAGES.test(i));

  const entry = Object.keys(outputs).find((o) => outputs[o].entryPoint === 'cli/index.ts')!;
  t.ok(entry, 'the entry is in the metafile');
  t.same(tuiInputs(staticGraph(entry)), [], 'the entry loads none of them');
  for (const cmd of ['images', 'layers', 'df', 'rmi', 'why', 'tui']) {
    const chunk = chunkOf(`cli/commands/${cmd}.ts`);
    t.ok(chunk, `${cmd} has a chunk`);
    t.same(tuiInputs(staticGraph(chunk)), [], `${cmd}'s command module loads none of them`);
  }
  // The check is not empty: the app's own chunk, imported by the tui handler, carries them.
  const app = chunkOf('cli/tui/main.tsx');
  t.ok(tuiInputs(staticGraph(app)).some((i) => i.includes('node_modules/ink/')), 'the TUI chunk holds ink');
});
