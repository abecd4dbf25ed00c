// strata export on synthetic stores: the merged root filesystem of a container's layers (image layers,
// -init layer, read-write layer) in filepath.Walk order, the root left out, with overlay whiteouts and
// opaque directories applied, hardlinks as links to their first name, and contents read from the layer
// that provides each file. (The real-dockerd check, test/docker/habits/export.ts, compares with docker export.)
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, linkSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { containerExport, resolveExportContainer } from '../../inspect/container-export.js';
import { writeToFd } from '../../inspect/layer-export.js';
import { openStore } from '../../inspect/open-store.js';
import { StoreBuilder, type DriverName } from '../helpers/synthetic-store.js';

const isRoot = process.getuid?.() === 0;

async function exportTo(root: string, name: string, file: string): Promise<void> {
  const { model, driver } = await openStore({ root });
  const fd = openSync(file, 'w');
  try {
    await writeToFd(fd, containerExport(driver!, resolveExportContainer(model, name)));
  } finally {
    closeSync(fd);
  }
}

const list = (tar: string) => execFileSync('tar', ['-tf', tar]).toString().trim().split('\n');
const member = (tar: string, name: string) => execFileSync('tar', ['-xOf', tar, name]).toString();

for (const driverName of ['overlay2', 'vfs'] as DriverName[]) {
  t.test(`${driverName}: the merged tree, in walk order, contents from the layer that has them`, async (t) => {
    const dir = t.testdir({});
    const root = join(dir, 'root');
    const b = new StoreBuilder(root, driverName);
    const l1 = b.layer(null, { 'bin/sh': 'shell', 'etc/os-release': 'NAME=one\n', 'app/old.txt': 'old' }, 'base');
    const l2 = b.layer(l1, { 'etc/os-release': 'NAME=two\n', 'app.txt': 'beside app/' }, 'top');
    const image = b.image({ layers: [l1, l2], tags: ['x:1'] });
    const id = b.container({ image, name: 'c1', state: 'exited', files: { 'app/new.txt': 'new in the container' } });
    const out = join(dir, 'c1.tar');
    await exportTo(root, 'c1', out);
    t.same(
      list(out),
      ['.dockerenv', 'app/', 'app/new.txt', 'app/old.txt', 'app.txt', 'bin/', 'bin/sh', 'etc/', 'etc/hosts', 'etc/os-release'],
      'every entry below the root, each directory before its contents, names sorted by bytes ("app" before "app.txt")',
    );
    t.equal(member(out, 'etc/os-release'), 'NAME=two\n', 'the upper layer wins');
    t.equal(member(out, 'app/new.txt'), 'new in the container');
    const byPrefix = join(dir, 'prefix.tar');
    await exportTo(root, id.slice(0, 8), byPrefix);
    t.ok(readFileSync(byPrefix).equals(readFileSync(out)), 'an id prefix names the same container');
    const { model } = await openStore({ root });
    t.throws(() => resolveExportContainer(model, 'nope'), /no such container: nope/);
  });
}

t.test('overlay2: whiteouts delete, opaque directories hide what is below, hardlinks link to the first name', { skip: !isRoot && 'needs root (mknod, trusted.* xattrs)' }, async (t) => {
  const dir = t.testdir({});
  const root = join(dir, 'root');
  const b = new StoreBuilder(root, 'overlay2');
  const l1 = b.layer(null, { 'gone.txt': 'deleted above', 'keep/a.txt': 'a', 'opaque/below.txt': 'hidden', 'links/one': 'linked' }, 'base');
  const base = b.contentDir(l1.cacheId);
  linkSync(join(base, 'links/one'), join(base, 'links/two'));
  const image = b.image({ layers: [l1], tags: ['y:1'] });
  b.container({ image, name: 'c2', state: 'exited', files: { 'opaque/above.txt': 'seen' } });
  const { model } = await openStore({ root });
  const rw = b.contentDir(model.containers.find((c) => c.name === 'c2')!.mountId!);
  execFileSync('mknod', [join(rw, 'gone.txt'), 'c', '0', '0']);
  const setfattr = spawnSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(rw, 'opaque')]);
  if (setfattr.status !== 0) t.skip('setfattr is not installed');
  const out = join(dir, 'c2.tar');
  await exportTo(root, 'c2', out);
  const names = list(out);
  t.notOk(names.includes('gone.txt'), 'a whiteout deletes the lower file, and is not itself exported');
  t.notOk(names.some((n) => n.includes('.wh.')), 'no whiteout markers in an export');
  if (setfattr.status === 0) t.same(names.filter((n) => n.startsWith('opaque/')), ['opaque/', 'opaque/above.txt'], 'an opaque directory hides the lower entries');
  const verbose = execFileSync('tar', ['-tvf', out]).toString();
  t.match(verbose, /^h.* links\/two link to links\/one$/m, 'the second name of an inode is a hardlink to the first');
  mkdirSync(join(dir, 'x'));
  execFileSync('tar', ['-xf', out, '-C', join(dir, 'x')]);
  t.equal(readFileSync(join(dir, 'x', 'keep/a.txt'), 'utf8'), 'a');
});
