// What strata could not read is never taken for absent: unreadable containers, layer fields and image
// configs are recorded, the directories and layers they might own are "unknown", never orphaned or
// leaked, and permission problems say so (run as the unprivileged user nobody, with setpriv).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openDriver } from '../../drivers/index.js';
import { diskUsage, type DiskUsageReport } from '../../inspect/df.js';
import { buildDemoStore } from '../../inspect/demo.js';
import { readStore } from '../../inspect/docker/read-store.js';
import { PERMISSION_HINT } from '../../native/errors.js';
import { bootId } from '../../native/temp-names.js';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore, type SampleStore } from '../helpers/sample-store.js';

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));

/** Runs the CLI from source as the user nobody (uid and gid 65534, no groups), outside tap's process tracking. */
function asNobody(args: string[]): { stdout: string; stderr: string; status: number | null } {
  // tap adds its own hooks to NODE_OPTIONS of every child; they would write tap's files as nobody.
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-u', 'NODE_OPTIONS', process.execPath, '--import=tsx', CLI, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' },
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/**
 * The sample store, plus: a container (running) whose image is gone, so only its read-write layer record
 * keeps layer Z in use, and a layer Y no one uses.
 */
function storeWithLiveContainerOnZ(dir: string) {
  const s = buildSampleStore(dir);
  const b = s.builder;
  const Y = b.layer(null, { y: 'yy' }, 'Y');
  const zImage = b.image({ layers: [s.layers.Z], created: '2024-03-01T00:00:00Z' });
  const live = b.container({ image: zImage, name: 'on-z', state: 'running', files: { 'tmp/z': 'zzz' } });
  rmSync(join(b.meta, 'imagedb', 'content', 'sha256', zImage.slice(7)));
  const mountId = readFileSync(join(b.meta, 'layerdb', 'mounts', live, 'mount-id'), 'utf8');
  return {
    s,
    Y,
    live,
    mountId,
    config: join(s.root, 'containers', live, 'config.v2.json'),
    cacheIdFile: (chainId: string) => join(b.meta, 'layerdb', 'sha256', chainId.slice(7), 'cache-id'),
  };
}

/** Makes a file unreadable as a file, for root too: a directory stands in for it. */
function directoryInstead(file: string): void {
  rmSync(file);
  mkdirSync(file);
}

async function df(s: SampleStore): Promise<{ report: DiskUsageReport; warnings: string[] }> {
  const model = readStore({ root: s.root, driver: 'overlay2', layerFields: 'usage' });
  const warnings = [...model.warnings];
  const report = await diskUsage(model, openDriver('overlay2', s.root), warnings);
  return { report, warnings: warnings.map((w) => `${w.file}: ${w.message}`) };
}

t.test('a field not read is named in unread; an absent one is not', async (t) => {
  const s = buildSampleStore(t.testdir());
  const L1 = s.layers.L1.chainId;
  const L2 = s.layers.L2.chainId;
  for (const [fields, unread] of [
    ['sizes', ['cacheId']],
    ['usage', ['diffId']],
    ['all', []],
  ] as const) {
    const model = readStore({ root: s.root, driver: 'overlay2', layerFields: fields });
    t.same(model.layers.get(L1)!.unread, unread, `${fields}: the fields left unread`);
    t.equal(model.layers.get(L1)!.parent, null, `${fields}: L1 has no parent`);
    t.notOk(model.layers.get(L1)!.unread.includes('parent'), `${fields}: and that is known`);
    t.equal(model.layers.get(L2)!.parent, L1);
    t.equal(model.layers.get(L1)!.id, L1, "a Docker layer's own id is its ChainID");
    t.same(model.unreadable.layers, [], `${fields}: nothing unreadable`);
  }
  const parentFile = join(s.root, 'image', 'overlay2', 'layerdb', 'sha256', L2.slice(7), 'parent');
  directoryInstead(parentFile);
  const model = readStore({ root: s.root, driver: 'overlay2' });
  const l2 = model.layers.get(L2)!;
  t.equal(l2.parent, null);
  t.same(l2.unread, ['parent'], 'an unreadable parent is unread, not "base layer"');
  t.same(model.unreadable.layers, [{ chainId: L2, field: 'parent', file: parentFile, reason: 'is a directory, expected a file' }]);
  t.same(model.unreadable.files, [{ file: parentFile, reason: 'is a directory, expected a file' }]);
});

