// A device node is layer content: a real character device (1:3, /dev/null) in an overlay2 layer exports as
// that device in both the exact diff (from the tar-split `strata apply` recorded) and the fresh one, while
// only a 0:0 character device is a whiteout (exported as ".wh.<name>"). vfs alike. The layer tar is made by
// GNU tar from a directory holding the device, not by strata.
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { readTar } from '../../drivers/archive/tar-reader.js';
import { runCli } from '../helpers/run-cli.js';
import { StoreBuilder } from '../helpers/synthetic-store.js';

async function entriesOf(file: string): Promise<Map<string, { type: string; devmajor: number; devminor: number; size: number }>> {
  const out = new Map<string, { type: string; devmajor: number; devminor: number; size: number }>();
  for await (const { entry } of readTar([readFileSync(file)])) out.set(entry.name.replace(/^\.\//, ''), { type: entry.type, devmajor: entry.devmajor, devminor: entry.devminor, size: entry.size });
  return out;
}

for (const driver of ['overlay2', 'vfs'] as const) {
  t.test(`${driver}: a 1:3 device exports as that device, exact and fresh; only 0:0 is a whiteout`, async (t) => {
    const root = t.testdir({ src: {} });
    const store = join(root, 'store');
    mkdirSync(store);
    const b = new StoreBuilder(store, driver);
    const base = b.layer(null, { 'dev/old': 'old\n', 'etc/keep': 'k\n' });
    b.image({ layers: [base], tags: ['base:1'] });

    const src = join(root, 'src');
    mkdirSync(join(src, 'dev'));
    execFileSync('mknod', ['-m', '666', join(src, 'dev', 'null'), 'c', '1', '3']);
    writeFileSync(join(src, 'dev', '.wh.old'), '');
    const tar = join(root, 'layer.tar');
    execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', src, '-cf', tar, 'dev']);

    const applied = runCli(['apply', tar, '--parent', base.chainId, '--root', store]);
    t.equal(applied.status, 0, applied.stderr);
    const chainId = applied.stdout.trim();
    const cacheId = readFileSync(join(b.meta, 'layerdb', 'sha256', chainId.slice(7), 'cache-id'), 'utf8');
    const onDisk = lstatSync(join(b.contentDir(cacheId), 'dev', 'null'));
    t.ok(onDisk.isCharacterDevice() && onDisk.rdev === 0x103, 'applied as the device 1:3');

    const exact = join(root, 'exact.tar');
    const fresh = join(root, 'fresh.tar');
    for (const [file, extra] of [[exact, []], [fresh, ['--fresh']]] as const) {
      const r = runCli(['diff', chainId, ...extra, '-o', file, '--root', store]);
      t.equal(r.status, 0, r.stderr);
    }
    t.ok(readFileSync(exact).equals(readFileSync(tar)), 'the exact diff is the tar applied, byte for byte');
    for (const [what, file] of [['exact', exact], ['fresh', fresh]]) {
      const entries = await entriesOf(file);
      t.same(entries.get('dev/null'), { type: '3', devmajor: 1, devminor: 3, size: 0 }, `${what}: the device, type 3, 1:3`);
      t.notOk(entries.has('dev/.wh.null'), `${what}: the device is no whiteout`);
      t.same(entries.get('dev/.wh.old')?.type, '0', `${what}: the deletion is a whiteout file`);
      t.notOk(entries.has('dev/old'), `${what}: the deleted file is not there`);
    }
    const changes = runCli(['changes', chainId, '--root', store]);
    t.equal(changes.status, 0, changes.stderr);
    t.same(changes.stdout.split('\n').filter(Boolean), ['C /dev', 'A /dev/null', 'D /dev/old'], 'changes: the device added, the whiteout a deletion');
  });
}
