// The odd-archive corpus (test/helpers/tar-corpus.ts) held against a real dockerd 20.10, overlay2 and vfs:
// every archive is `docker import`ed and `strata apply`ed into a stopped store of the same driver. Both
// accept or both refuse (the corpus names the cases where dockerd answers otherwise, and why); for the
// accepted ones the DiffIDs agree and are sha256 of the archive, the layer directories hold the same files
// (names as bytes, types, modes, owners, sizes, contents, link targets, devices, xattrs, mtimes), and
// `strata diff` (exact) of the layer docker imported equals the layer.tar `docker save` writes, byte for
// byte. Compressed variants of one archive (gzip, bzip2, xz, zstd) give the plain archive's DiffID.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { readTar } from '../../drivers/archive/tar-reader.js';
import { startDockerd, type Dockerd, type StorageDriverName } from '../helpers/dockerd.js';
import { runCli } from '../helpers/run-cli.js';
import { COMPRESSED_BASE, CORPUS, esc } from '../helpers/tar-corpus.js';

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** The directory a driver keeps a base layer's files in, found through layerdb like dockerd finds it. */
function layerDir(root: string, driver: StorageDriverName, chainId: string): string {
  const cacheId = readFileSync(join(root, 'image', driver, 'layerdb', 'sha256', chainId.slice(7), 'cache-id'), 'utf8').trim();
  return driver === 'overlay2' ? join(root, 'overlay2', cacheId, 'diff') : join(root, 'vfs', 'dir', cacheId);
}

/** Extended attributes of everything under `dir`, by escaped relative name (getfattr quotes names as \ooo). */
function xattrsUnder(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  let text = '';
  try {
    text = execFileSync('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', dir], { stdio: ['ignore', 'pipe', 'ignore'] }).toString('latin1');
  } catch (err) {
    text = ((err as { stdout?: Buffer }).stdout ?? Buffer.alloc(0)).toString('latin1');
  }
  let file = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      const name = Buffer.from(line.slice(8).replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), 'latin1');
      file = esc(name.subarray(Math.min(name.length, dir.length + 1)));
    } else if (line.includes('=')) out.set(file, [out.get(file), line].filter(Boolean).join(' '));
  }
  return out;
}