t.test('a live container whose config cannot be read: its directories are unknown, never orphans; its layer not leaked', async (t) => {
  const { s, Y, live, mountId, config, cacheIdFile } = storeWithLiveContainerOnZ(t.testdir());
  directoryInstead(config);
  directoryInstead(cacheIdFile(s.layers.L1.chainId));
  const model = readStore({ root: s.root, driver: 'overlay2', layerFields: 'usage' });
  t.same(model.unreadable.containers, [{ id: live, file: config, reason: 'is a directory, expected a file' }], 'the container is recorded by its directory name');
  t.notOk(model.containers.some((c) => c.id === live));
  t.same(model.mounts.get(live), { containerId: live, mountId, initId: `${mountId}-init`, parentChainId: s.layers.Z.chainId, unread: [] }, 'its read-write layer record is read on its own');
  t.same(model.layers.get(s.layers.L1.chainId)!.unread, ['diffId', 'cacheId']);

  const { report, warnings } = await df(s);
  t.same(report.orphans, [], 'nothing is called orphaned while a cache-id is unreadable');
  const unknown = new Map(report.unknown.map((u) => [u.id, u]));
  for (const id of [mountId, `${mountId}-init`]) {
    t.same(unknown.get(id)?.unreadable, [{ file: config, reason: 'is a directory, expected a file' }], `${id.slice(0, 12)}…: unknown, owned by the unreadable container`);
    t.equal(unknown.get(id)?.path, join(s.root, 'overlay2', id));
  }
  const byCacheId = { file: cacheIdFile(s.layers.L1.chainId), reason: 'is a directory, expected a file' };
  t.same(unknown.get(s.layers.L1.cacheId)?.unreadable, [byCacheId], "L1's own directory: unknown (its cache-id is unreadable)");
  t.same(unknown.get('f'.repeat(64))?.unreadable, [byCacheId], 'the unreferenced directory might be L1\'s: unknown, not orphaned');
  t.equal(unknown.get('f'.repeat(64))?.kind, 'directory');
  t.equal(report.unknown.length, 4);
  t.same(report.leakedLayers, [{ chainId: Y.chainId, size: 2 }], 'Z is used by the live container; Y by no one');
  t.ok(warnings.includes(`${config}: is a directory, expected a file`), 'the config is named');
  t.ok(warnings.includes(`${cacheIdFile(s.layers.L1.chainId)}: is a directory, expected a file`), 'the cache-id is named');

  const text = runCli(['--root', s.root, 'df', '-v']);
  t.equal(text.status, 0);
  t.match(text.stdout, new RegExp(`${join(s.root, 'overlay2', 'f'.repeat(64))}\\s+\\S+\\s+unknown \\(unreadable: ${cacheIdFile(s.layers.L1.chainId)}\\)`));
  t.match(text.stdout, new RegExp(`${join(s.root, 'overlay2', mountId)}-init\\s+\\S+\\s+unknown \\(unreadable: ${config}\\)`));
  t.match(runCli(['--root', s.root, 'df']).stdout, /\nUnknown\s+4\s+-\s+/, 'the summary has the bucket');
  const json = JSON.parse(runCli(['--root', s.root, 'df', '--json']).stdout);
  t.same(json.unknown.map((u: { id: string }) => u.id).sort(), [...unknown.keys()].sort(), '--json has the bucket');
  t.same(json.orphans, []);
});

t.test('an unreadable container without a read-write layer record: nothing unreferenced is orphaned or leaked', async (t) => {
  const { s, Y, live, config } = storeWithLiveContainerOnZ(t.testdir());
  directoryInstead(config);
  rmSync(join(s.root, 'image', 'overlay2', 'layerdb', 'mounts', live), { recursive: true });
  const { report } = await df(s);
  t.same(report.orphans, []);
  t.same(report.leakedLayers, []);
  const blocked = { file: config, reason: 'is a directory, expected a file' };
  const unknownLayers = report.unknown.filter((u) => u.kind === 'layer');
  t.same(unknownLayers.map((u) => u.id).sort(), [Y.chainId, s.layers.Z.chainId].sort(), 'unused layers are unknown');
  t.ok(unknownLayers.every((u) => u.unreadable.some((b) => b.file === blocked.file)));
  t.ok(report.unknown.some((u) => u.kind === 'directory' && u.path === s.orphanDir && u.unreadable[0].file === config), 'the orphan-looking directory is unknown');
});

