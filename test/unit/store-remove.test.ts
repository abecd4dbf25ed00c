import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { assertRootIdle, decodeMountPath, mountsUnder, removeGroups } from '../../inspect/store-remove.js';
import { parseTempName } from '../../native/temp-names.js';

/** A root with a few directories and files to remove. */
function makeRoot(dir: string) {
  const root = join(dir, 'root');
  for (const d of ['meta/a', 'data/a/sub', 'meta/b', 'data/b']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'meta/a/cache-id'), 'a'.repeat(10));
  writeFileSync(join(root, 'data/a/sub/file'), 'x'.repeat(1000));
  writeFileSync(join(root, 'meta/b/cache-id'), 'b'.repeat(10));
  writeFileSync(join(root, 'data/b/file'), 'y'.repeat(500));
  writeFileSync(join(root, 'keep'), 'keep');
  return root;
}

const du = (path: string) => Number(execFileSync('du', ['-sb', path]).toString().split('\t')[0]);
const leftovers = (root: string) => readdirSync(root).filter((n) => parseTempName(n) !== null);

t.test('groups are renamed away and deleted; bytes freed as du counts them; no trash left', async (t) => {
  const root = makeRoot(t.testdir());
  const expected = du(join(root, 'meta/a')) + du(join(root, 'data/a')) + du(join(root, 'meta/b')) + du(join(root, 'data/b'));
  const committed: string[] = [];
  const r = removeGroups(
    root,
    [
      { label: 'layer a', paths: [join(root, 'meta/a'), join(root, 'data/a')] },
      { label: 'layer b', paths: [join(root, 'meta/b'), join(root, 'data/b'), join(root, 'data/gone-already')] },
    ],
    { commit: (g) => committed.push(g.label) },
  );
  t.same(r.removed.map((g) => g.label), ['layer a', 'layer b']);
  t.same(r.failed, []);
  t.same(committed, ['layer a', 'layer b'], 'commit ran once per group, in order');
  t.equal(r.bytesFreed, expected, 'bytesFreed is du -sb of what went');
  for (const p of ['meta/a', 'data/a', 'meta/b', 'data/b']) t.notOk(existsSync(join(root, p)), `${p} removed`);
  t.ok(existsSync(join(root, 'keep')), 'the rest stays');
  t.same(leftovers(root), [], 'the trash is gone');
  t.equal(r.trashLeft, null);
});

t.test('a commit that throws puts the group back, whole; the other groups go on', async (t) => {
  const root = makeRoot(t.testdir());
  const bytesOfB = du(join(root, 'meta/b')) + du(join(root, 'data/b'));
  const r = removeGroups(
    root,
    [
      { label: 'layer a', paths: [join(root, 'meta/a'), join(root, 'data/a')] },
      { label: 'layer b', paths: [join(root, 'meta/b'), join(root, 'data/b')] },
    ],
    {
      commit: (g) => {
        if (g.label === 'layer a') throw new Error('repositories.json could not be written');
      },
    },
  );
  t.same(r.removed.map((g) => g.label), ['layer b']);
  t.same(r.failed.map((f) => [f.group.label, f.reason]), [['layer a', 'repositories.json could not be written']]);
  t.equal(readFileSync(join(root, 'meta/a/cache-id'), 'utf8'), 'a'.repeat(10), 'metadata put back');
  t.equal(readFileSync(join(root, 'data/a/sub/file'), 'utf8'), 'x'.repeat(1000), 'data put back');
  t.notOk(existsSync(join(root, 'data/b')), 'the other group removed');
  t.equal(r.bytesFreed, bytesOfB, 'only the removed group is counted');
  t.same(leftovers(root), [], 'no trash left');
});

t.test('a path outside the root fails its group before anything moves', async (t) => {
  const dir = t.testdir();
  const root = makeRoot(dir);
  writeFileSync(join(dir, 'outside'), 'o');
  const r = removeGroups(root, [{ label: 'bad', paths: [join(root, 'meta/a'), join(dir, 'outside')] }, { label: 'dots', paths: [join(root, 'meta/../../outside')] }]);
  t.same(r.removed, []);
  t.match(r.failed[0].reason, /is not inside the data-root/);
  t.match(r.failed[1].reason, /is not inside the data-root/);
  t.ok(existsSync(join(root, 'meta/a/cache-id')) && existsSync(join(dir, 'outside')), 'nothing moved');
  t.equal(r.bytesFreed, 0);
});

