// strata prune against leftovers a real dockerd 20.10 made (issue #14, "Leftovers made for real"), on one
// overlay2 store:
// - dockerd killed (SIGKILL) in the middle of a large `docker import`: a partial overlay2 directory that no
//   layerdb entry names, and a layerdb/tmp/write-set-*; a restarted dockerd keeps both;
// - a container whose containers/<id> was deleted by hand: its layerdb/mounts/<id> with its rw and -init
//   directories stay;
// - beside them a stopped container whose config.v2.json cannot be read, a normal stopped container and a
//   running one, which must all survive.
// prune --dry-run lists exactly the leftovers and nothing dockerd's GraphDriver data names; the default
// --min-age calls them too recent; --apply is refused while dockerd runs; with dockerd stopped it removes
// exactly them, and a dockerd started on the result lists the same images and containers, runs, diffs,
// saves and removes images as before, and strata verify passes. Also strata rmi --dry-run of a reference
// that matches nothing gives docker's own error on the same daemon.
// Run: npm run -s build && STRATA_TEST_CLI=dist npx tap test/docker/prune.test.ts (about 20 s here).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, chmodSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCKER_CLIENT, mountsUnder, startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { idsDockerdUses, isAtOrUnder, killDockerdDuringImport, listPaths, type PathEntry } from '../helpers/leftovers.js';
import { BUSYBOX } from '../helpers/scenario.js';

const DIST = fileURLToPath(new URL('../../dist/strata.js', import.meta.url));
const SOURCE = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
// The docker suite runs the bundle (STRATA_TEST_CLI=dist, built by `npm run -s build`); otherwise the source.
const CLI_ARGS = process.env.STRATA_TEST_CLI === 'dist' ? [DIST] : ['--import=tsx', SOURCE];

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

interface PruneItem {
  kind: string;
  path: string;
  id: string;
  bytes: number;
  reason: string;
  paths: string[];
}

interface PrunePlan {
  items: PruneItem[];
  bytes: number;
  unknown?: Array<{ kind: string; path: string; id: string; bytes: number; unreadable: Array<{ file: string; reason: string }> }>;
  tooRecent?: PruneItem[];
  protected?: Array<{ path: string; reason: string }>;
}

const APPLETS = ['sh', 'echo', 'cat', 'ls', 'rm', 'sleep', 'true', 'mkdir', 'touch'];

/** A busybox root as a tar on disk (no network anywhere). */
function rootfsTar(work: string, name: string, extra: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'dev', 'proc', 'sys']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\n');
  for (const [rel, content] of Object.entries(extra)) writeFileSync(join(dir, rel), content);
  const tar = join(work, `${name}.tar`);
  const r = spawnSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', dir, '-cf', tar, '.']);
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  return tar;
}

const lines = (s: string) => s.split('\n').filter(Boolean);
const sortedUnique = (a: Iterable<string>) => [...new Set(a)].sort();

