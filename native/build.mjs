// Builds strata's optional native helpers (native/strata-native.c) into dist/strata-native.node
// with the system C compiler against the running Node's own headers. Without a compiler or headers it
// says so and exits 0: every helper has a JavaScript path, only slower.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'strata-native.c');
const out = join(here, '..', 'dist', 'strata-native.node');

function headerDirs() {
  const dirs = [];
  if (process.env.npm_config_nodedir) dirs.push(join(process.env.npm_config_nodedir, 'include', 'node'));
  dirs.push(join(dirname(process.execPath), '..', 'include', 'node'));
  return dirs.filter((d) => existsSync(join(d, 'node_api.h')));
}

function skip(reason) {
  rmSync(out, { force: true });
  process.stderr.write(`strata: native helpers not built (${reason}); the JavaScript paths will be used\n`);
  process.exit(0);
}

if (process.platform !== 'linux') skip('they are for Linux');
if (process.env.STRATA_NATIVE === '0') skip('STRATA_NATIVE=0');
const includes = headerDirs();
if (includes.length === 0) skip(`node_api.h not found next to ${process.execPath}; set npm_config_nodedir`);
const cc = process.env.CC || 'cc';
mkdirSync(dirname(out), { recursive: true });
const temp = `${out}.${process.pid}.tmp`;
const r = spawnSync(cc, ['-O2', '-Wall', '-shared', '-fPIC', '-pthread', `-I${includes[0]}`, source, '-o', temp], { stdio: ['ignore', 'inherit', 'inherit'] });
if (r.error || r.status !== 0) {
  rmSync(temp, { force: true });
  skip(r.error ? `${cc}: ${r.error.message}` : `${cc} exited ${r.status}`);
}
renameSync(temp, out);
