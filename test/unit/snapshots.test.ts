import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
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
  t.same(nested.filter((c) => c.path.startsWith('/sub')).map((c) => `${c.kind} ${c.path}`), ['C /sub', 'A /sub/more'], 'an unchanged directory holding changes is listed before them');
});

t.test('walk order is byte order, parents first', async (t) => {
  const dir = t.testdir({ b: '', 'a-b': '', a: { z: '', y: '' }, 'é': '' });
  writeFileSync(join(dir, 'Z'), '');
  t.same([...walkTree(dir)].map((e) => e.name), ['Z', 'a', 'a/y', 'a/z', 'a-b', 'b', 'é']);
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
  const onlyTouched = await refineByContent(changes.filter((c) => c.path !== '/d/edited'));
  t.same(onlyTouched, [], 'a directory listed only for a dropped change goes too');
});
