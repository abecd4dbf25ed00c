// `strata export` judged by `docker export`: for every scenario container (exited, with volumes, running,
// created) the same entries in the same order — name, type, mode, owner, size, link target, content
// hash and time — and, where both are written the same way, the same bytes. Offline, the same again.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { HabitsContext } from '../../helpers/habits-scenario.js';

const CONTAINERS = ['c-exited', 'c-vol', 'c-running', 'c-created'];

/** Each entry of a tar as one line: name, type, mode, uid/gid, names, size, link, device, PAX records, content hash, mtime. */
function entries(tar: string): string[] {
  const script = `
import tarfile, hashlib, sys, json
t = tarfile.open(sys.argv[1])
for m in t.getmembers():
    h = hashlib.sha256(t.extractfile(m).read()).hexdigest() if m.isreg() else ''
    print(json.dumps([m.name, m.type.decode(), oct(m.mode), m.uid, m.gid, m.uname, m.gname, m.size, m.linkname, m.devmajor, m.devminor, sorted(m.pax_headers.items()), h, m.mtime]))
`;
  return execFileSync('python3', ['-c', script, tar], { maxBuffer: 1 << 28 }).toString().trim().split('\n');
}

export async function live(t: Test, ctx: HabitsContext): Promise<void> {
  const work = mkdtempSync(join(os.tmpdir(), 'strata-habits-export-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const saved: Record<string, string[]> = {};
  for (const name of CONTAINERS) {
    await t.test(`export ${name}`, async (t) => {
      const ours = join(work, `${name}.strata.tar`);
      const theirs = join(work, `${name}.docker.tar`);
      const r = ctx.strata(['export', name, '-o', ours]);
      t.equal(r.code, 0, r.stderr);
      await ctx.d.docker(['export', name, '-o', theirs]);
      const a = entries(ours);
      const b = entries(theirs);
      t.same(a, b, 'the same entries in the same order (docker export walks the mount in filepath.Walk order; so does strata)');
      t.ok(a.some((l) => l.startsWith('[".dockerenv"')), '/.dockerenv from the init layer is there');
      t.ok(readFileSync(ours).equals(readFileSync(theirs)), 'byte for byte the same tar');
      saved[name] = a;
    });
  }
  // By id prefix too, and to a pipe.
  const id = ctx.scenario.containers['c-exited'].slice(0, 10);
  const piped = join(work, 'piped.tar');
  execFileSync('bash', ['-o', 'pipefail', '-c', `${process.execPath} --import=tsx ${join(import.meta.dirname, '..', '..', '..', 'cli', 'index.ts')} --root ${ctx.root} export ${id} > ${piped}`]);
  t.same(entries(piped), saved['c-exited'], 'by id prefix, to a pipe: the same tar');
  ctx.saved.exportEntries = saved;
}

export async function offline(t: Test, ctx: HabitsContext): Promise<void> {
  const work = mkdtempSync(join(os.tmpdir(), 'strata-habits-export-off-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const saved = ctx.saved.exportEntries as Record<string, string[]> | undefined;
  for (const name of ['c-exited', 'c-vol']) {
    const out = join(work, `${name}.tar`);
    const r = ctx.strata(['export', name, '-o', out]);
    t.equal(r.code, 0, r.stderr);
    if (saved) t.same(entries(out), saved[name], `${name}: with the daemon stopped, the same tar as docker's`);
  }
  const missing = ctx.strata(['export', 'no-such-container']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^strata: error: no such container: no-such-container\n$/);
}
