// df's audit (inspect/df-audit.ts, strata df --audit/--top): unique bytes per image, reclaimable bytes by
// prune's kinds, the largest images and layers in order, the unknown bucket with the files that blocked
// each decision; the progress callback of the data-root walk; docker's own views unchanged.
import { execFileSync, spawnSync } from 'node:child_process';
import { linkSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openDriver } from '../../drivers/index.js';
import { dfAudit, RECLAIM_KINDS, type AuditPlanInput } from '../../inspect/df-audit.js';
import { diskUsage } from '../../inspect/df.js';
import { planPrune } from '../../inspect/prune.js';
import { readStore } from '../../inspect/docker/read-store.js';
import { countEntryUsage, emptyUsage, measureTree, type EntryUsage } from '../../snapshots/measure.js';
import { measureEntries, measureTreeInBackground } from '../../snapshots/measure-parallel.js';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore, type SampleStore } from '../helpers/sample-store.js';

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));

async function reportOf(s: SampleStore) {
  const model = readStore({ root: s.root, driver: 'overlay2', layerFields: 'usage' });
  const warnings = [...model.warnings];
  const report = await diskUsage(model, openDriver('overlay2', s.root), warnings);
  return { model, report, warnings };
}

const noPlan: AuditPlanInput = { items: [], tooRecent: [], unknown: [], protected: [] };

t.test('unique bytes per image, the largest images and layers in order, --top', async (t) => {
  const s = buildSampleStore(t.testdir());
  const { model, report } = await reportOf(s);
  const a = dfAudit(report, model, noPlan, { top: 3 });
  const I = s.images;
  // Unique bytes: p2 70, app 30, x 9, p3 8, old 4, base 0, p1 0 (ties: the larger image first).
  t.same(a.images.map((i) => [i.id, i.uniqueSize]), [[I.p2, 70], [I.app, 30], [I.x, 9], [I.p3, 8], [I.old, 4], [I.p1, 0], [I.base, 0]]);
  t.same(a.topImages.map((i) => [i.tag, i.size, i.sharedSize, i.uniqueSize]), [['python:3-full', 5670, 5600, 70], ['python:3', 5600, 5600, 0], ['ruby:3', 5008, 5000, 8]], 'three largest, by size');
  t.equal(a.images.find((i) => i.id === I.old)!.tag, '<none>', 'an untagged image');
  const L = s.layers;
  t.same(a.topLayers.map((l) => [l.chainId, l.size, l.images, l.usedBy]), [[L.M1.chainId, 5000, 3, 'python:3-full'], [L.L1.chainId, 1000, 3, 'app:1'], [L.L5.chainId, 600, 2, 'python:3-full']]);
  t.equal(a.layerCount, 10);
  const all = dfAudit(report, model, noPlan, { top: 100 });
  t.equal(all.topImages.length, 7, 'never more than there are');
  t.same(all.topLayers.map((l) => l.size), [5000, 1000, 600, 200, 77, 70, 30, 9, 8, 4], 'every layer, largest first');
  t.same([all.topLayers[4].chainId, all.topLayers[4].images, all.topLayers[4].usedBy], [L.Z.chainId, 0, null], 'the leaked layer Z, used by no image');
  t.equal(dfAudit(report, model, noPlan).top, 10, 'ten by default');
  t.equal(dfAudit(report, model, null).reclaimable, null, 'no plan, no reclaimable figures');
});

