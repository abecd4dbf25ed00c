// A data-root the kernel will not create (below /proc): every writer answers in one line at once, where
// Node's recursive mkdir would retry forever.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));

t.test('load, apply and migrate --out below /proc: one line, no hang', async (t) => {
  const input = t.testdir({ 'x.tar': Buffer.alloc(1024) });
  for (const args of [
    ['--root', '/proc/strata-no-such/root', 'load', '-i', `${input}/x.tar`],
    ['--root', '/proc/strata-no-such/root', 'apply', `${input}/x.tar`],
  ]) {
    const r = spawnSync(process.execPath, ['--import=tsx', CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
    t.not(r.signal, 'SIGTERM', `${args[2]}: ends by itself`);
    t.equal(r.status, 1, `${args[2]}: ${r.stderr}`);
    t.match(r.stderr, /^strata: error: \/proc\/strata-no-such(\/root)?: cannot create the data-root: /m);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
});