t.test('an image config that cannot be read: unused layers are unknown, orphans stay orphans', async (t) => {
  const s = buildSampleStore(t.testdir());
  const configFile = join(s.root, 'image', 'overlay2', 'imagedb', 'content', 'sha256', s.images.p3.slice(7));
  writeFileSync(configFile, '{"tampered": true}');
  const { report } = await df(s);
  t.same(report.leakedLayers, []);
  const layers = report.unknown.filter((u) => u.kind === 'layer');
  t.same(layers.map((u) => u.id).sort(), [s.layers.L7.chainId, s.layers.Z.chainId].sort(), "L7 may be the unreadable image's; so may Z");
  t.match(layers[0].unreadable, [{ file: configFile, reason: /does not match its digest/ }]);
  t.same(report.orphans.map((o) => o.path), [s.orphanDir], 'an image config names no driver directory');
});

t.test("an unreadable parent on a live container's chain: layers below it are unknown, not leaked", async (t) => {
  const s = buildSampleStore(t.testdir());
  const b = s.builder;
  const top = b.layer(s.layers.Z, { t: 'top' }, 'top');
  const img = b.image({ layers: [s.layers.Z, top] });
  b.container({ image: img, name: 'on-top', state: 'exited' });
  rmSync(join(b.meta, 'imagedb', 'content', 'sha256', img.slice(7)));
  const parentFile = join(b.meta, 'layerdb', 'sha256', top.chainId.slice(7), 'parent');
  directoryInstead(parentFile);
  const { report } = await df(s);
  t.same(report.leakedLayers, []);
  t.same(report.unknown.filter((u) => u.kind === 'layer').map((u) => [u.id, u.unreadable.map((x) => x.file)]), [[s.layers.Z.chainId, [parentFile]]]);
});

t.test('a layerdb that cannot be listed: no layer is called missing, no directory orphaned', async (t) => {
  const s = buildSampleStore(t.testdir());
  const sha = join(s.root, 'image', 'overlay2', 'layerdb', 'sha256');
  rmSync(sha, { recursive: true });
  writeFileSync(sha, '');
  const model = readStore({ root: s.root, driver: 'overlay2', layerFields: 'usage' });
  t.same(model.unreadable.parts, [{ part: 'layers', file: sha, reason: 'not a directory' }]);
  t.same(model.warnings, [{ file: sha, message: 'not a directory' }], 'one warning: no image says its layers are missing');
  const { report } = await df(s);
  t.same(report.orphans, []);
  const containerDirs = model.containers.flatMap((c) => [c.mountId!, c.initId!]);
  const expected = readdirSync(join(s.root, 'overlay2')).filter((id) => id !== 'l' && !containerDirs.includes(id));
  t.equal(expected.length, 11, "the layers' ten directories and the orphan-looking one");
  t.same(report.unknown.map((u) => u.id).sort(), expected.sort(), "every directory no container's record names is unknown");
  t.ok(report.unknown.every((u) => u.unreadable[0].file === sha));
});

t.test("a container removed by hand: its read-write layer record is a leftover, its directories orphans", async (t) => {
  const s = buildSampleStore(t.testdir());
  const model = readStore({ root: s.root, driver: 'overlay2' });
  const gone = model.containers.find((c) => c.name === 'idle')!;
  rmSync(join(s.root, 'containers', gone.id), { recursive: true });
  const { report } = await df(s);
  t.same(report.orphans.map((o) => o.id).sort(), [gone.mountId!, gone.initId!, 'f'.repeat(64)].sort());
  t.same(report.unknown, []);
});