t.test('prune of leftovers a real dockerd made (overlay2)', async (t) => {
  const t0 = Date.now();
  const work = mkdtempSync('/tmp/leftovers-work-');
  const root = mkdtempSync('/tmp/leftovers-root-');
  const clientConfig = join(work, 'docker-config');
  mkdirSync(clientConfig);
  writeFileSync(join(clientConfig, 'config.json'), '{}\n');
  const daemons: Dockerd[] = [];
  t.teardown(async () => {
    for (const d of daemons) await d.stop();
    for (const d of daemons) await d.remove();
    if ((await mountsUnder([root, work])).length === 0) {
      rmSync(root, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  });
  const start = async () => {
    const d = await startDockerd({ driver: 'overlay2', root });
    daemons.push(d);
    return d;
  };
  const strata = (args: string[]): Run => {
    const r = spawnSync(process.execPath, [...CLI_ARGS, ...args, '--root', root], { encoding: 'utf8', maxBuffer: 64 << 20 });
    return { stdout: r.stdout, stderr: r.stderr, code: r.status };
  };
  const dryRun = (minAge?: string): PrunePlan => {
    const r = strata(['prune', '--dry-run', '--json', ...(minAge ? ['--min-age', minAge] : [])]);
    if (r.code !== 0) throw new Error(`strata prune --dry-run --json${minAge ? ` --min-age ${minAge}` : ''} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as PrunePlan;
  };
  const home = join(root, 'overlay2');
  const layerdb = join(root, 'image', 'overlay2', 'layerdb');
  /** The cache ids every layerdb entry names. */
  const cacheIds = () => new Set(readdirSync(join(layerdb, 'sha256')).map((c) => readFileSync(join(layerdb, 'sha256', c, 'cache-id'), 'utf8').trim()));
  /** overlay2/<id> and its short link l/<name>, as the driver keeps a layer. */
  const dirPaths = (id: string) => [join(home, id), join(home, 'l', readFileSync(join(home, id, 'link'), 'utf8').trim())];
  const ps = async (d: Dockerd) => lines(await d.docker(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}} {{.Image}} {{.Command}}'])).sort();
  const imagesList = async (d: Dockerd) => lines(await d.docker(['images', '-a', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'])).sort();

  // --- 1. the store: two imported images, one built on them, containers -----------------------------------
  let d = await start();
  const baseId = (await d.docker(['import', rootfsTar(work, 'base', {}), 'base:1'])).trim();
  const soloId = (await d.docker(['import', rootfsTar(work, 'solo', { 'solo.txt': 'only in solo\n' }), 'solo:1'])).trim();
  mkdirSync(join(work, 'ctx'));
  writeFileSync(join(work, 'ctx', 'Dockerfile'), 'FROM base:1\nRUN echo app > /app.txt\nLABEL org.example.app=1\n');
  await d.docker(['build', '--network', 'none', '-t', 'app:1', join(work, 'ctx')], { env: { DOCKER_BUILDKIT: '0' } });
  const appId = (await d.docker(['image', 'inspect', '--format', '{{.Id}}', 'app:1'])).trim();
  const net = ['--network', 'none', '--pull', 'never'];
  await d.docker(['run', ...net, '--name', 'c-stopped', 'app:1', 'sh', '-c', 'echo s > /stopped.txt']);
  await d.docker(['run', ...net, '--name', 'c-gone', 'base:1', 'sh', '-c', 'echo gone > /gone.txt']);
  await d.docker(['run', ...net, '--name', 'c-unreadable', 'base:1', 'sh', '-c', 'echo u > /u.txt && rm /etc/group && mkdir /new-dir']);
  const id = async (name: string) => (await d.docker(['inspect', '--format', '{{.Id}}', name])).trim();
  const goneId = await id('c-gone');
  const unreadableId = await id('c-unreadable');
  const stoppedId = await id('c-stopped');
  // dockerd's naive diff walks a map: the order of its lines varies from one call to the next.
  const unreadableDiff = lines(await d.docker(['diff', 'c-unreadable'])).sort();
  t.same(unreadableDiff, ['A /new-dir', 'A /u.txt', 'C /etc', 'D /etc/group'], 'docker diff of c-unreadable before its config is corrupted');
  const unreadablePs = (await ps(d)).find((l) => l.startsWith(unreadableId));
  t.ok(unreadablePs, 'c-unreadable is listed by docker ps -a');
  // A reference that matches nothing: docker's own answer on this daemon, and strata's on its store.
  const rmiNoSuch = (daemon: Dockerd) => ({
    docker: spawnSync(DOCKER_CLIENT, ['-H', `unix://${daemon.sock}`, 'rmi', 'nosuch:tag'], { encoding: 'utf8', env: { ...process.env, DOCKER_CONFIG: clientConfig } }),
    strata: strata(['rmi', '--dry-run', 'nosuch:tag']),
  });
  const noSuch = rmiNoSuch(d);
  t.equal(noSuch.docker.stderr, 'Error: No such image: nosuch:tag\n', 'docker rmi nosuch:tag (20.10 client) says Error: No such image');
  t.equal(noSuch.strata.stderr, noSuch.docker.stderr, 'strata rmi --dry-run nosuch:tag: the same stderr as docker rmi');
  t.equal(noSuch.strata.stdout, noSuch.docker.stdout, 'the same (empty) stdout');
  t.equal(noSuch.strata.code, noSuch.docker.status, `the same exit code (${noSuch.docker.status})`);
  const mountRecord = (cid: string) => {
    const dir = join(layerdb, 'mounts', cid);
    const mountId = readFileSync(join(dir, 'mount-id'), 'utf8').trim();
    const initId = readFileSync(join(dir, 'init-id'), 'utf8').trim();
    return { dir, mountId, initId };
  };
  const gone = mountRecord(goneId);
  const unreadable = mountRecord(unreadableId);
  t.equal(gone.initId, `${gone.mountId}-init`, "c-gone's init layer is <mount-id>-init");

  // --- 2. dockerd killed in the middle of a large docker import --------------------------------------------
  const tKill = Date.now();
  const killed = await killDockerdDuringImport(d, {
    ref: 'big:1',
    fileName: 'big.bin',
    declaredBytes: 300 << 20,
    killAfterBytes: 24 << 20,
    dockerConfigDir: clientConfig,
  });
  await d.stop(); // what a SIGKILLed dockerd leaves running (containerd) is stopped, its mounts unmounted
  t.comment(`dockerd killed after ${killed.bytesFed} bytes fed, ${killed.bytesWritten} in the partial layer (${Date.now() - tKill} ms)`);
  t.ok(killed.bytesWritten > 24 << 20 && killed.bytesWritten < 300 << 20, `the partial layer holds part of the file (${killed.bytesWritten} bytes)`);
  const partial = killed.cacheId;
  t.notOk(cacheIds().has(partial), 'no layerdb entry names the partial directory');
  const writeSets = () => readdirSync(join(layerdb, 'tmp')).filter((n) => n.startsWith('write-set-'));
  t.equal(writeSets().length, 1, 'the killed import left one layerdb/tmp/write-set-*');
  const writeSet = join(layerdb, 'tmp', writeSets()[0]);
  const partialPaths = dirPaths(partial);
  t.ok(existsSync(partialPaths[1]), "the partial directory's short link exists");

  // --- 3. a container directory deleted by hand, a config.v2.json that cannot be read (dockerd stopped) -----
  rmSync(join(root, 'containers', goneId), { recursive: true });
  const config = join(root, 'containers', unreadableId, 'config.v2.json');
  const savedConfig = join(work, 'config.v2.json.saved');
  copyFileSync(config, savedConfig);
  writeFileSync(config, '{"this is not": a container config\n');
  for (const p of [gone.dir, join(home, gone.mountId), join(home, gone.initId)]) t.ok(existsSync(p), `c-gone leaves ${p.slice(root.length + 1)}`);
  const goneLeftovers = [gone.dir, ...dirPaths(gone.mountId), ...dirPaths(gone.initId)];

  // --- 4. dockerd restarted keeps them; a running container beside them ----------------------------------
  d = await start();
  t.ok(existsSync(join(home, partial)) && existsSync(writeSet), 'a restarted dockerd keeps the partial directory and the write-set');
  t.ok(existsSync(gone.dir), 'a restarted dockerd keeps the mount record of the deleted container');
  const runningId = (await d.docker(['run', '-d', ...net, '--stop-timeout', '1', '--name', 'c-running', 'base:1', 'sleep', '100000'])).trim();
  const running = mountRecord(runningId);
  const psBefore = await ps(d);
  const imagesBefore = await imagesList(d);
  t.same(
    psBefore.map((l) => l.split(' ')[1]).sort(),
    ['c-running', 'c-stopped'],
    'dockerd lists c-stopped and c-running (not c-gone, nor c-unreadable whose config it cannot read)',
  );
  t.ok(imagesBefore.some((l) => l.startsWith('base:1 ')) && imagesBefore.some((l) => l.startsWith('app:1 ')) && imagesBefore.some((l) => l.startsWith('solo:1 ')), 'base:1, app:1, solo:1 listed');
  t.notOk(imagesBefore.some((l) => l.startsWith('big:')), 'the killed import made no image');
  const used = await idsDockerdUses(d);
  t.ok(used.ids.has(running.mountId) && used.ids.has(running.initId), "GraphDriver data names the running container's rw and init layers");
  t.ok(used.ids.size >= 7, `GraphDriver data names ${used.ids.size} overlay2 directories`);
  const usedPaths = [...used.ids].flatMap(dirPaths);
  const unreadablePaths = [unreadable.dir, ...dirPaths(unreadable.mountId), ...dirPaths(unreadable.initId), join(root, 'containers', unreadableId)];

  // --- 5. prune --dry-run ------------------------------------------------------------------------------------
  const snapshot0 = listPaths(root);
  const plan = dryRun('0s');
  const items = plan.items ?? [];
  t.comment(`dry-run items: ${JSON.stringify(items.map((i) => [i.kind, i.path.slice(root.length + 1), i.bytes]))}`);
  const byPath = new Map(items.map((i) => [i.path, i]));
  const expected: Array<{ kind: string; path: string; id: string; paths: string[] }> = [
    { kind: 'orphan-directory', path: join(home, partial), id: partial, paths: partialPaths },
    { kind: 'write-set', path: writeSet, id: writeSets()[0], paths: [writeSet] },
    { kind: 'leftover-mount', path: gone.dir, id: goneId, paths: goneLeftovers },
  ];
  t.same(sortedUnique(items.map((i) => i.path)), sortedUnique(expected.map((e) => e.path)), 'dry-run lists exactly the three leftovers');
  for (const e of expected) {
    const item = byPath.get(e.path);
    t.equal(item?.kind, e.kind, `${e.path.slice(root.length + 1)} is a ${e.kind}`);
    t.equal(item?.id, e.id, `${e.kind} id`);
    t.same(sortedUnique(item?.paths ?? []), sortedUnique(e.paths), `${e.kind} removes exactly ${e.paths.map((p) => p.slice(root.length + 1)).join(', ')}`);
    t.equal(typeof item?.reason, 'string', `${e.kind} has a reason`);
    t.ok((item?.reason ?? '').length > 0, `${e.kind} reason is not empty`);
  }
  t.ok((byPath.get(join(home, partial))?.bytes ?? 0) >= killed.bytesWritten, `the partial directory's bytes (${byPath.get(join(home, partial))?.bytes}) count its partial file (${killed.bytesWritten})`);
  t.ok((byPath.get(gone.dir)?.bytes ?? 0) > 0, 'the leftover mount counts bytes');
  t.equal(plan.bytes, items.reduce((n, i) => n + i.bytes, 0), 'bytes is the sum of the items');
  const allItemPaths = items.flatMap((i) => [i.path, ...(i.paths ?? [])]);
  const hitsUsed = allItemPaths.filter((p) => usedPaths.some((u) => isAtOrUnder(p, u) || isAtOrUnder(u, p)));
  t.same(hitsUsed, [], 'no item path is (or holds) a directory dockerd reports in GraphDriver data');
  const hitsUnreadable = allItemPaths.filter((p) => unreadablePaths.some((u) => isAtOrUnder(p, u) || isAtOrUnder(u, p)));
  t.same(hitsUnreadable, [], "no item touches the unreadable container's record or directories");
  const unknownIds = (plan.unknown ?? []).map((u) => u.id);
  t.same(sortedUnique(unknownIds), sortedUnique([unreadable.mountId, unreadable.initId]), "unknown lists the unreadable container's rw and init directories, and nothing else");
  t.same(plan.protected, [], 'nothing protected (no strata migration)');
  for (const u of (plan.unknown ?? []).filter((u) => u.id === unreadable.mountId || u.id === unreadable.initId)) {
    t.ok(u.unreadable.some((b) => b.file === config), `unknown ${u.id.slice(0, 12)} names ${config.slice(root.length + 1)} as what blocked the decision`);
  }
  const text = strata(['prune', '--min-age', '0s']);
  t.equal(text.code, 0, 'prune (text, a dry-run by default) exits 0');
  for (const e of expected) t.ok(text.stdout.includes(e.path), `the text lists ${e.path.slice(root.length + 1)}`);
  t.ok(text.stdout.includes(unreadable.mountId.slice(0, 12)), "the text names the unreadable container's directory under unknown");
  t.same(listPaths(root), snapshot0, 'dry-run changes nothing');

  // The default --min-age (10 minutes): the fresh leftovers are too recent, not items.
  const recent = dryRun();
  t.same(recent.items ?? [], [], 'with the default --min-age nothing is an item');
  t.same(sortedUnique((recent.tooRecent ?? []).map((i) => i.path)), sortedUnique(expected.map((e) => e.path)), 'with the default --min-age the three leftovers are listed as too recent');

  // --- 6. bad input on the same daemon: a reference that matches nothing (here with an unreadable config,
  // which strata warns about on stderr beside docker's error) ------------------------------------------
  const again = rmiNoSuch(d);
  t.equal(again.strata.stderr.split('\n').filter((l) => l && !l.startsWith('strata: warning: ')).join('\n') + '\n', again.docker.stderr, 'strata rmi --dry-run nosuch:tag beside an unreadable config: docker\'s error, then warnings only');
  t.ok(again.strata.stderr.includes(`strata: warning: ${config}: `), 'and a warning names the unreadable config');
  t.equal(again.strata.code, again.docker.status, 'and the same exit code');

  // --- 7. --apply is refused while dockerd runs ------------------------------------------------------------
  const refused = strata(['prune', '--apply', '--yes', '--min-age', '0s']);
  t.not(refused.code, 0, 'prune --apply exits non-zero while dockerd runs');
  t.equal(lines(refused.stderr).length, 1, `one line on stderr: ${refused.stderr.trim()}`);
  t.match(refused.stderr, /dockerd/, 'the refusal names dockerd');
  t.same(listPaths(root), snapshot0, 'the refused apply changes nothing');

  // --- 8. apply with dockerd stopped removes exactly the leftovers ------------------------------------------
  await d.stop();
  const before = listPaths(root);
  const unconfirmed = strata(['prune', '--apply', '--min-age', '0s']);
  t.not(unconfirmed.code, 0, 'prune --apply without --yes and without a terminal is refused');
  t.match(unconfirmed.stderr, /--yes/, `and says to add --yes (${unconfirmed.stderr.trim()})`);
  t.same(listPaths(root), before, 'the unconfirmed apply changes nothing');
  // On a terminal it asks; answered N, it removes nothing (and, as docker system prune, that is no error).
  const cmd = [process.execPath, ...CLI_ARGS, 'prune', '--apply', '--min-age', '0s', '--root', root].map((a) => `'${a}'`).join(' ');
  const declined = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', input: 'n\n' });
  t.match(declined.stdout, /Are you sure you want to continue\? \[y\/N\]/, 'on a terminal apply asks first');
  t.ok(expected.every((e) => declined.stdout.includes(e.path)), 'after listing the leftovers');
  t.equal(declined.status, 0, `answered N it exits 0 (${declined.stdout.trim().split('\n').at(-1)})`);
  t.same(listPaths(root), before, 'answered N it changes nothing');
  const removed = expected.flatMap((e) => e.paths);
  const tApply = Date.now();
  const applied = strata(['prune', '--apply', '--yes', '--min-age', '0s']);
  t.comment(`apply: ${Date.now() - tApply} ms\n${applied.stdout}${applied.stderr}`);
  t.equal(applied.code, 0, `prune --apply exits 0 (${applied.stderr.trim()})`);
  for (const e of expected) t.ok(applied.stdout.includes(`${e.kind} ${e.id}\n`), `apply names ${e.kind} ${e.id.slice(0, 20)}`);
  t.match(applied.stdout, /Total reclaimed space: \d+(\.\d+)?MB\n$/, 'apply prints what it freed, in docker system prune\'s words');
  for (const p of removed) t.notOk(existsSync(p), `gone: ${p.slice(root.length + 1)}`);
  const keep = (e: PathEntry) => !removed.some((r) => isAtOrUnder(e.path, r));
  const after = listPaths(root);
  t.same(after, before.filter(keep), 'everything else is there, the same paths with the same types, sizes and modes');
  t.ok(before.length - after.length >= removed.length, `${before.length - after.length} paths went`);
  t.same(dryRun('0s').items, [], 'a dry-run after apply finds nothing left');

  // --- 9. dockerd on the result ----------------------------------------------------------------------------
  copyFileSync(savedConfig, config); // c-unreadable's config restored, dockerd stopped
  d = await start();
  t.same(await imagesList(d), imagesBefore, 'docker images -a lists the same images');
  t.same(await ps(d), [...psBefore, unreadablePs!].sort(), 'docker ps -a lists the same containers, and c-unreadable again');
  const usedAfter = await idsDockerdUses(d);
  t.same([...usedAfter.ids].sort(), sortedUnique([...used.ids, unreadable.mountId, unreadable.initId]), "GraphDriver data names the same directories as before apply, and c-unreadable's again");
  t.same(usedAfter.ids.size > 0 && [...usedAfter.ids].filter((i) => !existsSync(join(home, i, 'diff'))), [], 'every directory dockerd names is there');
  t.equal((await d.docker(['run', '--rm', ...net, 'app:1', 'cat', '/app.txt'])).trim(), 'app', 'docker run --rm app:1 works');
  t.same(lines(await d.docker(['diff', 'c-unreadable'])).sort(), unreadableDiff, 'docker diff c-unreadable is unchanged');
  t.equal(await d.docker(['diff', 'c-stopped']), 'A /stopped.txt\n', 'docker diff c-stopped');
  await d.docker(['start', 'c-running']);
  t.equal((await d.docker(['inspect', '--format', '{{.State.Running}}', 'c-running'])).trim(), 'true', 'c-running starts again');
  const save = spawnSync('bash', ['-o', 'pipefail', '-c', `${DOCKER_CLIENT} -H unix://${d.sock} save app:1 | wc -c`], { encoding: 'utf8', env: { ...process.env, DOCKER_CONFIG: clientConfig } });
  t.equal(save.status, 0, `docker save app:1 | wc -c (${save.stderr.trim()})`);
  t.ok(Number(save.stdout.trim()) > 1 << 20, `docker save app:1 writes the image (${save.stdout.trim()} bytes)`);
  const soloCache = readFileSync(join(layerdb, 'sha256', (await d.docker(['image', 'inspect', '--format', '{{index .RootFS.Layers 0}}', 'solo:1'])).trim().slice(7), 'cache-id'), 'utf8').trim();
  const predicted = strata(['rmi', '--dry-run', 'solo:1']);
  const rmi = await d.docker(['rmi', 'solo:1']);
  t.match(rmi, new RegExp(`^Untagged: solo:1\\nDeleted: ${soloId}\\nDeleted: sha256:[0-9a-f]{64}\\n$`), 'docker rmi solo:1 untags and deletes the image and its layer');
  t.equal(predicted.stdout, rmi, 'strata rmi --dry-run solo:1 predicted those lines');
  t.notOk(existsSync(join(home, soloCache)), "solo:1's layer directory is gone");
  t.equal((await d.docker(['images', '-q', 'solo:1'])).trim(), '', 'solo:1 is no longer listed');
  t.ok(appId && baseId && stoppedId, 'ids recorded');
  await d.stop();

  // --- 10. strata verify, and nothing dockerd made afterwards looks like a leftover --------------------------
  const verify = strata(['verify']);
  t.equal(verify.code, 0, `strata verify passes (${verify.stderr.trim()})`);
  t.match(verify.stdout, / 0 failed/, 'no layer failed');
  t.same(dryRun('0s').items, [], 'after dockerd ran on the result, a dry-run finds nothing');
  t.same(await mountsUnder([root]), [], 'nothing mounted under the root');
  t.comment(`total ${Date.now() - t0} ms`);
});
