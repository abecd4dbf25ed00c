import t from 'tap';
import { buildDemoStore } from '../../inspect/demo.js';
import { listImages } from '../../inspect/images.js';
import { readStore } from '../../inspect/docker/read-store.js';
import { runCli } from '../helpers/run-cli.js';

t.test('the demo store loads from the shipped sample images and verifies', async (t) => {
  const { root, images } = await buildDemoStore(t.testdir({}));
  t.same(images.flatMap((i) => i.tags).sort(), ['demo/app:1', 'demo/app:2', 'demo/base:1', 'demo/other-base:1', 'demo/tools:1']);
  const model = readStore({ root, driver: 'vfs' });
  t.same(model.warnings, []);
  t.equal(listImages(model, { danglingOnly: true }).length, 1, 'the old build of demo/app:1 is dangling');
  const verify = runCli(['verify', '--root', root, '--json']);
  t.equal(verify.status, 0);
  t.ok(JSON.parse(verify.stdout).every((v: { ok: boolean }) => v.ok), 'every demo layer rebuilds to its DiffID');
});

t.test('strata demo prints the image graph of the store it built', async (t) => {
  const dir = t.testdir({});
  const r = runCli(['demo', '--dir', dir]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /├─[0-9a-f]{12} Virtual Size: 103 B Tags: demo\/base:1\n│ ├─[0-9a-f]{12} Virtual Size: 134 B\n│ ├─[0-9a-f]{12} Virtual Size: 130 B Tags: demo\/app:1\n│ │ └─[0-9a-f]{12} Virtual Size: 140 B Tags: demo\/app:2/);
  t.match(r.stdout, new RegExp(`strata --root ${dir} df -v`));
});
