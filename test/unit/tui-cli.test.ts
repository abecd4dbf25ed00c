// strata tui needs a terminal: on a pipe it says so in one line; plain strata on a pipe is unchanged.
import t from 'tap';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore } from '../helpers/sample-store.js';

const s = buildSampleStore(t.testdir());

t.test('strata tui on a pipe: one line, exit 1, nothing on stdout', async (t) => {
  const r = runCli(['--root', s.root, 'tui']);
  t.equal(r.status, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr, 'strata: error: strata tui needs a terminal: stdin and stdout must be a TTY (use strata images --tree, layers, changes on a pipe)\n');
});

t.test('plain strata on a pipe still asks for a command', async (t) => {
  const r = runCli(['--root', s.root]);
  t.equal(r.status, 2);
  t.match(r.stderr, /Name a command/);
  t.notMatch(r.stderr, /terminal/);
});

t.test('tui is listed in --help', async (t) => {
  const r = runCli(['--help']);
  t.equal(r.status, 0);
  t.match(r.stdout, /strata tui +Browse the store in a full-screen terminal app/);
});
