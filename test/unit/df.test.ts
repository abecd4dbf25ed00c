import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDriver } from '../../drivers/index.js';
import { diskUsage } from '../../inspect/df.js';
import { readStore } from '../../inspect/docker/read-store.js';
import type { Warning } from '../../inspect/warnings.js';
import { buildSampleStore } from '../helpers/sample-store.js';

for (const driver of ['overlay2', 'vfs'] as const) {
  t.test(`${driver}: docker system df numbers`, async (t) => {
    const s = buildSampleStore(t.testdir(), driver);
    const model = readStore({ root: s.root, driver });
    const warnings: Warning[] = [];
    const r = await diskUsage(model, openDriver(driver, s.root), warnings);
    t.same(warnings, []);
    // Layers of the listed images: 1000+200+30+4 + 5000+600+70+8 + 9; the leaked layer Z (77) is not counted.
    t.equal(r.layersSize, 6921);
    const byId = new Map(r.images.map((i) => [i.id, i]));
    const I = s.images;
    t.same(
      [I.base, I.app, I.old, I.p1, I.p2, I.p3, I.x].map((id) => [byId.get(id)!.size, byId.get(id)!.sharedSize, byId.get(id)!.uniqueSize]),
      [
        [1000, 1000, 0],
        [1230, 1200, 30],
        [1204, 1200, 4],
        [5600, 5600, 0],
        [5670, 5600, 70],
        [5008, 5000, 8],
        [9, 0, 9],
      ],
    );
    t.notOk(byId.has(I.i1), 'intermediates are not listed');
    const ctr = new Map(r.containers.map((c) => [c.name, c]));
    t.same([ctr.get('web')!.sizeRw, ctr.get('web')!.sizeRootFs, ctr.get('web')!.state], [10, 1240, 'running']);
    t.same([ctr.get('old-job')!.sizeRw, ctr.get('old-job')!.sizeRootFs, ctr.get('old-job')!.state], [100, 1304, 'exited']);
    t.same([ctr.get('idle')!.sizeRw, ctr.get('idle')!.sizeRootFs, ctr.get('idle')!.state], [0, 1000, 'created']);
    t.equal(ctr.get('web')!.image, 'app:1', 'the reference still names the same image');
    t.equal(ctr.get('old-job')!.image, I.old, 'app:1 now names another image, so docker shows the id');
    t.equal(ctr.get('idle')!.image, 'base');
    t.same(r.orphans.map((o) => o.path), [s.orphanDir]);
    t.ok(r.orphans[0].bytes >= 50, 'the orphan is measured');
    t.same(r.leakedLayers, [{ chainId: s.layers.Z.chainId, size: 77 }]);
    const du = Number(execFileSync('du', ['-sb', s.root]).toString().split('\t')[0]);
    t.equal(r.dataRoot.apparentBytes, du, 'on-disk total equals du -sb');
  });
}

t.test('overlay2 container size counts a hardlinked file once and skips whiteouts', async (t) => {
  const s = buildSampleStore(t.testdir(), 'overlay2');
  const model = readStore({ root: s.root, driver: 'overlay2' });
  const web = model.containers.find((c) => c.name === 'web')!;
  const diff = join(s.root, 'overlay2', web.mountId!, 'diff');
  linkSync(join(diff, 'tmp/a'), join(diff, 'tmp/a-link'));
  execFileSync('mknod', [join(diff, 'tmp/deleted'), 'c', '0', '0']);
  const r = await diskUsage(model, openDriver('overlay2', s.root), []);
  t.equal(r.containers.find((c) => c.name === 'web')!.sizeRw, 10);
  const du = Number(execFileSync('du', ['-sb', s.root]).toString().split('\t')[0]);
  t.equal(r.dataRoot.apparentBytes, du, 'hardlinks counted once, like du');
});

t.test('vfs container size is the naive diff against the init layer', async (t) => {
  const s = buildSampleStore(t.testdir(), 'vfs');
  const model = readStore({ root: s.root, driver: 'vfs' });
  const web = model.containers.find((c) => c.name === 'web')!;
  const dir = join(s.root, 'vfs', 'dir', web.mountId!);
  writeFileSync(join(dir, 'etc/app.conf'), 'y'.repeat(200)); // same size, new mtime: changed
  unlinkSync(join(dir, 'bin/sh')); // deleted: not counted
  const same = join(dir, 'usr-untouched');
  mkdirSync(same);
  utimesSync(join(dir, 'tmp/a'), 1_700_000_000, 1_700_000_000);
  const r = await diskUsage(model, openDriver('vfs', s.root), []);
  t.equal(r.containers.find((c) => c.name === 'web')!.sizeRw, 10 + 200);
});