t.test('temporary entries of strata writers are interrupted or in-progress writes, never orphans', async (t) => {
  const s = buildSampleStore(t.testdir());
  const otherBoot = bootId() === 'deadbeef' ? 'feedface' : 'deadbeef';
  const stale = `.strata-tmp-${process.pid}-${otherBoot}-0123abcd-layer`;
  const running = `.strata-tmp-${process.pid}-${bootId()}-89abcdef-layer`;
  const old = '.strata-tmp-' + 'a'.repeat(64);
  for (const name of [stale, running, old]) {
    mkdirSync(join(s.root, 'overlay2', name, 'diff'), { recursive: true });
    writeFileSync(join(s.root, 'overlay2', name, 'diff', 'partial'), 'x'.repeat(100));
  }
  const { report } = await df(s);
  t.same(report.orphans.map((o) => o.path), [s.orphanDir]);
  t.same(
    report.interruptedWrites.map((w) => [w.id, w.pid, w.stale]),
    [
      [stale, process.pid, true],
      [running, process.pid, false],
      [old, null, true],
    ].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
  );
  t.ok(report.interruptedWrites.every((w) => w.bytes >= 100), 'measured');
  const text = runCli(['--root', s.root, 'df', '-v']).stdout;
  t.match(text, new RegExp(`${stale.replace(/\./g, '\\.')}\\s+\\S+\\s+interrupted strata write`));
  t.match(text, new RegExp(`${running.replace(/\./g, '\\.')}\\s+\\S+\\s+strata write in progress \\(pid ${process.pid}\\)`));
  t.notMatch(text.slice(text.indexOf('Orphaned'), text.indexOf('Leaked')), /strata-tmp/);
});

t.test('df warns for every layer whose driver directory is gone', async (t) => {
  const s = buildSampleStore(t.testdir());
  rmSync(join(s.root, 'overlay2', s.layers.K1.cacheId), { recursive: true });
  rmSync(join(s.root, 'overlay2', s.layers.L4.cacheId), { recursive: true });
  const { warnings } = await df(s);
  for (const l of [s.layers.K1, s.layers.L4]) t.ok(warnings.includes(`${join(s.root, 'overlay2', l.cacheId)}: missing — driver directory of layer ${l.chainId} is gone`), `names ${l.chainId.slice(7, 19)}`);
  t.equal(warnings.length, 2);
  const r = runCli(['--root', s.root, 'df']);
  t.equal(r.status, 0);
  t.equal(r.stderr.split('\n').filter((l) => l.includes('driver directory of layer')).length, 2);
});

t.test('images warns for a layerdb entry whose diff contradicts its ChainID', async (t) => {
  const s = buildSampleStore(t.testdir());
  const entry = join(s.root, 'image', 'overlay2', 'layerdb', 'sha256', s.layers.L5.chainId.slice(7));
  writeFileSync(join(entry, 'diff'), s.layers.L6.diffId);
  const model = readStore({ root: s.root, driver: 'overlay2', layerFields: 'sizes' });
  t.match(model.warnings, [{ file: entry, message: /^ChainID does not match its parent and diff \(expected sha256:[0-9a-f]{64}\)$/ }]);
  const r = runCli(['--root', s.root, 'images']);
  t.equal(r.status, 0);
  t.match(r.stderr, `strata: warning: ${entry}: ChainID does not match its parent and diff`);
});

t.test('as a user who may not read the data-root: permission denied, naming it, once', async (t) => {
  const s = buildSampleStore(t.testdir());
  chmodSync(s.root, 0o700);
  for (const args of [['images'], ['images', '--tree'], ['df'], ['layers'], ['dangling']]) {
    const r = asNobody(['--root', s.root, ...args]);
    t.equal(r.status, 1, `${args.join(' ')}: exit 1`);
    t.equal(r.stderr, `strata: error: ${s.root}: permission denied (${PERMISSION_HINT})\n`, `${args.join(' ')}: one line naming the root`);
    t.equal(r.stdout, '');
  }
  chmodSync(s.root, 0o755);
  const image = join(s.root, 'image');
  chmodSync(image, 0o700);
  const r = asNobody(['--root', s.root, 'images']);
  t.equal(r.stderr, `strata: error: ${image}: permission denied (${PERMISSION_HINT})\n`, 'names image/ when that is what is refused');
  t.notMatch(r.stderr, /no storage driver/);
});

