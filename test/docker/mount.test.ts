// strata mount against a real dockerd: an image mounted by strata shows exactly the files `docker export`
// shows of a container made from it (less the container's init layer), and a container mounted by
// strata shows exactly its export. Writable mounts are refused while the daemon runs. overlay2 and vfs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startDockerd, type StorageDriverName } from '../helpers/dockerd.js';
import { runCli } from '../helpers/run-cli.js';
import { buildScenario } from '../helpers/scenario.js';
import { listMounted as mounted, listTar as exported, sortedEntries as sorted } from '../helpers/tree-listing.js';

for (const driver of ['overlay2', 'vfs'] as StorageDriverName[]) {
  t.test(`strata mount shows what docker export shows (${driver})`, async (t) => {
    const d = await startDockerd({ driver });
    t.teardown(() => d.remove());
    const s = await buildScenario(d);
    const work = mkdtempSync(join(tmpdir(), 'strata-mount-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const exportFile = join(work, 'export.tar');
    await d.docker(['export', '-o', exportFile, s.containers['c-created']]);
    const fromDocker = await exported(exportFile);

    const ctrDir = mkdtempSync(join(tmpdir(), 'strata-mnt-'));
    const m1 = runCli(['mount', 'c-created', ctrDir, '--root', d.root]);
    t.equal(m1.status, 0, m1.stderr);
    const ctrView = mounted(ctrDir);
    t.equal(runCli(['umount', ctrDir]).status, 0);
    t.same(sorted(ctrView), sorted(fromDocker), 'container mount = docker export of the container');

    const imgDir = mkdtempSync(join(tmpdir(), 'strata-mnt-'));
    const m2 = runCli(['mount', 'app:1', imgDir, '--root', d.root]);
    t.equal(m2.status, 0, m2.stderr);
    const imgView = mounted(imgDir);
    t.throws(() => writeFileSync(join(imgDir, 'x'), 'x'), /EROFS|read-only/i, 'an image is mounted read-only');
    t.equal(runCli(['umount', imgDir]).status, 0);
    // The init layer only adds placeholders (/.dockerenv, /etc/hosts, /dev/…): remove what only it has.
    const initOnly = [...fromDocker.keys()].filter((p) => !imgView.has(p));
    t.ok(initOnly.every((p) => /^(\.dockerenv|dev(\/.*)?|proc|sys|etc\/(hosts|hostname|resolv\.conf|mtab))$/.test(p)), `only init-layer paths differ: ${initOnly.join(' ')}`);
    const shared = new Map([...fromDocker].filter(([p]) => imgView.has(p)));
    const imgShared = new Map([...imgView].filter(([p]) => shared.has(p) && !/^(dev|proc|sys|etc)$/.test(p)));
    t.same(sorted(imgShared), sorted(new Map([...shared].filter(([p]) => !/^(dev|proc|sys|etc)$/.test(p)))), 'image mount = the export, without the init layer');
    t.ok(imgView.size > 50, `${imgView.size} paths in the image`);

    const rw = runCli(['mount', 'c-exited', ctrDir, '--rw', '--root', d.root]);
    t.equal(rw.status, 1, 'writable mount refused while the daemon runs');
    t.match(rw.stderr, /is running on .*refusing a writable mount/);

    await d.stop();
    const rw2 = runCli(['mount', 'c-exited', ctrDir, '--rw', '--root', d.root]);
    t.equal(rw2.status, 0, rw2.stderr);
    writeFileSync(join(ctrDir, 'written-by-strata.txt'), 'hello');
    t.equal(runCli(['umount', ctrDir]).status, 0);
    t.match(runCli(['changes', 'c-exited', '--root', d.root]).stdout, /^A \/written-by-strata\.txt$/m, 'the write landed in the container layer');
    rmSync(ctrDir, { recursive: true, force: true });
    rmSync(imgDir, { recursive: true, force: true });
  });
}