/** Every entry of a layer directory as one line: type, mode, owner, size, content, link target, device, xattrs, mtime. */
function layerTree(dir: string, tarNames: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  const xattrs = xattrsUnder(dir);
  const visit = (rel: Buffer) => {
    const path = rel.length ? Buffer.concat([Buffer.from(dir + '/'), rel]) : Buffer.from(dir);
    const st = lstatSync(path);
    const name = esc(rel);
    const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'other';
    let line = `${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (kind === 'file') line += ` ${st.size} ${createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16)} links=${st.nlink}`;
    if (kind === 'symlink') line += ` -> ${esc(readlinkSync(path, { encoding: 'buffer' }))}`;
    if (kind === 'char' || kind === 'block') line += ` ${st.rdev >> 8}:${st.rdev & 0xff}`;
    if (xattrs.has(name)) line += ` [${xattrs.get(name)}]`;
    // Times the archive sets (whole seconds; Node sets microseconds): not the root, not directories made on the way.
    if (rel.length && tarNames.has(name)) line += ` mtime=${Math.floor(st.mtimeMs / 1000)}`;
    out.set(name || '.', line);
    if (kind === 'dir') for (const child of readdirSync(path, { encoding: 'buffer' }).sort(Buffer.compare)) visit(rel.length ? Buffer.concat([rel, Buffer.from('/'), child]) : child);
  };
  visit(Buffer.alloc(0));
  return out;
}

/** The names an archive gives its entries, as layerTree keys. */
async function namesIn(archive: Buffer): Promise<Set<string>> {
  const names = new Set<string>();
  try {
    for await (const { entry } of readTar([archive])) {
      const parts = entry.nameBytes.toString('latin1').split('/').filter((p) => p && p !== '.');
      names.add(esc(Buffer.from(parts.join('/'), 'latin1')));
    }
  } catch {
    // a refused archive: no names to compare
  }
  return names;
}

/** The layer.tar of the first layer in a `docker save` archive. */
async function savedLayer(saveFile: string): Promise<Buffer> {
  const members = new Map<string, Buffer>();
  for await (const { entry, content } of readTar([readFileSync(saveFile)])) {
    const parts: Buffer[] = [];
    for await (const c of content) parts.push(Buffer.from(c));
    members.set(entry.name.replace(/^\.\//, ''), Buffer.concat(parts));
  }
  const manifest = JSON.parse(members.get('manifest.json')!.toString('utf8'));
  return members.get(manifest[0].Layers[0])!;
}

async function dockerImport(d: Dockerd, file: string): Promise<{ image: string } | { error: string }> {
  try {
    return { image: (await d.docker(['import', file])).trim() };
  } catch (err) {
    return { error: ((err as Error).message.match(/stderr: (.*)/)?.[1] ?? (err as Error).message).trim() };
  }
}

for (const driver of ['overlay2', 'vfs'] as StorageDriverName[]) {
  t.test(`the tar corpus against docker import (${driver})`, async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'strata-corpus-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const strataRoot = mkdtempSync(join(tmpdir(), 'strata-root-'));
    t.teardown(() => rmSync(strataRoot, { recursive: true, force: true }));
    const d = await startDockerd({ driver });
    t.teardown(() => d.remove());
    const notes: string[] = [];

    for (const c of CORPUS) {
      await t.test(c.name, async (t) => {
        const caseDir = join(work, c.name);
        mkdirSync(caseDir);
        const archive = c.build(caseDir);
        const file = join(caseDir, 'archive.tar');
        writeFileSync(file, archive);
        const docker = await dockerImport(d, file);
        const applied = runCli(['apply', file, '--root', strataRoot, '--driver', driver, '--json']);
        const strataAccepts = 'entries' in c.strata;
        const dockerAccepts = c.docker?.accepts ?? strataAccepts;
        t.equal(applied.status === 0, strataAccepts, `strata apply ${strataAccepts ? 'accepts' : 'refuses'} it ${applied.stderr.trim()}`);
        if (!strataAccepts) t.match(applied.stderr, /^strata: error: [^\n]*\n$/, 'refused in one line');
        t.equal('image' in docker, dockerAccepts, `docker import ${'image' in docker ? 'accepts' : `refuses (${docker.error})`}${c.docker ? ` — ${c.docker.why}` : ''}`);
        if ('error' in docker) notes.push(`${c.name}: docker import refuses: ${docker.error}`);
        if (!('image' in docker) || applied.status !== 0) return;

        const [inspect] = JSON.parse(await d.docker(['image', 'inspect', docker.image]));
        const dockerDiffId: string = inspect.RootFS.Layers[0];
        const strataLayer = JSON.parse(applied.stdout);
        t.equal(dockerDiffId, sha(archive), 'docker: DiffID = sha256 of the archive');
        t.equal(strataLayer.diffId, dockerDiffId, 'strata: the same DiffID');

        const names = await namesIn(archive);
        const dockerTree = layerTree(layerDir(d.root, driver, dockerDiffId), names);
        const strataTree = layerTree(layerDir(strataRoot, driver, strataLayer.chainId), names);
        t.same([...strataTree], [...dockerTree], 'the same files on disk as docker made');

        const own = join(caseDir, 'own.tar');
        const ownDiff = runCli(['diff', strataLayer.chainId, '--root', strataRoot, '-o', own]);
        t.ok(ownDiff.status === 0 && readFileSync(own).equals(archive), `strata diff (exact) of strata's layer is the archive ${ownDiff.stderr}`);

        const saveFile = join(caseDir, 'save.tar');
        const exact = join(caseDir, 'exact.tar');
        const diff = runCli(['diff', dockerDiffId, '--root', d.root, '-o', exact]);
        let saved: Buffer | null = null;
        try {
          await d.docker(['save', '-o', saveFile, docker.image]);
          saved = await savedLayer(saveFile);
        } catch (err) {
          notes.push(`${c.name}: docker save fails: ${(err as Error).message.split('\n')[1] ?? err}`);
        }
        if (c.dockerSaveBroken) {
          t.equal(saved, null, `docker save cannot give the layer back: ${c.dockerSaveBroken}`);
          t.not(diff.status, 0, `strata diff refuses docker's layer as well: ${diff.stderr.trim()}`);
          return;
        }
        t.equal(diff.status, 0, `strata diff of docker's layer ${diff.stderr}`);
        t.ok(saved !== null && readFileSync(exact).equals(saved), "strata diff (exact) of docker's layer = docker save's layer.tar");
        t.ok(saved !== null && saved.equals(archive), 'which is the archive imported');
      });
    }

    await t.test('compressed variants: the DiffID of the uncompressed archive', async (t) => {
      const dir = join(work, 'compressed');
      mkdirSync(dir);
      const plain = CORPUS.find((c) => c.name === COMPRESSED_BASE)!.build(dir);
      const variants: Record<string, Buffer> = {
        gzip: gzipSync(plain),
        bzip2: execFileSync('bzip2', ['-c'], { input: plain }),
        xz: execFileSync('xz', ['-c'], { input: plain }),
        zstd: execFileSync('zstd', ['-c', '-q'], { input: plain }),
      };
      for (const [format, packed] of Object.entries(variants)) {
        const file = join(dir, `layer.tar.${format}`);
        writeFileSync(file, packed);
        const applied = runCli(['apply', file, '--root', strataRoot, '--driver', driver, '--json']);
        t.equal(applied.status, 0, `strata apply of ${format} ${applied.stderr}`);
        t.equal(JSON.parse(applied.stdout || '{}').diffId, sha(plain), `strata: ${format} gives the plain archive's DiffID`);
        const docker = await dockerImport(d, file);
        if (format === 'zstd') {
          // dockerd 20.10's DecompressStream knows gzip, bzip2 and xz only; zstd came with moby 23
          t.ok('error' in docker, `docker import of zstd fails on dockerd 20.10 (${'error' in docker ? docker.error : 'accepted'})`);
          if ('error' in docker) notes.push(`zstd: docker import refuses: ${docker.error}`);
          continue;
        }
        t.ok('image' in docker, `docker import of ${format} ${'error' in docker ? docker.error : ''}`);
        if ('image' in docker) t.equal(JSON.parse(await d.docker(['image', 'inspect', docker.image]))[0].RootFS.Layers[0], sha(plain), `docker: ${format} gives the same DiffID`);
      }
    });
    t.comment(`dockerd ${driver} notes:\n${notes.join('\n')}`);
  });
}