t.test('reclaimable bytes by kind: every kind, zeros too; too recent apart', async (t) => {
  const s = buildSampleStore(t.testdir());
  const { model, report } = await reportOf(s);
  const plan: AuditPlanInput = {
    items: [
      { kind: 'orphan-directory', path: s.orphanDir, id: 'f'.repeat(64), bytes: 4150 },
      { kind: 'unused-layer', path: '/x/Z', id: s.layers.Z.chainId, bytes: 77 },
      { kind: 'dangling-image', path: '/x/old', id: s.images.old, bytes: 4 },
      { kind: 'container', path: '/x/c2', id: s.containers.c2, bytes: 100 },
      { kind: 'orphan-directory', path: '/x/o2', id: 'o2', bytes: 6 },
    ],
    tooRecent: [{ kind: 'write-set', bytes: 12 }],
    unknown: [],
    protected: [{ path: '/x/journal', reason: 'a resumable strata migration' }],
  };
  const a = dfAudit(report, model, plan);
  t.same(a.reclaimable!.byKind.map((k) => k.kind), [...RECLAIM_KINDS], 'every kind, in order');
  t.same(Object.fromEntries(a.reclaimable!.byKind.map((k) => [k.kind, [k.items, k.bytes]])), {
    'dangling-image': [1, 4],
    'unused-layer': [1, 77],
    'orphan-directory': [2, 4156],
    'write-set': [0, 0],
    'leftover-mount': [0, 0],
    container: [1, 100],
  });
  t.same([a.reclaimable!.items, a.reclaimable!.bytes], [5, 4337]);
  t.same(a.reclaimable!.tooRecent, { items: 1, bytes: 12 });
  t.same(a.protected, plan.protected);
});

t.test('the unknown bucket: df\'s and prune\'s, once each, with the files that blocked the decision', async (t) => {
  const s = buildSampleStore(t.testdir());
  const config = join(s.root, 'containers', s.containers.c2, 'config.v2.json');
  rmSync(config);
  mkdirSync(config); // unreadable as a file, for root too
  const { model, report } = await reportOf(s);
  t.ok(report.unknown.length > 0, 'df has an unknown bucket');
  const dir = report.unknown[0];
  const extraBlocker = { file: '/x/layerdb/tmp/write-set-1', reason: 'permission denied' };
  const plan: AuditPlanInput = {
    ...noPlan,
    unknown: [
      { kind: 'directory', path: dir.path, id: dir.id, bytes: dir.bytes, unreadable: [...dir.unreadable, extraBlocker] },
      { kind: 'write-set', path: '/x/layerdb/tmp/write-set-2', id: 'write-set-2', bytes: 33, unreadable: [extraBlocker] },
    ],
  };
  const a = dfAudit(report, model, plan);
  t.equal(a.unknown.length, report.unknown.length + 1, "prune's new entry added, the shared one once");
  t.same(a.unknown[0].unreadable.map((u) => u.file), [config, extraBlocker.file], "the blockers of both, each once; the container's config first");
  t.match(a.unknown[0].unreadable[0].reason, /directory/);
  t.equal(a.unknownBytes, report.unknown.reduce((n, u) => n + u.bytes, 0) + 33);

  const text = runCli(['--root', s.root, 'df', '--audit']);
  t.equal(text.status, 0, text.stderr);
  t.match(text.stdout, /\nUnknown \([^)]*\):\n\nPATH\s+KIND\s+SIZE\s+BLOCKED BY\n/, 'the bucket in the audit');
  t.match(text.stdout, new RegExp(`${dir.path}\\s+directory\\s+\\S+\\s+${config}: `), 'each entry with the file that blocked it');
});

