// Docker prune spellings strata cannot honour as docker means them: container prune (stopped containers only)
// and -a/--all (every unused image) are refused in one line, exit 2, saying what strata's prune does instead.
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/run-cli.js';

const base = t.testdir();
const demo = join(base, 'demo');
const built = runCli(['demo', '--dir', demo, '--json']);

/** One `strata: error:` line on stderr, nothing on stdout, exit 2. */
function refused(t: Tap.Test, args: string[], pattern: RegExp): void {
  const r = runCli(['--root', demo, ...args]);
  t.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^strata: error: [^\n]+\n$/, 'one line');
  t.match(r.stderr, pattern);
  t.notMatch(r.stderr, /Options:|--help|at .*\.ts:\d+/, 'no yargs help dump, no stack');
}

t.test('the demo store is built', async (t) => t.equal(built.status, 0, built.stderr));

t.test('container prune names what strata offers instead', async (t) => {
  for (const args of [['container', 'prune'], ['container', 'prune', '-f'], ['container', 'prune', '--filter', 'until=1h']]) {
    refused(t, args, /container prune: strata prune cannot prune containers alone; strata prune --containers --dry-run lists stopped containers/);
  }
  // The same words before the global option, too.
  const r = runCli(['container', 'prune', '--root', demo]);
  t.equal(r.status, 2);
  t.match(r.stderr, /^strata: error: container prune: /);
});

t.test('-a / --all is refused, never ignored, on every prune spelling', async (t) => {
  const words = /-a\/--all is not supported: strata prune removes dangling images \(with --containers also stopped containers\) and leftovers, never unused tagged images/;
  for (const args of [['image', 'prune', '-a'], ['image', 'prune', '--all'], ['system', 'prune', '-a'], ['system', 'prune', '-af'], ['prune', '--all', '--json'], ['prune', '-a', '--apply', '--yes']]) {
    refused(t, args, words);
  }
});

t.test('without -a the prune spellings still work; --all=false is no request', async (t) => {
  for (const args of [['image', 'prune', '--json'], ['system', 'prune', '-f', '--json'], ['prune', '--all=false', '--json']]) {
    const r = runCli(['--root', demo, ...args]);
    t.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    t.ok(Array.isArray(JSON.parse(r.stdout).items), 'a plan');
  }
});

t.test('container ls and the other container spellings are untouched', async (t) => {
  const r = runCli(['--root', demo, 'container', 'ls', '-a', '--json']);
  t.equal(r.status, 0, r.stderr);
});
