// Fresh exports name owners as dockerd's Go does: uname and gname from this machine's passwd and group.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseNameTable } from '../../drivers/archive/owner-names.js';
import { readTar } from '../../drivers/archive/tar-reader.js';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore } from '../helpers/sample-store.js';

t.test('passwd and group lines: the first name of each id, comments and NIS lines skipped', async (t) => {
  const table = parseNameTable('# comment\nroot:x:0:0:root:/root:/bin/bash\n+nis::::::\ntoor:x:0:0::/:/bin/sh\ndaemon:x:1:1::/:/bin/sh\nbroken:x:notanumber:1\n\n');
  t.same([...table.entries()], [[0, 'root'], [1, 'daemon']]);
});

t.test('a fresh export carries the names of the files passwd and group give', async (t) => {
  const top = t.testdir();
  const s = buildSampleStore(join(top, 'store'));
  const dir = join(top, 'files');
  mkdirSync(dir);
  const passwd = join(dir, 'passwd');
  const group = join(dir, 'group');
  writeFileSync(passwd, 'admin:x:0:0::/:/bin/sh\n');
  writeFileSync(group, 'wheel:x:0:\n');
  const r = runCli(['--root', s.root, 'diff', s.layers.L1.chainId, '--fresh', '-o', join(dir, 'l1.tar')], { STRATA_PASSWD: passwd, STRATA_GROUP: group });
  t.equal(r.status, 0, r.stderr);
  const owners = new Set<string>();
  for await (const { entry } of readTar([readFileSync(join(dir, 'l1.tar'))])) if (entry.uid === 0) owners.add(`${entry.uname}:${entry.gname}`);
  t.same([...owners], ['admin:wheel'], 'uid 0 and gid 0 are named from the files');
});