t.test('strata df --audit / --top: the audit after df\'s view; df, -v and --format unchanged; --json keeps every field', async (t) => {
  const s = buildSampleStore(t.testdir());
  const plain = runCli(['--root', s.root, 'df']);
  t.equal(plain.status, 0);
  t.notMatch(plain.stdout, /Audit/, 'df alone prints no audit');
  const audit = runCli(['--root', s.root, 'df', '--audit']);
  t.equal(audit.status, 0, audit.stderr);
  const [before, after] = audit.stdout.split('\nAudit (');
  const strip = (x: string) => x.replace(/on disk: .*\n/, '');
  t.equal(strip(before), strip(plain.stdout), "df's own view first, unchanged");
  t.match(after, /\nReclaimable by kind:\n\nKIND\s+ITEMS\s+SIZE\s+WHAT\n/);
  for (const kind of RECLAIM_KINDS) t.match(after, new RegExp(`\\n${kind}\\s+\\d+\\s+\\S+`), `kind ${kind} listed`);
  t.match(after, /\nLargest images \(7 of 7; unique bytes of all images: 121B\):\n\nIMAGE\s+IMAGE ID\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS\npython:3-full\s+[0-9a-f]{12}\s+5\.67kB\s+5\.6kB\s+70B\s+0\n/);
  t.match(after, /\nLargest layers \(10 of 10\):\n/);

  const top = runCli(['--root', s.root, 'df', '--top', '2']);
  t.equal(top.status, 0, top.stderr);
  t.match(top.stdout, /\nLargest images \(2 of 7; [^\n]*\n\n[^\n]*\npython:3-full [^\n]*\npython:3 [^\n]*\n\n/, '--top implies --audit and cuts the lists');
  t.match(top.stdout, /\nLargest layers \(2 of 10\):\n\n[^\n]*\n[0-9a-f]{12}\s+5kB[^\n]*\n[0-9a-f]{12}\s+1kB[^\n]*\n/);
  for (const bad of ['0', '-1', 'x', '1.5']) {
    const r = runCli(['--root', s.root, 'df', '--top', bad]);
    t.equal(r.status, 2, `--top ${bad}: a usage error`);
    t.match(r.stderr, /^strata: error: invalid argument ".*" for "--top" flag/);
  }
  const format = runCli(['--root', s.root, 'df', '--audit', '--format', '{{.Type}}']);
  t.equal(format.status, 2, "--format is docker's output: no audit with it");

  const json = JSON.parse(runCli(['--root', s.root, 'df', '--json']).stdout);
  const withAudit = JSON.parse(runCli(['--root', s.root, 'df', '--json', '--audit']).stdout);
  t.notOk('audit' in json, 'df --json as it was');
  t.same(Object.keys(withAudit), [...Object.keys(json), 'audit'], 'every field kept, audit added');
  t.same({ ...withAudit, audit: undefined, dataRoot: undefined }, { ...json, audit: undefined, dataRoot: undefined });
  t.same(withAudit.audit.images.map((i: { uniqueSize: number }) => i.uniqueSize), [70, 30, 9, 8, 4, 0, 0]);
  t.same(Object.keys(withAudit.audit.reclaimable ?? {}).sort(), ['byKind', 'bytes', 'items', 'tooRecent']);
});

t.test('the data-root walk reports its progress, ending at its total; the bar shows on a terminal only', async (t) => {
  const dir = t.testdir();
  for (let i = 0; i < 30; i++) for (let j = 0; j < 20; j++) {
    mkdirSync(join(dir, `a${i}`, `b${j}`, 'c'), { recursive: true });
    writeFileSync(join(dir, `a${i}`, `b${j}`, 'c', 'f'), 'x'.repeat(i + j));
  }
  for (const threads of [1, 2]) {
    const calls: Array<[number, number]> = [];
    const m = measureTreeInBackground(dir, { threads, onProgress: (done, total) => calls.push([done, total]) });
    m.help();
    const usage = await m.result;
    t.same(usage, measureTree(dir), `${threads} thread(s): the same figures as one walk`);
    t.ok(calls.length > 0, 'progress reported');
    const total = calls[0][1];
    t.ok(total > 1, `the tree is cut into ${total} subtrees`);
    t.same(calls.at(-1), [total, total], 'ends at its total');
    t.ok(calls.every(([d, n], i) => n === total && d <= n && (i === 0 || d >= calls[i - 1][0])), 'never goes back, never past the total');
  }

  const s = buildSampleStore(join(dir, 'store'));
  const tty = spawnSync('script', ['-qec', `${process.execPath} --import=tsx ${CLI} --root ${s.root} df`, '/dev/null'], { encoding: 'utf8' });
  t.equal(tty.status, 0);
  t.match(tty.stdout, /\rdf: measuring \[[#-]{24}\]\s+\d+% \d+\/\d+ dir/, 'on a terminal: the bar, counting directories');
  const piped = runCli(['--root', s.root, 'df']);
  t.equal(piped.stderr, '', 'piped: nothing on stderr');
});

t.test("df --audit --json and --prometheus: reclaimable by kind is prune's own plan, item for item", async (t) => {
  const s = buildSampleStore(t.testdir());
  // Old enough for prune: nothing modified within --min-age (symbolic links too: touch -h).
  execFileSync('find', [s.root, '-exec', 'touch', '-h', '-d', '@1600000000', '{}', '+']);
  const model = readStore({ root: s.root, driver: 'overlay2', layerFields: 'usage' });
  const plan = await planPrune(model, openDriver('overlay2', s.root), { containers: true }, []);
  t.ok(plan.items.length >= 3, `prune plans ${plan.items.map((i) => i.kind).join(', ')}`);
  const expected = Object.fromEntries(RECLAIM_KINDS.map((k) => [k, plan.items.filter((i) => i.kind === k).reduce((n, i) => n + i.bytes, 0)]));
  t.ok(RECLAIM_KINDS.filter((k) => expected[k] > 0).length >= 4, 'dangling images, the leaked layer Z, the orphan, the stopped containers');
  const json = JSON.parse(runCli(['--root', s.root, 'df', '--audit', '--json']).stdout);
  t.same(Object.fromEntries(json.audit.reclaimable.byKind.map((k: { kind: string; bytes: number }) => [k.kind, k.bytes])), expected, '--json: bytes by kind as prune plans them');
  t.equal(json.audit.reclaimable.bytes, plan.bytes);
  const prom = runCli(['--root', s.root, 'df', '--prometheus']).stdout;
  for (const k of RECLAIM_KINDS) t.match(prom, new RegExp(`\\nstrata_reclaimable_bytes\\{kind="${k}"\\} ${expected[k]}\\n`), `--prometheus: ${k}`);
  const text = runCli(['--root', s.root, 'df', '--audit']).stdout;
  const containers = plan.items.filter((i) => i.kind === 'container');
  t.match(text, new RegExp(`\\ncontainer\\s+${containers.length}\\s+\\S+\\s+stopped containers`), 'text: the stopped containers');
  t.match(text, new RegExp(`\\ntotal\\s+${plan.items.length}\\s`), 'text: the total');
});

/** A tree for the walk's entries: hardlinks within an entry and across entries, symlinks, a file, a nested and a deep asked directory, a name that is not UTF-8. */
function entriesTree(dir: string, width: number): { asked: string[]; entries: string[] } {
  const homes = join(dir, 'home');
  const deep = join(dir, 'x', 'y', 'z', 'deep');
  for (let i = 0; i < width; i++) {
    const e = join(homes, `e${i}`);
    mkdirSync(join(e, 'diff', 'sub'), { recursive: true });
    writeFileSync(join(e, 'diff', 'sub', 'f'), 'x'.repeat(100 + i));
    writeFileSync(join(e, 'link'), `L${i}`);
    // A file hardlinked within the entry, and one shared with the entry before it.
    writeFileSync(join(e, 'diff', 'h'), 'h'.repeat(1000 + i));
    linkSync(join(e, 'diff', 'h'), join(e, 'diff', 'sub', 'h2'));
    if (i > 0) linkSync(join(homes, `e${i - 1}`, 'diff', 'h'), join(e, 'diff', 'shared'));
  }
  mkdirSync(join(homes, 'l'));
  for (let i = 0; i < width; i++) symlinkSync(`../e${i}/diff`, join(homes, 'l', `L${i}`));
  writeFileSync(join(homes, 'a-file'), 'f'.repeat(77));
  mkdirSync(join(homes, 'empty'));
  mkdirSync(Buffer.concat([Buffer.from(`${homes}/bad-`), Buffer.from([0xff]), Buffer.from('-name')]));
  writeFileSync(Buffer.concat([Buffer.from(`${homes}/bad-`), Buffer.from([0xff]), Buffer.from('-name/inside')]), 'i'.repeat(33));
  mkdirSync(join(deep, 'd1', 'in'), { recursive: true });
  writeFileSync(join(deep, 'd1', 'in', 'g'), 'g'.repeat(500));
  linkSync(join(homes, 'e0', 'diff', 'h'), join(deep, 'd1', 'in', 'from-e0'));
  writeFileSync(join(deep, 'f1'), 'q');
  const asked = [homes, join(homes, 'l'), deep, join(dir, 'missing')];
  const entries = [homes, join(homes, 'l'), deep].flatMap((d) => readdirSync(d).map((n) => join(d, n)));
  return { asked, entries };
}

const counted = (e: EntryUsage | undefined, seen = new Set<number>()) => {
  const u = emptyUsage();
  if (e) countEntryUsage(u, e, seen);
  return u;
};

t.test('the data-root walk measures asked entries apart: each the figures measureTree gives it, alone or in turn', async (t) => {
  const saved = process.env.STRATA_NATIVE;
  t.teardown(() => (saved === undefined ? delete process.env.STRATA_NATIVE : (process.env.STRATA_NATIVE = saved)));
  for (const width of [3, 60]) {
    const dir = join(t.testdir(), `w${width}`);
    const { asked, entries } = entriesTree(dir, width);
    for (const [way, env] of [['native', undefined], ['worker threads', '0']] as const) {
      if (env === undefined) delete process.env.STRATA_NATIVE;
      else process.env.STRATA_NATIVE = env;
      for (const threads of [1, 2]) {
        const what = `${entries.length} entries, ${way}, ${threads} thread(s)`;
        const m = measureTreeInBackground(dir, { threads, entriesOf: asked });
        const total = await m.result;
        const walked = await m.entries;
        t.same(total, measureTree(dir), `${what}: the total as before`);
        const utf8 = entries.filter((e) => !e.includes('\ufffd'));
        t.ok(utf8.every((e) => walked.get(e)), `${what}: every entry with a UTF-8 name measured`);
        t.equal(utf8.length, entries.length - 1, 'one name is not UTF-8');
        t.equal(walked.size, utf8.length, 'nothing else is measured apart (the not-UTF-8 one is counted in the total only)');
        for (const e of utf8) t.same(counted(walked.get(e)), measureTree(e), `${what}: ${e.slice(dir.length)} alone`);
        // In turn against one set of seen inodes, as prune counts its items: a shared hardlink counts once, in the first.
        const seenA = new Set<number>();
        const seenB = new Set<number>();
        t.same(utf8.map((e) => counted(walked.get(e), seenA).apparentBytes), utf8.map((e) => measureTree(e, { seenInodes: seenB }).apparentBytes), `${what}: in turn`);
        t.equal(walked.get(join(dir, 'home', '..', 'home', 'e1')), walked.get(join(dir, 'home', 'e1')), 'a path is looked up normalized');
        // The expansion lists asked directories in one native call where it can: mtimes as Node's lstat gives them.
        t.same(utf8.map((e) => walked.ownMtime(e)), utf8.map((e) => lstatSync(e).mtimeMs), `${what}: each entry's own mtime as lstat's mtimeMs`);
        t.equal(walked.get(dir), undefined, 'the root is no entry');
        t.equal(walked.get(join(dir, 'x')), undefined, 'nor is what was not asked about');
      }
      const direct = await measureEntries([...entries, join(dir, 'gone')], { threads: 2 });
      t.same(entries.map((e) => counted(direct.get(e) as EntryUsage)), entries.map((e) => measureTree(e)), `measureEntries, ${way}: each as measureTree`);
      t.equal(direct.get(join(dir, 'gone')), null, 'a missing path is null');
    }
  }
});
