// df --audit and prune on stores damaged where the native helpers read for prune's plan
// (the walk's per-entry reports of layerdb, imagedb and overlay2's l/, the read-ahead of link files and
// l/ links): the same answer, to the byte, with the helpers and without them (STRATA_NATIVE=0), and no crash.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { nativeHelpers } from '../../native/index.js';
import { ageTree } from '../helpers/age-tree.js';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore } from '../helpers/sample-store.js';

const each = (dir: string, fn: (name: string) => void) => {
  for (const name of readdirSync(dir)) fn(name);
};

const damages: Record<string, (root: string) => void> = {
  'layerdb/sha256 is a symlink': (r) => {
    const d = join(r, 'image/overlay2/layerdb/sha256');
    renameSync(d, `${d}.real`);
    symlinkSync(`${d}.real`, d);
  },
  'a layerdb entry is a symlink': (r) => {
    const d = join(r, 'image/overlay2/layerdb/sha256');
    const n = readdirSync(d)[0];
    renameSync(join(d, n), join(r, 'moved'));
    symlinkSync(join(r, 'moved'), join(d, n));
  },
  'a layerdb entry named in latin1': (r) => mkdirSync(Buffer.from(`${join(r, 'image/overlay2/layerdb/sha256')}/caf\xe9`, 'latin1')),
  'overlay2/l is a file': (r) => {
    rmSync(join(r, 'overlay2/l'), { recursive: true });
    writeFileSync(join(r, 'overlay2/l'), 'x');
  },
  'the l/ links are directories': (r) => each(join(r, 'overlay2/l'), (n) => (rmSync(join(r, 'overlay2/l', n)), mkdirSync(join(r, 'overlay2/l', n)))),
  'the link files are FIFOs': (r) =>
    each(join(r, 'overlay2'), (n) => {
      if (n === 'l') return;
      rmSync(join(r, 'overlay2', n, 'link'), { force: true });
      execFileSync('mkfifo', [join(r, 'overlay2', n, 'link')]);
    }),
  'imagedb/content/sha256 is a symlink': (r) => {
    const d = join(r, 'image/overlay2/imagedb/content/sha256');
    renameSync(d, `${d}.real`);
    symlinkSync(`${d}.real`, d);
  },
  'no imagedb/metadata': (r) => rmSync(join(r, 'image/overlay2/imagedb/metadata'), { recursive: true }),
};

const commands = [['df', '--audit', '--json'], ['prune', '--dry-run', '--json', '--containers']];

for (const [name, damage] of Object.entries(damages)) {
  t.test(name, { skip: !nativeHelpers() && 'native helpers not built' }, async (t) => {
    const s = buildSampleStore(t.testdir());
    // Enough directories that the walk is cut into subtrees for the native walker.
    for (let i = 0; i < 80; i++) {
      mkdirSync(join(s.root, 'volumes', `v${i}`, '_data', 'd'), { recursive: true });
      writeFileSync(join(s.root, 'volumes', `v${i}`, '_data', 'd', 'f'), 'x'.repeat(i + 1));
    }
    ageTree(s.root);
    damage(s.root);
    for (const args of commands) {
      const native = runCli(['--root', s.root, '--no-cache', ...args]);
      const js = runCli(['--root', s.root, '--no-cache', ...args], { STRATA_NATIVE: '0' });
      t.equal(native.status, 0, `${args.join(' ')}: ${native.stderr.split('\n')[0]}`);
      t.same([native.stdout, native.stderr, native.status], [js.stdout, js.stderr, js.status], `${args.join(' ')}: the same with and without the helpers`);
    }
  });
}