t.test('a symlink is moved itself, never what it points to', async (t) => {
  const root = makeRoot(t.testdir());
  symlinkSync('../data/a', join(root, 'meta/link'));
  const r = removeGroups(root, [{ label: 'link', paths: [join(root, 'meta/link')] }]);
  t.same(r.failed, []);
  t.notOk(existsSync(join(root, 'meta/link')));
  t.ok(existsSync(join(root, 'data/a/sub/file')), 'its target stays');
});

const canMount = (() => {
  try {
    return process.getuid?.() === 0 && existsSync('/proc/self/mountinfo');
  } catch {
    return false;
  }
})();

t.test('a path on another filesystem (EXDEV) fails its group with one line; the group stays whole', { skip: !canMount && 'needs root to mount a tmpfs' }, async (t) => {
  const root = makeRoot(t.testdir());
  const mnt = join(root, 'data', 'on tmpfs');
  mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', 'none', mnt]);
  } catch {
    return t.pass('mount not permitted here');
  }
  try {
    writeFileSync(join(mnt, 'f'), 'z');
    const r = removeGroups(root, [
      { label: 'spans two filesystems', paths: [join(root, 'meta/a'), join(mnt, 'f')] },
      { label: 'layer b', paths: [join(root, 'meta/b')] },
    ]);
    t.same(r.removed.map((g) => g.label), ['layer b']);
    t.equal(r.failed.length, 1);
    t.match(r.failed[0].reason, /on another filesystem than .*not removed/);
    t.notOk(r.failed[0].reason.includes('\n'), 'one line');
    t.ok(existsSync(join(root, 'meta/a/cache-id')) && existsSync(join(mnt, 'f')), 'nothing of the failed group moved');
    t.throws(() => assertRootIdle(root), { message: /on tmpfs is mounted: something uses .*unmount it first/ }, 'a mount under the root refuses removal');
  } finally {
    execFileSync('umount', [mnt]);
  }
  t.doesNotThrow(() => assertRootIdle(root), 'idle once unmounted');
});

t.test('mountinfo paths are decoded; the root itself may be a mount point', async (t) => {
  t.equal(decodeMountPath('/a\\040b\\011c\\012d\\134e'), '/a b\tc\nd\\e');
  const info = [
    '22 27 0:21 / /var/lib/docker rw - ext4 /dev/vdb rw',
    '23 22 0:22 / /var/lib/docker/overlay2/abc/merged rw - overlay overlay rw',
    '24 27 0:23 / /var/lib/docker-other rw - tmpfs tmpfs rw',
    '25 22 0:24 / /var/lib/docker/containers/x/mounts/shm\\040x rw - tmpfs shm rw',
  ].join('\n');
  t.same(mountsUnder(info, '/var/lib/docker'), ['/var/lib/docker/overlay2/abc/merged', '/var/lib/docker/containers/x/mounts/shm x']);
});

t.test('assertRootIdle passes on an idle root', async (t) => {
  const root = makeRoot(t.testdir());
  t.doesNotThrow(() => assertRootIdle(root));
});

t.test('an empty list of groups touches nothing', async (t) => {
  const root = makeRoot(t.testdir());
  const before = readdirSync(root).sort();
  t.same(removeGroups(root, []), { removed: [], failed: [], bytesFreed: 0, trashLeft: null });
  t.same(readdirSync(root).sort(), before);
});

t.test('a containerd shim whose command line or working directory is the root refuses removal', async (t) => {
  const dir = t.testdir();
  const root = makeRoot(dir);
  // Real processes named as containerd's shims are: copies of tail and sleep under that name.
  const shim = join(dir, 'containerd-shim-runc-v2');
  copyFileSync('/usr/bin/tail', shim);
  execFileSync('chmod', ['755', shim]);
  const byArgs = spawn(shim, ['-f', join(root, 'keep')], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 200));
    t.throws(() => assertRootIdle(root), { message: new RegExp(`a containerd shim \\(pid ${byArgs.pid}\\) runs with ${root} on its command line`) });
  } finally {
    byArgs.kill();
  }
  await new Promise((r) => byArgs.once('exit', r));
  const sleeper = join(dir, 'containerd-shim');
  copyFileSync('/bin/sleep', sleeper);
  execFileSync('chmod', ['755', sleeper]);
  const byCwd = spawn(sleeper, ['30'], { stdio: 'ignore', cwd: join(root, 'data') });
  try {
    await new Promise((r) => setTimeout(r, 200));
    t.throws(() => assertRootIdle(root), { message: new RegExp(`a containerd shim \\(pid ${byCwd.pid}\\) works in ${root}/data`) });
  } finally {
    byCwd.kill();
  }
  await new Promise((r) => byCwd.once('exit', r));
  t.doesNotThrow(() => assertRootIdle(root), 'idle once they are gone');
});
