import t from 'tap';
import { detectDriver } from '../../inspect/detect-driver.js';

t.test('one store: its driver', async (t) => {
  t.equal(detectDriver(t.testdir({ image: { overlay2: {} }, overlay2: {} })), 'overlay2');
  t.equal(detectDriver(t.testdir({ image: { vfs: {} }, vfs: { dir: {} } })), 'vfs');
});

t.test('no image/ directory: the non-empty driver directory', async (t) => {
  t.equal(detectDriver(t.testdir({ aufs: { diff: {} }, vfs: {} })), 'aufs');
});

t.test('several: say which, ask for --driver', async (t) => {
  const root = t.testdir({ image: { overlay2: {}, vfs: {} } });
  t.throws(() => detectDriver(root), /several drivers \(overlay2, vfs\); choose one with --driver/);
  t.equal(detectDriver(root, 'vfs'), 'vfs');
});

t.test('none, or a wrong --driver', async (t) => {
  t.throws(() => detectDriver(t.testdir({ x: {} })), /no storage driver found/);
  t.throws(() => detectDriver(t.testdir({ image: { overlay2: {} } }), 'aufs'), /no aufs store .*found: overlay2/);
  t.throws(() => detectDriver('/nonexistent-strata-root'), /not a directory/);
});
