// An empty argument ('' typed, or an unset variable) is a usage error naming the argument: one line, exit 2,
// before anything is read, instead of "No such object: " or `"": an empty path`.
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/run-cli.js';

const base = t.testdir();
const demo = join(base, 'demo');
const built = runCli(['demo', '--dir', demo, '--json']);
const REF = 'empty reference \\(invalid reference format\\)';

const cases: Array<[args: string[], said: string]> = [
  [['--root', '', 'images'], '--root: empty path'],
  [['images', '--root', ''], '--root: empty path'],
  [['--driver', '', 'images'], '--driver: empty name'],
  [['inspect', ''], `NAME\\|ID: ${REF}`],
  [['inspect', 'demo/app:2', ''], `NAME\\|ID: ${REF}`],
  [['image', 'inspect', ''], `NAME\\|ID: ${REF}`],
  [['history', ''], `IMAGE: ${REF}`],
  [['why', ''], `REF: ${REF}`],
  [['layers', ''], `IMAGE: ${REF}`],
  [['verify', ''], `IMAGE: ${REF}`],
  [['changes', ''], `REF: ${REF}`],
  [['diff', ''], `REF: ${REF}`],
  [['diff', 'demo/app:2', '--layer', '-1', '-o', ''], '-o: empty path'],
  [['export', ''], `CONTAINER: ${REF}`],
  [['export', 'x', '-o', ''], '-o: empty path'],
  [['save', ''], `IMAGE: ${REF}`],
  [['-o', '', 'save', 'demo/app:2'], '-o: empty path'],
  [['save', '--output', '', 'demo/app:2'], '-o: empty path'],
  [['load', ''], 'ARCHIVE: empty path'],
  [['load', '-i', ''], '--input: empty path'],
  [['apply', ''], 'TAR: empty path'],
  [['mount', '', base], `REF: ${REF}`],
  [['mount', 'demo/app:2', ''], 'DIR: empty path'],
  [['umount', ''], 'DIR: empty path'],
];

t.test('the demo store is built', async (t) => t.equal(built.status, 0, built.stderr));

for (const [args, said] of cases) {
  t.test(`strata ${args.map((a) => (a === '' ? "''" : a)).join(' ')}`, async (t) => {
    const r = runCli(args.includes('--root') ? args : ['--root', demo, ...args]);
    t.equal(r.status, 2, r.stderr);
    t.equal(r.stdout, '');
    t.match(r.stderr, new RegExp(`^strata: error: ${said}\\n$`));
  });
}

t.test('non-empty values still work', async (t) => {
  const r = runCli(['--root', demo, 'history', 'demo/app:2', '--json']);
  t.equal(r.status, 0, r.stderr);
  t.ok(JSON.parse(r.stdout).length > 0);
  const unknown = runCli(['--root', demo, 'history', 'nope:1']);
  t.equal(unknown.status, 1, 'a reference that names nothing is still docker\'s No such image, exit 1');
});

t.test("rmi '' answers as docker rmi '' does (rmi predicts docker, line for line), nothing removed", async (t) => {
  const before = runCli(['--root', demo, 'images', '-a', '-q', '--no-trunc']).stdout;
  for (const args of [['rmi', '--dry-run', ''], ['rmi', '']]) {
    const r = runCli(['--root', demo, ...args]);
    t.equal(r.status, 1, `${args.join(' ')}: exit 1`);
    t.equal(r.stderr, 'Error response from daemon: invalid reference format\n');
    t.equal(r.stdout, '');
  }
  t.equal(runCli(['--root', demo, 'images', '-a', '-q', '--no-trunc']).stdout, before, 'every image still there');
});
