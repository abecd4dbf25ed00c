// What a user types besides the documented happy path: /dev/stdout as -o, DiffID prefixes, a terminal
// hint that works as given, archives load cannot read by offsets, --version from anywhere, demo --json.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { resolveLayerTarget } from '../../inspect/layer-export.js';
import type { StoreModel } from '../../inspect/model.js';
import { runCli } from '../helpers/run-cli.js';

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const base = t.testdir();
const demo = join(base, 'demo');
const built = runCli(['demo', '--dir', demo, '--json']);
const demoInfo = JSON.parse(built.stdout) as { root: string; images: Array<{ id: string; tags: string[] }> };

t.test('demo --json: stdout is JSON naming the store and its images', async (t) => {
  t.equal(built.status, 0, built.stderr);
  t.equal(demoInfo.root, demo);
  t.ok(demoInfo.images.some((i) => i.tags.includes('demo/app:2')));
});

t.test('-o /dev/stdout writes to whatever stdout is (here a pipe)', async (t) => {
  const r = spawnSync('bash', ['-c', `${process.execPath} --import=tsx ${CLI} --root ${demo} diff demo/app:2 --layer -1 -o /dev/stdout | sha256sum`], { encoding: 'utf8' });
  const layers = JSON.parse(runCli(['--root', demo, 'layers', 'demo/app:2', '--json']).stdout) as Array<{ diffId: string }>;
  t.equal(`sha256:${r.stdout.split(' ')[0]}`, layers[layers.length - 1].diffId, 'the exact tar, hashing to the DiffID');
});

t.test('a DiffID prefix names a layer; one that two DiffIDs share is ambiguous', async (t) => {
  const layers = JSON.parse(runCli(['--root', demo, 'layers', '--json']).stdout) as Array<{ chainId: string; diffId: string }>;
  const stacked = layers.find((l) => l.diffId !== l.chainId)!;
  const out = join(base, 'by-diff.tar');
  const r = runCli(['--root', demo, 'diff', stacked.diffId.slice(7, 19), '-o', out]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, new RegExp(`${stacked.diffId} \\(= DiffID\\)`));
  // Two layers whose DiffIDs share a prefix that no ChainID or cache id has: the prefix is ambiguous.
  const layer = (chain: string, diff: string, cache: string) => [`sha256:${chain}`, { id: `sha256:${chain}`, chainId: `sha256:${chain}`, diffId: `sha256:${diff}`, parent: null, size: 1, cacheId: cache, unread: [] }];
  const model = { root: base, driver: 'vfs', containers: [], images: new Map(), references: [], layers: new Map([layer('a'.repeat(64), 'd1' + '0'.repeat(62), 'c1'), layer('b'.repeat(64), 'd2' + '0'.repeat(62), 'c2')] as never) } as unknown as StoreModel;
  t.throws(() => resolveLayerTarget(model, 'd'), /^ambiguous layer DiffID d: 2 match/);
});

