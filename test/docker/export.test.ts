// Layer export against a real dockerd: every layer rebuilt by strata hashes to its DiffID and equals,
// byte for byte, the layer.tar of `docker save`; `strata changes` equals `docker diff`; a fresh export
// carries the same entries as the exact one. overlay2 and vfs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { readTar, type TarEntry } from '../../drivers/archive/tar-reader.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { cliJson, runCli } from '../helpers/run-cli.js';
import { buildScenario, type Scenario } from '../helpers/scenario.js';

const sha256File = (file: string) => 'sha256:' + createHash('sha256').update(readFileSync(file)).digest('hex');

interface Entry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  content: string;
  xattrs: string;
}

async function entriesOf(file: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  for await (const { entry, content } of readTar(createReadStream(file))) {
    const h = createHash('sha256');
    for await (const c of content) h.update(c);
    const name = entry.name.replace(/^\.\//, '');
    // A root entry ("./", written by GNU tar in imported archives) names no file of the layer.
    if (name !== '') out.set(name, { ...pick(entry), name, content: h.digest('hex') });
  }
  return out;
}

function pick(e: TarEntry): Omit<Entry, 'content'> {
  const xattrs = Object.entries(e.xattrs).map(([k, v]) => `${k}=${v.toString('base64')}`).sort().join(',');
  // Permission bits only: Go writes the file type into the mode too, GNU tar (docker import) does not.
  return { name: e.name, type: e.type, mode: e.mode & 0o7777, uid: e.uid, gid: e.gid, size: e.size, mtime: e.mtime, linkname: e.linkname, xattrs };
}

async function checkExports(t: Test, d: Dockerd, s: Scenario, work: string) {
  const args = ['--root', d.root];
  const layers: Array<{ chainId: string; diffId: string }> = cliJson(['layers', ...args]);
  t.ok(layers.length >= 10, `${layers.length} layers`);

  // 1. every layer: exact rebuild hashes to its DiffID, and verify says so too
  const exact = new Map<string, string>();
  for (const l of layers) {
    const file = join(work, `${l.chainId.slice(7, 19)}.tar`);
    const r = runCli(['diff', l.chainId, '-o', file, ...args]);
    t.equal(r.status, 0, `diff ${l.chainId.slice(7, 19)} exits 0 ${r.stderr}`);
    t.equal(sha256File(file), l.diffId, `sha256(strata diff ${l.chainId.slice(7, 19)}) = DiffID`);
    exact.set(l.chainId, file);
  }
  const verify = cliJson(['verify', ...args]);
  t.same(verify.filter((v: any) => v.ok !== true), [], 'verify: every layer ok');

  // 2. docker save: each layer.tar equals strata's export of the same layer, byte for byte
  for (const name of ['base:1', 'app:1', 'app:2', 'solo:1']) {
    const dir = join(work, `save-${name.replace(/\W/g, '_')}`);
    execFileSync('mkdir', ['-p', dir]);
    await d.docker(['save', '-o', join(dir, 'image.tar'), name]);
    execFileSync('tar', ['-xf', join(dir, 'image.tar'), '-C', dir]);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))[0];
    const image = { layers: cliJson(['layers', name, ...args]) };
    t.equal(manifest.Layers.length, image.layers.length, `${name}: as many layers as docker save`);
    manifest.Layers.forEach((layerTar: string, i: number) => {
      const mine = exact.get(image.layers[i].chainId)!;
      const theirs = join(dir, layerTar);
      t.equal(statSync(mine).size, statSync(theirs).size, `${name} layer ${i + 1}: same size as docker save`);
      t.ok(readFileSync(mine).equals(readFileSync(theirs)), `${name} layer ${i + 1}: byte-identical to docker save`);
    });
  }

  // 3. changes = docker diff, for every container (dockerd's naive differ walks a Go map: its order is random)
  for (const [name, id] of Object.entries(s.containers)) {
    const theirs = (await d.docker(['diff', id])).split('\n').filter(Boolean);
    const r = runCli(['changes', name, ...args]);
    t.equal(r.status, 0, r.stderr);
    const mine = r.stdout.split('\n').filter(Boolean);
    t.same([...mine].sort(), [...theirs].sort(), `strata changes ${name} = docker diff`);
    const paths = mine.map((l) => l.slice(2));
    t.same(paths, [...paths].sort(), `strata changes ${name} is sorted by path`);
    if (name === 'c-exited') t.ok(theirs.some((l) => l.startsWith('D ')) && theirs.some((l) => l.startsWith('A ')), 'c-exited added and deleted files');
  }

  // 4. fresh export: the same entries as the exact tar (names, types, modes, owners, sizes, links, contents)
  for (const l of layers) {
    const file = join(work, `${l.chainId.slice(7, 19)}-fresh.tar`);
    const r = runCli(['diff', l.chainId, '--fresh', '-o', file, ...args]);
    t.equal(r.status, 0, r.stderr);
    const want = await entriesOf(exact.get(l.chainId)!);
    const got = await entriesOf(file);
    const norm = (e: Entry) => {
      // A whiteout says only "deleted": its time is when it was applied (or, for vfs, when docker
      // exported it), and the kernel's shared whiteout inode that made docker record a link name
      // in a built layer is gone once the layer is applied from its tar.
      const isWhiteout = /(^|\/)\.wh\./.test(e.name);
      return isWhiteout ? { ...e, mtime: 0, linkname: '' } : e;
    };
    t.same([...got.keys()].sort(), [...want.keys()].sort(), `fresh ${l.chainId.slice(7, 19)}: same names`);
    const differing = [...want.values()].filter((e) => got.has(e.name) && JSON.stringify(norm(got.get(e.name)!)) !== JSON.stringify(norm(e)));
    t.same(differing.map((e) => ({ want: e, got: got.get(e.name) })), [], `fresh ${l.chainId.slice(7, 19)}: same entries`);
  }

  // 5. a container's read-write layer exports, and a damaged layer is named by verify
  const ctr = join(work, 'c-exited.tar');
  t.equal(runCli(['diff', 'c-exited', '-o', ctr, ...args]).status, 0);
  const ctrEntries = await entriesOf(ctr);
  t.ok([...ctrEntries.keys()].some((n) => n.includes('.wh.')), 'the container export carries a whiteout for the deleted file');
}

for (const driver of ['overlay2', 'vfs'] as const) {
  t.test(`layer export matches docker (${driver})`, async (t) => {
    const d = await startDockerd({ driver });
    t.teardown(() => d.remove());
    const work = mkdtempSync(join(tmpdir(), 'strata-export-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const s = await buildScenario(d);
    await checkExports(t, d, s, work);
  });
}
