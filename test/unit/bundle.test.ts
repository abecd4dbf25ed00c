// The bundle as a user installs it (package.json's "files": dist/ and inspect/demo/), built with the build
// script's own esbuild command: each command's module is a chunk of its own under dist/chunks/, so paths a
// module finds beside itself (the demo images, workers, the native helpers) must hold from there too.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

t.test('the installed bundle runs the demo and the daily commands on it', async (t) => {
  const dir = t.testdir({});
  const build = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: { build: string } }).scripts.build.split(' && ')[0].split(' ');
  t.equal(build[0], 'esbuild', 'the build script starts with esbuild');
  const args = build.slice(1).map((a) => (a.startsWith('--outdir=') ? `--outdir=${join(dir, 'dist')}` : a));
  execFileSync(join(REPO, 'node_modules', '.bin', 'esbuild'), args, { cwd: REPO });
  cpSync(join(REPO, 'inspect', 'demo'), join(dir, 'inspect', 'demo'), { recursive: true });
  t.ok(existsSync(join(dir, 'dist', 'chunks')), 'commands are chunks of their own');
  const strata = (...a: string[]) => spawnSync(process.execPath, [join(dir, 'dist', 'strata.js'), ...a], { encoding: 'utf8', cwd: dir });
  const root = join(dir, 'store');
  const demo = strata('demo', '--dir', root);
  t.equal(demo.status, 0, demo.stderr);
  t.match(demo.stdout, /Tags: demo\/app:2/, 'the demo store is built from the shipped images');
  for (const argv of [['images'], ['history', 'demo/app:2'], ['ps', '-a'], ['df'], ['inspect', 'demo/app:2'], ['save', 'demo/app:2', '-o', join(dir, 'app.tar')], ['verify']]) {
    const r = strata('--root', root, ...argv);
    t.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
  }
  t.ok(readFileSync(join(dir, 'app.tar')).length > 10240, 'save wrote an archive');
});