t.test('as a user who may not read some files: the live container is kept, the files named, the hint given once', async (t) => {
  const { s, Y, mountId, config, cacheIdFile } = storeWithLiveContainerOnZ(t.testdir());
  chmodSync(config, 0o000);
  chmodSync(cacheIdFile(s.layers.L1.chainId), 0o000);
  const r = asNobody(['--root', s.root, 'df', '--json']);
  t.equal(r.status, 0);
  const report = JSON.parse(r.stdout) as DiskUsageReport;
  t.same(report.orphans, [], 'no orphans');
  t.same(report.leakedLayers, [{ chainId: Y.chainId, size: 2 }], "the live container's layer is not leaked");
  const unknown = new Map(report.unknown.map((u) => [u.id, u]));
  t.same(unknown.get(mountId)?.unreadable, [{ file: config, reason: 'permission denied' }], "the container's directory is unknown, not orphaned");
  t.same(unknown.get(`${mountId}-init`)?.unreadable, [{ file: config, reason: 'permission denied' }]);
  t.same(unknown.get('f'.repeat(64))?.unreadable, [{ file: cacheIdFile(s.layers.L1.chainId), reason: 'permission denied' }]);
  const lines = r.stderr.trimEnd().split('\n');
  t.ok(lines.includes(`strata: warning: ${config}: permission denied (${PERMISSION_HINT})`), 'the config is named, with the hint');
  t.ok(lines.includes(`strata: warning: ${cacheIdFile(s.layers.L1.chainId)}: permission denied`), 'the cache-id is named');
  t.equal(r.stderr.split(PERMISSION_HINT).length - 1, 1, 'the hint is given once');

  const images = asNobody(['--root', s.root, 'images']);
  t.equal(images.status, 0);
  t.match(images.stdout, /python\s+3-full/);
  t.equal(images.stderr.split(PERMISSION_HINT).length - 1, 1);
});

t.test('as a user who may not read the driver directory: layer directories are unknown, never missing', async (t) => {
  const top = t.testdir();
  const s = buildSampleStore(join(top, 'sample'));
  chmodSync(join(s.root, 'overlay2'), 0o700);
  const layers = asNobody(['--root', s.root, 'layers', '--json']);
  t.equal(layers.status, 0, layers.stderr);
  const list = JSON.parse(layers.stdout) as Array<{ directoryExists: boolean | null }>;
  t.ok(list.length > 0 && list.every((l) => l.directoryExists === null), 'every directory: cannot tell (null), not missing (false)');
  t.notMatch(layers.stderr, /: missing/, 'no layer is said to be missing');
  // verify needs tar-splits: the demo store (vfs) has them.
  const { root: demo } = await buildDemoStore(join(top, 'demo'));
  spawnSync('chmod', ['-R', 'a+rX', demo]); // a data-root is 0710: let nobody read all of it but the layer directories
  chmodSync(join(demo, 'vfs', 'dir'), 0o700);
  const verify = asNobody(['--root', demo, 'verify', '--json']);
  const results = JSON.parse(verify.stdout) as Array<{ ok: boolean | null; problem: string | null }>;
  const failed = results.filter((r) => r.ok === false);
  t.ok(failed.length > 0 && failed.every((r) => /permission denied/.test(r.problem ?? '') && !/: missing/.test(r.problem ?? '')), 'verify says permission denied, not missing');
  const df = asNobody(['--root', s.root, 'df', '--json']);
  t.equal(df.status, 0, df.stderr);
  const report = JSON.parse(df.stdout) as DiskUsageReport;
  t.same(report.orphans, [], 'no orphans');
  t.notMatch(df.stderr, /is gone/, 'no directory is said to be gone');
  t.match(df.stderr, new RegExp(`strata: warning: ${join(s.root, 'overlay2')}: permission denied .*driver directories not listed`), 'the driver directory is named');
});

t.test('a cache-id that cannot be read is named with its reason by diff and verify, never called missing', async (t) => {
  const top = t.testdir();
  const { root } = await buildDemoStore(join(top, 'demo'));
  const layers = JSON.parse(runCli(['--root', root, 'layers', '--json']).stdout) as Array<{ chainId: string }>;
  const chainId = layers[0].chainId;
  const cacheIdFile = join(root, 'image', 'vfs', 'layerdb', 'sha256', chainId.slice(7), 'cache-id');
  directoryInstead(cacheIdFile);
  const d = runCli(['--root', root, 'diff', chainId, '-o', join(top, 'out.tar')]);
  t.equal(d.status, 1);
  t.match(d.stderr, new RegExp(`^strata: error: ${cacheIdFile}: .*directory.* — cannot find the layer's files\\n`));
  t.notMatch(d.stderr, /: missing/);
  const v = JSON.parse(runCli(['--root', root, 'verify', '--json']).stdout) as Array<{ chainId: string; problem: string | null }>;
  const problem = v.find((r) => r.chainId === chainId)?.problem ?? '';
  t.match(problem, new RegExp(`^${cacheIdFile}: `));
  t.notMatch(problem, /: missing/);
});
