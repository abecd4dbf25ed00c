// Names that are not UTF-8, against a real dockerd 20.10 (overlay2, vfs): a container writes a Latin-1
// name, a directory named with 0xff and a symlink to the Latin-1 name; `strata changes` prints what
// `docker diff` prints, `strata diff CONTAINER` exports the raw bytes, and once committed, the layer's exact
// diff (from tar-split, name_raw) is byte for byte the layer.tar of `docker save`.
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readTar } from '../../drivers/archive/tar-reader.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { runCli } from '../helpers/run-cli.js';
import { BUSYBOX } from '../helpers/scenario.js';

const latin1 = (s: string) => Buffer.from(s, 'latin1');
const lines = (s: string) => s.split('\n').filter(Boolean);

/** A busybox rootfs (as the scenario builds it, only smaller), imported as `ref`. */
async function importBusybox(d: Dockerd, work: string, ref: string): Promise<void> {
  const root = join(work, 'rootfs');
  await mkdir(join(root, 'bin'), { recursive: true });
  await mkdir(join(root, 'tmp'));
  await copyFile(BUSYBOX, join(root, 'bin', 'busybox'));
  await chmod(join(root, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'printf', 'echo', 'mkdir', 'ln']) await symlink('busybox', join(root, 'bin', applet));
  await writeFile(join(root, 'tmp', '.keep'), '');
  const tarball = join(work, 'rootfs.tar');
  execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tarball, '.']);
  await d.docker(['import', tarball, ref]);
}

/** Names and link targets of a tar, as ByteStrings. */
async function tarNames(file: string): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const { entry } of readTar([readFileSync(file)])) out.push([entry.nameBytes.toString('latin1'), entry.linknameBytes.toString('latin1')]);
  return out;
}

// Latin-1 and 0xff names, a link to one, and for the header rules around them: a long ASCII name (PAX)
// and a long path that splits into USTAR's prefix and name.
const LONG_DIR = `/a/${'b'.repeat(100)}`;
const SCRIPT =
  'echo x > "$(printf "/caf\\351.txt")" && mkdir "$(printf "/d\\377")" && echo y > "$(printf "/d\\377/inner")"' +
  ' && ln -s "$(printf "caf\\351.txt")" "$(printf "/l\\351")" && echo z > /plain.txt' +
  ` && echo n > /${'n'.repeat(120)} && mkdir -p ${LONG_DIR} && echo q > ${LONG_DIR}/f`;

for (const driver of ['overlay2', 'vfs'] as const) {
  t.test(`names that are not UTF-8 (${driver})`, async (t) => {
    const d = await startDockerd({ driver });
    t.teardown(() => d.remove());
    const work = mkdtempSync(join(tmpdir(), 'strata-names-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const args = ['--root', d.root];
    await importBusybox(d, work, 'nb:1');
    await d.docker(['run', '--network', 'none', '--name', 'c-odd', 'nb:1', 'sh', '-c', SCRIPT]);

    // docker diff: dockerd walks the layer with bytes and prints each invalid byte as U+FFFD.
    const theirs = lines(await d.docker(['diff', 'c-odd']));
    t.ok(theirs.includes('A /caf\ufffd.txt'), `docker diff lists the Latin-1 name (${theirs.join(', ')})`);
    const changes = runCli(['changes', 'c-odd', ...args]);
    t.equal(changes.status, 0, changes.stderr);
    t.same(lines(changes.stdout).sort(), [...theirs].sort(), 'strata changes = docker diff');

    const ctr = join(work, 'c-odd.tar');
    const r = runCli(['diff', 'c-odd', '-o', ctr, ...args]);
    t.equal(r.status, 0, r.stderr);
    const names = await tarNames(ctr);
    t.ok(names.some(([n]) => n === 'caf\xe9.txt'), 'the container export holds the Latin-1 name as its bytes');
    t.ok(names.some(([n]) => n === 'd\xff/inner'), 'and the file in the 0xff directory');
    t.ok(names.some(([n, l]) => n === 'l\xe9' && l === 'caf\xe9.txt'), 'and the symlink with its target as bytes');

    // Committed, the container's changes become a layer whose tar Go's archive/tar wrote: the exact diff
    // rebuilt from its tar-split must be those bytes, and the fresh one follows the same header rules.
    await d.docker(['commit', 'c-odd', 'odd:1']);
    const save = join(work, 'save');
    await mkdir(save);
    await d.docker(['save', '-o', join(save, 'image.tar'), 'odd:1']);
    execFileSync('tar', ['-xf', join(save, 'image.tar'), '-C', save]);
    const manifest = JSON.parse(readFileSync(join(save, 'manifest.json'), 'utf8'))[0];
    const dockerLayer = readFileSync(join(save, manifest.Layers[manifest.Layers.length - 1]));
    t.ok(dockerLayer.includes(latin1('path=caf\xe9.txt\n')), "docker's layer holds the raw bytes in a PAX path record");
    const exact = join(work, 'exact.tar');
    const e = runCli(['diff', 'odd:1', '--layer', '-1', '-o', exact, ...args]);
    t.equal(e.status, 0, e.stderr);
    t.ok(readFileSync(exact).equals(dockerLayer), 'strata diff odd:1 --layer -1 = the layer.tar of docker save, byte for byte');
    const fresh = join(work, 'fresh.tar');
    const f = runCli(['diff', 'odd:1', '--layer', '-1', '--fresh', '-o', fresh, ...args]);
    t.equal(f.status, 0, f.stderr);
    t.same(await tarNames(fresh), await tarNames(exact), 'the fresh export: the same names and link targets, as bytes');
    t.ok(readFileSync(fresh).equals(dockerLayer), "the fresh export is Go's bytes: PAX records, 'x' headers, ASCII fields, and uname/gname from this host's passwd and group as dockerd's Go fills them");
    t.ok(readFileSync(ctr).equals(dockerLayer), "and so is the container's export before the commit");
    const changesOfLayer = runCli(['changes', 'odd:1', '--layer', '-1', '--json', ...args]);
    t.equal(changesOfLayer.status, 0, changesOfLayer.stderr);
    const odd = JSON.parse(changesOfLayer.stdout).find((c: { path: string }) => c.path === '/caf\ufffd.txt');
    t.same(odd, { kind: 'A', path: '/caf\ufffd.txt', pathRaw: latin1('/caf\xe9.txt').toString('base64') }, '--json carries the bytes');
  });
}