t.test("the terminal refusal's hint names the same layer, and it works", async (t) => {
  const r = spawnSync('script', ['-qec', `${process.execPath} --import=tsx ${CLI} --root ${demo} diff demo/app:2 --layer -1`, '/dev/null'], { encoding: 'utf8' });
  const hint = /strata changes (\S+ --layer -1) lists what changed/.exec(r.stdout)?.[1];
  t.equal(hint, 'demo/app:2 --layer -1', r.stdout);
  const changes = runCli(['--root', demo, 'changes', 'demo/app:2', '--layer', '-1']);
  t.equal(changes.status, 0, changes.stderr);
  t.match(changes.stdout, /^[ACD] \//);
});

t.test('a --root that does not exist is said not to exist', async (t) => {
  const r = runCli(['--root', join(base, 'nowhere'), 'images']);
  t.equal(r.stderr, `strata: error: ${join(base, 'nowhere')}: no such directory (pass the data-root with --root)\n`);
});

t.test('--version is the package version wherever strata runs', async (t) => {
  const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules', 'tsx', 'dist', 'cli.mjs'), CLI, '--version'], { encoding: 'utf8', cwd: '/' });
  t.equal(r.stdout.trim(), version, r.stderr);
});

t.test('a closed stderr leaves a listing its exit 0; a bad --max-layer-bytes is one usage line', async (t) => {
  const r = spawnSync('bash', ['-c', `${process.execPath} --import=tsx ${CLI} --root ${demo} layers 2>&1 | true; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
  t.equal(r.stdout.trim(), '0');
  const bad = runCli(['apply', join(base, 'x.tar'), '--root', join(base, 'new4'), '--max-layer-bytes', 'abc']);
  t.equal(bad.status, 2);
  t.equal(bad.stderr, 'strata: error: --max-layer-bytes: takes a whole number of bytes above 0, not "abc"\n');
});

t.test('a device node applied by a user who may not create one: one line naming the entry', async (t) => {
  const dir = join(base, 'devices');
  spawnSync('mkdir', ['-p', join(dir, 'src', 'dev'), join(dir, 'root')]);
  spawnSync('mknod', [join(dir, 'src', 'dev', 'null'), 'c', '1', '3']);
  spawnSync('tar', ['-C', join(dir, 'src'), '-cf', join(dir, 'dev.tar'), 'dev']);
  spawnSync('chown', ['-R', 'nobody', dir]);
  spawnSync('chmod', ['755', base, dir]);
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-u', 'NODE_OPTIONS', process.execPath, '--import=tsx', CLI, '--root', join(dir, 'root'), '--driver', 'vfs', 'apply', join(dir, 'dev.tar')], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' } });
  t.equal(r.status, 1);
  const lines = r.stderr.trimEnd().split('\n');
  t.equal(lines.length, 1, r.stderr);
  t.match(lines[0], /^strata: error: .*dev\.tar: dev\/null: .*\(creating device nodes needs root; --no-devices refuses them\)$/);
  t.notMatch(r.stderr, /this is a bug/);
});

// The same mistake gets the same kind of answer from every command that takes the option.
const onDemo = (...args: string[]) => runCli(['--root', demo, ...args]);
const withFormat: Array<[string, string[]]> = [
  ['images', []],
  ['history', ['demo/app:2']],
  ['ps', []],
  ['df', []],
  ['inspect', ['demo/app:2']],
];

t.test('-f without =: one usage line in the docker CLI\'s words, exit 2, in images and ps', async (t) => {
  for (const command of ['images', 'ps']) {
    const r = onDemo(command, '-f', 'foo');
    t.equal(r.status, 2, `${command} -f foo: a usage error`);
    t.equal(r.stdout, '');
    t.equal(r.stderr, 'strata: error: invalid argument "foo" for "-f, --filter" flag: bad format of filter (expected name=value)\n', `${command}: the same line`);
    const daemon = onDemo(command, '-f', 'foo=bar');
    t.same([daemon.status, daemon.stderr], [1, "strata: error: Invalid filter 'foo'\n"], `${command} -f foo=bar: the daemon's words, exit 1`);
  }
});

t.test('--json with --format: refused as mutually exclusive by every command that has both', async (t) => {
  for (const [command, rest] of withFormat) {
    const r = onDemo(command, '--json', '--format', '{{.ID}}', ...rest);
    t.equal(r.status, 2, `${command}: a usage error`);
    t.equal(r.stdout, '');
    t.match(r.stderr, /^strata: error: Arguments json and format are mutually exclusive\n/, `${command}: names both`);
  }
});

t.test('templates: one that does not parse is a usage error (exit 2), one that fails on a row exits 1; both one line after strata: error:', async (t) => {
  for (const [command, rest] of withFormat) {
    const parse = onDemo(command, '--format', '{{.ID', ...rest);
    t.equal(parse.status, 2, `${command}: a template that does not parse`);
    t.equal(parse.stdout, '');
    const words = command === 'ps' ? 'failed to parse template' : 'template parsing error';
    t.equal(parse.stderr, `strata: error: ${words}: template: :1: unclosed action\n`, `${command}: docker's words, one line`);
  }
  // A field no row has: docker's execution error (the demo store has no container: ps fails on the empty row it first runs the template over, as docker ps does).
  for (const [command, rest] of withFormat) {
    const exec = onDemo(command, '--format', '{{.Nope}}', ...(command === 'ps' ? ['-a'] : []), ...rest);
    t.equal(exec.status, 1, `${command}: a template that fails while it runs`);
    const last = exec.stderr.trimEnd().split('\n').at(-1) ?? '';
    t.match(last, /^strata: error: (template parsing error|failed to execute template): template: :1:\d+: executing "" at <\.Nope>: /, `${command}: docker's words after strata's prefix`);
    t.equal(exec.stderr.trimEnd().split('\n').length, 1, `${command}: one line`);
  }
});

t.test('--help of each of the new commands: every flag and at least two examples', async (t) => {
  for (const command of ['images', 'history', 'ps', 'df', 'inspect', 'save', 'export', 'load']) {
    const help = runCli([command, '--help']).stdout;
    t.ok((help.match(/^ {2}strata /gm) ?? []).length >= 2, `${command}: two examples`);
  }
  const ps = runCli(['ps', '--help']).stdout.replace(/\s+/g, ' ');
  for (const key of ['name=', 'id=', 'label=', 'status=', 'exited=', 'ancestor=', 'before=', 'since=', 'volume=', 'network=', 'health=', 'is-task=']) t.match(ps, key, `ps --help lists ${key}`);
  const images = runCli(['images', '--help']).stdout.replace(/\s+/g, ' ');
  for (const key of ['dangling=', 'label=', 'before=', 'since=', 'reference=']) t.match(images, key, `images --help lists ${key}`);
});

t.test("docker's management commands work as typed: system df, image ls/inspect/history, container ls/inspect/diff", async (t) => {
  const same = (ours: string[], theirs: string[], what: string) => {
    const a = runCli(['--root', demo, ...ours]);
    const b = runCli(['--root', demo, ...theirs]);
    t.equal(a.status, 0, `${ours.join(' ')}: ${a.stderr}`);
    t.equal(a.stdout, b.stdout, what);
  };
  same(['system', 'df'], ['df'], 'system df is df');
  same(['image', 'ls', 'demo/app'], ['images', 'demo/app'], 'image ls is images');
  same(['image', 'inspect', 'demo/app:2'], ['inspect', '--type', 'image', 'demo/app:2'], 'image inspect is inspect --type image');
  same(['image', 'history', 'demo/app:2'], ['history', 'demo/app:2'], 'image history is history');
  same(['container', 'ls', '-a'], ['ps', '-a'], 'container ls is ps');
  same(['image', 'prune', '--json'], ['prune', '--dry-run', '--json'], 'image prune is prune (a dry run)');
  same(['system', 'prune', '--json'], ['prune', '--dry-run', '--containers', '--json'], 'system prune is prune --containers (a dry run)');
  const notContainer = runCli(['--root', demo, 'container', 'inspect', 'demo/app:2']);
  t.equal(notContainer.status, 1, 'container inspect looks for containers only');
  t.match(notContainer.stderr, /No such container: demo\/app:2/);
  const unknown = runCli(['--root', demo, 'image', 'frobnicate']);
  t.equal(unknown.status, 2, 'an unknown subcommand is a usage error');
});

t.test('an option given twice takes its last value, as docker flags do; -f keeps every value', async (t) => {
  const twice = runCli(['--root', join(base, 'nowhere'), 'images', '--root', demo, '-q']);
  t.equal(twice.status, 0, twice.stderr);
  t.equal(twice.stdout, runCli(['--root', demo, 'images', '-q']).stdout, 'the second --root wins');
  const a = join(base, 'a.tar');
  const b = join(base, 'b.tar');
  const saved = runCli(['--root', demo, 'save', 'demo/app:1', '-o', a, '-o', b]);
  t.equal(saved.status, 0, saved.stderr);
  t.ok(readFileSync(b).length > 0, 'the last -o is written');
  t.throws(() => readFileSync(a), /ENOENT/, 'the first is not');
  const filtered = runCli(['--root', demo, 'images', '-f', 'reference=demo/base', '-f', 'reference=demo/app', '--format', '{{.Repository}}:{{.Tag}}']);
  t.same(filtered.stdout.split('\n').filter(Boolean).sort(), ['demo/app:1', 'demo/app:2', 'demo/base:1'], 'every -f counts');
});
