import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { changesSize, compareSnapshots, refineByContent, sameFsTime, snapshotTree } from '../../snapshots/tree.js';
import { walkTree } from '../../snapshots/walk.js';

t.test("sameFsTime: exact, or the same second when one side has no nanoseconds (Docker's rule)", async (t) => {
  t.ok(sameFsTime(1_000_000_000_123n, 1_000_000_000_123n));
  t.ok(sameFsTime(1_000_000_000_000n, 1_000_000_000_500n), 'tar-applied time has no nanoseconds');
  t.notOk(sameFsTime(1_000_000_000_100n, 1_000_000_000_500n));
  t.notOk(sameFsTime(1_000_000_000_000n, 2_000_000_000_000n));
});

t.test('compare: added, changed, deleted, and the parent directory of changes', async (t) => {
  const dir = t.testdir({ old: { keep: 'same', edit: 'v1', gone: 'x', sub: { inner: 'i' } }, new: { keep: 'same', edit: 'v2!', added: 'new', sub: { inner: 'i' } } });
  for (const side of ['old', 'new']) {
    for (const f of ['keep', 'sub/inner']) utimesSync(join(dir, side, f), 1_700_000_000, 1_700_000_000);
    utimesSync(join(dir, side, 'sub'), 1_700_000_000, 1_700_000_000);
  }
  const changes = compareSnapshots(snapshotTree(join(dir, 'old')), snapshotTree(join(dir, 'new')));
  t.same(changes.map((c) => `${c.kind} ${c.path}`).sort(), ['A /added', 'C /edit', 'D /gone']);
  t.equal(changesSize(changes), 'new'.length + 'v2!'.length);
  mkdirSync(join(dir, 'new', 'sub', 'more'));
  utimesSync(join(dir, 'new', 'sub'), 1_700_000_000, 1_700_000_000);
  const nested = compareSnapshots(snapshotTree(join(dir, 'old')), snapshotTree(join(dir, 'new')));
  t.same(nested.filter((c) => c.path.toString().startsWith('/sub')).map((c) => `${c.kind} ${c.path}`), ['C /sub', 'A /sub/more'], 'an unchanged directory holding changes is listed before them');
});

t.test('walk order is byte order, parents first, names as bytes', async (t) => {
  const dir = t.testdir({ b: '', 'a-b': '', a: { z: '', y: '' }, 'é': '' });
  writeFileSync(join(dir, 'Z'), '');
  // A Latin-1 name (0xe9 alone is no UTF-8) sorts between "b" (0x62) and UTF-8 "é" (0xc3 0xa9).
  writeFileSync(Buffer.from(`${dir}/caf\xe9`, 'latin1'), '');
  const order = ['Z', 'a', 'a/y', 'a/z', 'a-b', 'b', 'caf\xe9', '\xc3\xa9'];
  for (const native of ['1', '0']) {
    process.env.STRATA_NATIVE = native;
    try {
      const entries = [...walkTree(dir)];
      t.same(entries.map((e) => e.name.toString('latin1')), order, `STRATA_NATIVE=${native}: names are the bytes on disk`);
      t.ok(entries[6].path.equals(Buffer.from(`${dir}/caf\xe9`, 'latin1')), 'and so are paths');
    } finally {
      delete process.env.STRATA_NATIVE;
    }
  }
});

t.test('snapshots and changes keep names that are not UTF-8', async (t) => {
  const dir = t.testdir({ old: { keep: 'k' }, new: { keep: 'k' } });
  for (const side of ['old', 'new']) utimesSync(join(dir, side, 'keep'), 1_700_000_000, 1_700_000_000);
  const latin1 = (s: string) => Buffer.from(s, 'latin1');
  writeFileSync(latin1(`${dir}/old/gone-\xe9`), '');
  mkdirSync(latin1(`${dir}/new/d\xff`));
  writeFileSync(latin1(`${dir}/new/d\xff/caf\xe9`), 'x');
  symlinkSync(latin1('caf\xe9'), latin1(`${dir}/new/l\xe9`));
  const newer = snapshotTree(join(dir, 'new'));
  t.ok(newer.children!.get('l\xe9')!.meta.linkTarget!.equals(latin1('caf\xe9')), 'a link target is its bytes');
  const changes = compareSnapshots(snapshotTree(join(dir, 'old')), newer);
  t.same(
    changes.map((c) => `${c.kind} ${c.path.toString('latin1')}`),
    ['A /d\xff', 'A /d\xff/caf\xe9', 'A /l\xe9', 'D /gone-\xe9'],
    'added, deleted: each named by its bytes',
  );
  t.ok(changes[1].meta!.path.equals(latin1(`${dir}/new/d\xff/caf\xe9`)), 'the on-disk path is bytes');
  t.equal(changesSize(changes), 1 + 4, 'the file behind a non-UTF-8 name counts, and the link its 4-byte target');
});

t.test('content decides what metadata cannot: a touched file with the same bytes is no change', async (t) => {
  const dir = t.testdir({ old: { d: { same: 'abc', edited: 'abc' }, keep: 'k' }, new: { d: { same: 'abc', edited: 'abd' }, keep: 'k' } });
  for (const side of ['old', 'new']) utimesSync(join(dir, side, 'keep'), 1_700_000_000, 1_700_000_000);
  utimesSync(join(dir, 'old', 'd', 'same'), 1_700_000_000, 1_700_000_000);
  utimesSync(join(dir, 'new', 'd', 'same'), 1_700_000_100, 1_700_000_100);
  utimesSync(join(dir, 'old', 'd'), 1_700_000_000, 1_700_000_000);
  utimesSync(join(dir, 'new', 'd'), 1_700_000_000, 1_700_000_000);
  const changes = compareSnapshots(snapshotTree(join(dir, 'old')), snapshotTree(join(dir, 'new')));
  t.same(changes.map((c) => `${c.kind} ${c.path}`).sort(), ['C /d', 'C /d/edited', 'C /d/same'], "docker's rule: both files changed");
  const refined = await refineByContent(changes);
  t.same(refined.map((c) => `${c.kind} ${c.path}`).sort(), ['C /d', 'C /d/edited'], 'same bytes: not a change');
  const onlyTouched = await refineByContent(changes.filter((c) => c.path.toString() !== '/d/edited'));
  t.same(onlyTouched, [], 'a directory listed only for a dropped change goes too');
});
