// The native helpers (native/): each against what Node's own fs says, and each of the JavaScript
// paths they replace against them.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, linkSync, lstatSync, mkdirSync, openSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { nativeHelpers, SCAN_STRIDE, type NativeHelpers, type ScannedDir } from '../../native/index.js';
import { openLayerDir } from '../../native/open-beneath.js';
import { readSmallFilesNatively, readSmallFilesSync, SMALL_FILE_BYTES, type FileProblem, type SmallFiles } from '../../native/small-files.js';
import { walkSubtree } from '../../snapshots/measure.js';
import { walkTree, type WalkEntry } from '../../snapshots/walk.js';

const errno = osConstants.errno;
const compilerPresent = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;

t.test('the native helpers are built wherever a C compiler is', async (t) => {
  if (process.env.STRATA_NATIVE === '0') return t.pass('turned off with STRATA_NATIVE=0');
  if (!compilerPresent) return t.pass('no C compiler here: the JavaScript paths are used');
  t.ok(nativeHelpers(), 'npm run build compiled dist/strata-native.node and it loads');
});

const native = nativeHelpers();
if (!native) {
  t.pass('no native helpers: nothing more to compare');
} else {
  runNativeTests(native);
}

/** A FIFO with `cat` draining it into `out`; returns the write end and a wait for cat to finish. */
function fifoTo(dir: string, out: string, flags = constants.O_WRONLY): { fd: number; done: Promise<void> } {
  const fifo = join(dir, `fifo-${Math.random().toString(16).slice(2)}`);
  execFileSync('mkfifo', [fifo]);
  const cat = spawn('sh', ['-c', 'sleep 0.2; cat "$0" > "$1"', fifo, out], { stdio: 'ignore' });
  const done = new Promise<void>((resolve) => cat.once('exit', () => resolve()));
  // A non-blocking write end cannot open before a reader does; open blocking, then switch flags by reopening.
  const fd = openSync(fifo, flags & ~constants.O_NONBLOCK);
  if (flags & constants.O_NONBLOCK) {
    const nb = openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK);
    closeSync(fd);
    return { fd: nb, done };
  }
  return { fd, done };
}

/** scanDir's names, each as its own Buffer. */
function namesOf(scanned: ScannedDir): Buffer[] {
  let start = 0;
  return [...scanned.nameEnds].map((end) => scanned.nameBytes.subarray(start, (start = end)));
}

function runNativeTests(native: NativeHelpers): void {
  t.test('scanDir: names as bytes in byte order with the numbers lstat gives, and xattrs', async (t) => {
    const dir = t.testdir({ b: 'bb', 'a-b': '', a: { inner: 'x' }, é: 'é', Z: '' });
    symlinkSync('b', join(dir, 'link'));
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    linkSync(join(dir, 'b'), join(dir, 'b-again'));
    if (process.getuid?.() === 0) execFileSync('mknod', [join(dir, 'wh'), 'c', '0', '0']);
    execFileSync('setfattr', ['-n', 'user.strata', '-v', 'yes', join(dir, 'b')]);
    const latin1 = Buffer.from('caf\xe9.txt', 'latin1'); // 0xe9 alone is not UTF-8
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), latin1]), 'latin-1');
    const scanned = native.scanDir(dir, true);
    const names = namesOf(scanned);
    const expected = fs.readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare);
    t.same(names.map((n) => n.toString('hex')), expected.map((n) => n.toString('hex')), 'every name, as its bytes, sorted bytewise');
    t.equal(scanned.nameBytes.length, expected.reduce((n, b) => n + b.length, 0), 'one Buffer holds them all, one after another');
    names.forEach((name, i) => {
      const st = lstatSync(Buffer.concat([Buffer.from(`${dir}/`), name]));
      const s = scanned.stats.subarray(i * SCAN_STRIDE, (i + 1) * SCAN_STRIDE);
      t.same([...s], [st.mode, st.nlink, st.uid, st.gid, st.size, Math.floor(st.mtimeMs / 1000), s[6], st.rdev, st.dev, st.ino, st.blocks], name.toString('latin1'));
    });
    const index = (name: string | Buffer) => names.findIndex((n) => n.equals(Buffer.from(name)));
    t.equal(scanned.stats[index(latin1) * SCAN_STRIDE + 4], 'latin-1'.length, 'the Latin-1 name was lstat\'ed by its bytes');
    t.same(scanned.xattrs?.[index('b')], ['user.strata', Buffer.from('yes')], 'an entry with xattrs has them');
    t.equal(scanned.xattrs?.[index('Z')], undefined, 'an entry without has none');
    t.throws(() => native.scanDir(join(dir, 'missing'), false), /scandir .*missing: No such file/);
    mkdirSync(Buffer.from(`${dir}/d\xff`, 'latin1'));
    writeFileSync(Buffer.from(`${dir}/d\xff/inner`, 'latin1'), '');
    t.same(namesOf(native.scanDir(Buffer.from(`${dir}/d\xff`, 'latin1'), false)), [Buffer.from('inner')], 'a directory is given as its bytes');
    t.same(namesOf(native.scanDir(join(dir, 'a'), false)), [Buffer.from('inner')], 'or as a string');
  });

  t.test('walkTree: the native scan and readdir + lstat walk alike', async (t) => {
    const dir = t.testdir({ d: { e: { f: 'deep' }, g: 'g' }, h: 'h', 'd-x': { y: '' } });
    mkdirSync(Buffer.from(`${dir}/d\xff`, 'latin1'));
    writeFileSync(Buffer.from(`${dir}/d\xff/caf\xe9`, 'latin1'), 'x');
    const row = (e: WalkEntry) => [e.name.toString('latin1'), e.path.toString('latin1'), e.stat.mode, e.stat.size, e.stat.ino, Math.floor(e.stat.mtimeMs)];
    const nat = [...walkTree(dir)].map(row);
    process.env.STRATA_NATIVE = '0';
    try {
      const js = [...walkTree(dir)].map(row);
      t.same(nat, js);
    } finally {
      delete process.env.STRATA_NATIVE;
    }
    t.ok(nat.some((r) => r[0] === 'd\xff/caf\xe9' && r[3] === 1), 'a name that is not UTF-8 is walked, by its bytes');
  });

  t.test('walkSubtree(s): the same usage as the JavaScript walk, hardlinks apart', async (t) => {
    const dir = t.testdir({ a: { b: 'hello', c: { d: 'x'.repeat(5000) } }, e: '' });
    linkSync(join(dir, 'a', 'b'), join(dir, 'a', 'b2'));
    const dev = lstatSync(dir).dev;
    const js = walkSubtree(fs, dir, dev);
    const one = native.walkSubtree(dir, dev);
    t.same(one.usage, js.usage);
    t.same(one.multiLinked, js.multiLinked);
    const many = await native.walkSubtrees([join(dir, 'a'), dir, join(dir, 'nope')], dev, 2);
    t.same(many[1].usage, js.usage, 'results come back in the order asked');
    t.same(many[0].usage, walkSubtree(fs, join(dir, 'a'), dev).usage);
    t.match(many[2].errors, [[join(dir, 'nope'), /No such file/]], 'an unreadable directory is reported, not thrown');
  });

  t.test('walkSubtrees perChild: each entry of the directory reported as walking it alone gives it', async (t) => {
    const dir = t.testdir({ zeta: { f: 'hello', sub: { g: 'x'.repeat(5000) } }, alpha: 'plain file', mid: {}, 'b-link-target': { h: '12' } });
    symlinkSync('../somewhere', join(dir, 'link'));
    linkSync(join(dir, 'zeta', 'f'), join(dir, 'zeta', 'f2'));
    mkdirSync(Buffer.from(`${dir}/caf\xe9`, 'latin1'));
    writeFileSync(Buffer.from(`${dir}/caf\xe9/x`, 'latin1'), 'abc');
    const dev = lstatSync(dir).dev;
    const [plain, asked] = await native.walkSubtrees([dir, dir], dev, 2, [false, true]);
    t.notOk(plain.children, 'nothing per entry unless asked');
    t.same(asked.usage, plain.usage, 'the totals are the plain walk’s');
    t.same([...asked.multiLinked].sort(), [...plain.multiLinked].sort());
    t.equal(asked.newest, plain.newest);
    const c = asked.children!;
    const names = [...c.nameEnds].map((end, k) => c.nameBytes.subarray(k === 0 ? 0 : c.nameEnds[k - 1], end));
    const sorted = [...names].sort(Buffer.compare);
    t.same(names, sorted, 'sorted by name bytes');
    t.same(names.map((n) => n.toString('latin1')), ['alpha', 'b-link-target', 'caf\xe9', 'link', 'mid', 'zeta']);
    names.forEach((name, k) => {
      const path = Buffer.concat([Buffer.from(`${dir}/`), name]);
      const st = lstatSync(path, { bigint: true });
      const f = c.stats.subarray(k * SCAN_STRIDE, (k + 1) * SCAN_STRIDE);
      t.same([f[0], f[4], f[9], f[5], f[6]], [Number(st.mode), Number(st.size), Number(st.ino), Number(st.mtimeNs / 1_000_000_000n), Number(st.mtimeNs % 1_000_000_000n)], `${name.toString('latin1')}: its lstat`);
      const b = [...c.below.subarray(k * 5, (k + 1) * 5)];
      if (!st.isDirectory()) return t.same(b, [0, 0, 0, 0, 0], `${name.toString('latin1')}: nothing below`);
      const alone = native.walkSubtree(path.toString('latin1') === path.toString('utf8') ? path.toString('utf8') : path.toString('latin1'), dev);
      if (name.toString('latin1') === 'caf\xe9') return t.equal(b[3], 1, 'below a directory whose name is not UTF-8: its one file');
      t.same(b.slice(0, 4), [alone.usage.apparentBytes, alone.usage.allocatedBytes, alone.usage.contentBytes, alone.usage.entries], `${name.toString('latin1')}: the usage below it`);
      t.equal(b[4], alone.newest, `${name.toString('latin1')}: the newest mtime of its own entries`);
    });
    const zeta = names.findIndex((n) => n.toString() === 'zeta');
    const multi = [...c.multiLinked];
    t.equal(multi.length, 8, 'both links of the hardlinked file, each with its entry');
    t.same([multi[0], multi[4]], [zeta, zeta], 'found below zeta');
    t.same(c.errors, []);
  });

  t.test('readLinks: each symlink’s target as readlink gives it, nothing followed; EINVAL for what is no symlink', async (t) => {
    const dir = t.testdir({ file: 'x', sub: {} });
    symlinkSync('../somewhere/else', join(dir, 'rel'));
    symlinkSync(join(dir, 'file'), join(dir, 'abs'));
    symlinkSync('sub', join(dir, 'sub', 'inner'));
    const raw = await native.readLinks!(dir, ['rel', 'abs', 'file', 'nope', 'sub/inner', 'long'], [''], 4, 2);
    const text = (k: number) => raw.bytes.subarray(k === 0 ? 0 : raw.ends[k - 1], raw.ends[k]).toString();
    t.equal(raw.status[0], -1, 'a target longer than maxBytes: -1');
    const wide = await native.readLinks!(dir, ['rel', 'abs', 'file', 'nope', 'sub/inner'], [''], 4096, 2);
    const wtext = (k: number) => wide.bytes.subarray(k === 0 ? 0 : wide.ends[k - 1], wide.ends[k]).toString();
    t.same([wtext(0), wtext(1), wtext(4)], ['../somewhere/else', join(dir, 'file'), 'sub'], 'the targets, a link below a directory too');
    t.same([wide.status[0], wide.status[1], wide.status[4]], [0, 0, 0]);
    t.same([wide.status[2], wide.status[3]], [errno.EINVAL, errno.ENOENT], 'a regular file: EINVAL; nothing there: ENOENT');
    t.equal(text(3), '', 'nothing read for a failure');
  });

  t.test('writePlan into a file: large files sent (sendfile), small ones staged, in order', async (t) => {
    const big = 'abcdefghij'.repeat(100_000);
    const dir = t.testdir({ big, small: 'small' });
    const out = join(dir, 'out');
    const fd = openSync(out, 'w');
    const layer = openLayerDir(dir, []);
    t.teardown(() => layer.close());
    const written = await native.writePlan(fd, [Buffer.from('<'), layer, 'big', big.length, 'small', 5, './big', 70_000, Buffer.from('>')]);
    closeSync(fd);
    const expected = `<${big}small${big.slice(0, 70_000)}>`;
    t.equal(written, expected.length);
    t.equal(readFileSync(out, 'utf8'), expected, 'a prefix of a large file is copied as asked');
  });

  t.test('growPipe: a pipe grows, anything else says 0', async (t) => {
    const dir = t.testdir({ f: '' });
    const pipe = fifoTo(dir, join(dir, 'sink'));
    t.ok(native.growPipe(pipe.fd, 1 << 18) >= 1 << 18);
    closeSync(pipe.fd);
    await pipe.done;
    const fd = openSync(join(dir, 'f'), 'r');
    t.equal(native.growPipe(fd, 1 << 18), 0);
    closeSync(fd);
  });

  t.test('writePlan: bytes and files in order, through a full non-blocking pipe', async (t) => {
    const big = 'B'.repeat(3 << 20);
    const dir = t.testdir({ small: 'small file', big });
    const out = join(dir, 'out');
    const pipe = fifoTo(dir, out, constants.O_WRONLY | constants.O_NONBLOCK);
    const head = Buffer.from('head:');
    const layer = openLayerDir(dir, []);
    t.teardown(() => layer.close());
    const written = await native.writePlan(pipe.fd, [head, layer, 'small', 5, Buffer.from('|'), 'big', big.length, Buffer.from(':tail')]);
    closeSync(pipe.fd);
    await pipe.done;
    const expected = `head:small|${big}:tail`;
    t.equal(written, expected.length);
    t.equal(readFileSync(out, 'utf8'), expected, 'the reader waited 0.2 s: the writer had to wait on a full pipe');
  });

  t.test('writePlan: a file that shrank or vanished fails naming it, before any of it is written', async (t) => {
    const dir = t.testdir({ f: 'x'.repeat(100) });
    const fd = openSync(join(dir, 'out'), 'w');
    const layer = openLayerDir(dir, []);
    t.teardown(() => layer.close());
    await t.rejects(native.writePlan(fd, [Buffer.from('<'), layer, 'f', 200]), { name: 'StrataError', message: `${join(dir, 'f')}: shrank while being read (100 bytes missing)` });
    t.equal(readFileSync(join(dir, 'out'), 'utf8'), '<', 'what came before it is written; nothing of the file');
    writeFileSync(join(dir, 'large'), 'y'.repeat(100_000));
    await t.rejects(native.writePlan(fd, [layer, 'large', 150_000]), { message: `${join(dir, 'large')}: shrank while being read (50000 bytes missing)` }, 'a large (sent) file too');
    truncateSync(join(dir, 'f'), 0);
    await t.rejects(native.writePlan(fd, [layer, 'gone', 1]), { message: `${join(dir, 'gone')}: no such file or directory` });
    await t.rejects(async () => native.writePlan(fd, [layer, 'path-without-size']), /Buffers, beneath ops, or \(path, size\) pairs/);
    await t.rejects(async () => native.writePlan(fd, [join(dir, 'f'), 1]), /a file op needs a beneath op before it/);
    await t.rejects(async () => native.writePlan(fd, [layer, '../f', 1]), /climbs out of its directory/);
    t.equal(readFileSync(join(dir, 'out'), 'utf8'), '<', 'none of the failed plans wrote anything');
    closeSync(fd);
  });

  t.test('writePlan opens files beneath their layer only, never through a symlink, never a FIFO', async (t) => {
    const dir = t.testdir({ layer: { srv: { v1: 'own' } }, host: { secret: 'HOSTSECRET' } });
    symlinkSync(join(dir, 'host', 'secret'), join(dir, 'layer', 'srv', 'v2'));
    symlinkSync(join(dir, 'host'), join(dir, 'layer', 'hostdir'));
    execFileSync('mkfifo', [join(dir, 'layer', 'fifo')]);
    const layer = openLayerDir(dir, ['layer']);
    t.teardown(() => layer.close());
    for (const [name, reason] of [
      ['srv/v2', 'is a symbolic link, not a regular file (not read)'],
      ['hostdir/secret', 'is a symbolic link (not followed)'],
      ['fifo', 'is a FIFO, not a regular file (not read)'],
      ['srv', 'is a directory, not a regular file (not read)'],
    ]) {
      const out = join(dir, `out-${name.replace(/\//g, '-')}`);
      const fd = openSync(out, 'w');
      await t.rejects(native.writePlan(fd, [Buffer.from('head'), layer, 'srv/v1', 3, name, 10]), { message: `${join(dir, 'layer', name)}: ${reason}` }, name);
      closeSync(fd);
      t.equal(readFileSync(out, 'utf8'), 'headown', `${name}: the entries before it, nothing of it`);
    }
  });

  t.test('writePlan: names are the latin1 strings of their bytes', async (t) => {
    const dir = t.testdir({});
    const raw = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1: not UTF-8
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), raw]), 'latin');
    const layer = openLayerDir(dir, []);
    t.teardown(() => layer.close());
    const fd = openSync(join(dir, 'out'), 'w');
    await native.writePlan(fd, [layer, raw.toString('latin1'), 5]);
    closeSync(fd);
    t.equal(readFileSync(join(dir, 'out'), 'utf8'), 'latin');
  });

  t.test('openBeneath: regular files opened, anything else only described, symlinks never followed', async (t) => {
    const dir = t.testdir({ layer: { a: { b: 'bytes' }, empty: '' }, host: { secret: 'HOSTSECRET' } });
    symlinkSync(join(dir, 'host'), join(dir, 'layer', 'up'));
    symlinkSync('../host/secret', join(dir, 'layer', 'rel'));
    execFileSync('mkfifo', [join(dir, 'layer', 'fifo')]);
    const st = new Float64Array(SCAN_STRIDE);
    for (const openat2 of [true, false]) {
      native.useOpenat2(openat2);
      try {
        const dirFd = native.openDirBeneath(dir, Buffer.from('layer'));
        const fd = native.openBeneath(dirFd, Buffer.from('./a//b'), st);
        t.ok(fd >= 0, `openat2 ${openat2}: a regular file is opened`);
        t.equal(readFileSync(fd, 'utf8'), 'bytes');
        closeSync(fd);
        t.equal(st[4], 5, 'its size');
        t.equal(st[9], lstatSync(join(dir, 'layer', 'a', 'b')).ino, 'its inode');
        t.equal(native.openBeneath(dirFd, Buffer.from('fifo'), st), -1, 'a FIFO is not opened (nor blocks)');
        t.equal(st[0] & 0o170000, 0o010000);
        t.equal(native.openBeneath(dirFd, Buffer.from('rel'), st), -1, 'a symlink is described, not followed');
        t.equal(st[0] & 0o170000, 0o120000);
        t.equal(native.openBeneath(dirFd, Buffer.from(''), st), -1, 'the directory itself');
        t.throws(() => native.openBeneath(dirFd, Buffer.from('up/secret'), st), { errno: errno.ELOOP }, 'nothing is reached through a symlink');
        t.throws(() => native.openBeneath(dirFd, Buffer.from('a/../../host/secret'), st), { errno: errno.EXDEV }, 'nor by climbing');
        t.throws(() => native.openBeneath(dirFd, Buffer.from('a/b/c'), st), { errno: errno.ENOTDIR });
        t.throws(() => native.openBeneath(dirFd, Buffer.from('missing'), st), { errno: errno.ENOENT });
        closeSync(dirFd);
        t.throws(() => native.openDirBeneath(dir, Buffer.from('layer/up')), /Not a directory|Too many levels of symbolic links/, 'a symlinked directory is refused');
        t.ok(native.openDirBeneath(join(dir, 'layer', 'up'), Buffer.alloc(0)) >= 0, 'the anchor itself is followed (it is the store the user named)');
      } finally {
        native.useOpenat2(true);
      }
    }
  });
}

t.test('statFiles: the lstat numbers the metadata index keeps, as node:fs gives them; failures as minus their errno', async (t) => {
  if (!native) return t.pass('no native helpers');
  const { statFilesNatively } = await import('../../native/small-files.js');
  const base = t.testdir({ a: { text: 'plain text\n', empty: '', dir: {} }, b: 'a file where a directory should be' });
  const a = join(base, 'a');
  execFileSync('mkfifo', [join(a, 'fifo')]);
  symlinkSync('text', join(a, 'link'));
  const names = ['a', 'b', 'c'];
  const fileNames = ['text', 'empty', 'dir', 'fifo', 'link', 'missing', ''];
  // statInto's numbers, from node:fs: a symlink is the link itself (lstat), a failure minus its errno and zeros.
  const expected = names.flatMap((name) =>
    fileNames.flatMap((file) => {
      try {
        const st = lstatSync(file ? join(base, name, file) : join(base, name));
        return [st.mode, st.size, st.mtimeMs, st.ctimeMs, st.ino, st.dev];
      } catch (err) {
        return [-Math.abs((err as NodeJS.ErrnoException).errno!), 0, 0, 0, 0, 0];
      }
    }),
  );
  t.equal(expected[4 * 6] & 0o170000, 0o120000, 'the symlink itself');
  t.equal(expected[7 * 6], -errno.ENOTDIR, 'below a file: ENOTDIR');
  t.equal(expected[14 * 6], -errno.ENOENT, 'below nothing: ENOENT');
  for (const threads of [1, 3]) t.same([...(await statFilesNatively(base, names, fileNames, threads))!], expected, `on ${threads} thread(s): every number, in names × fileNames order`);
  await t.rejects(statFilesNatively(join(base, 'none'), names, fileNames)!, { errno: errno.ENOENT }, 'a base that cannot be opened rejects');
});

// ---- readSmallFiles: many small files at once, natively and in JavaScript ----

/** Bytes as a test compares them: a large file by its digest and length (a failure then prints a line, not the file). */
const shown = (bytes: Buffer): Buffer | string => (bytes.length > 1024 ? `${createHash('sha256').update(bytes).digest('hex')} (${bytes.length} bytes)` : Buffer.from(bytes));

/** Every file of a bulk read, as a plain value: its bytes, or its problem's code and message. */
function outcomes(files: SmallFiles): Array<Buffer | string | FileProblem> {
  return Array.from({ length: files.count }, (_, k) => {
    const got = files.get(k);
    return Buffer.isBuffer(got) ? shown(got) : { code: got.code, message: got.message };
  });
}

const notRegular = (what: string): FileProblem => ({ code: '', message: `is ${what}, not a regular file (not read)` });
const errnoProblem = (code: string, message: string): FileProblem => ({ code, message });

t.test('readSmallFiles: the bytes node:fs reads; absent, unreadable, odd files and symlinks told apart, natively as in JavaScript', async (t) => {
  if (!native) return t.pass('no native helpers');
  const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x00, 0xff, 0x0a]); // not UTF-8, a NUL inside
  const big = Buffer.alloc(SMALL_FILE_BYTES + 4096, 'sha256:');
  const base = t.testdir({ a: { text: 'plain text\n', empty: '', latin1, big, dir: {} }, b: 'a file where a directory should be' });
  const a = join(base, 'a');
  execFileSync('mkfifo', [join(a, 'fifo'), join(a, 'fifo-held')]);
  const writer = openSync(join(a, 'fifo-held'), constants.O_RDWR | constants.O_NONBLOCK); // a writer with nothing written
  t.teardown(() => closeSync(writer));
  symlinkSync('text', join(a, 'link'));
  symlinkSync('nowhere', join(a, 'dangling'));
  const root = process.getuid?.() === 0;
  if (root) execFileSync('mknod', [join(a, 'null'), 'c', '1', '3']);
  const fileNames = ['text', 'empty', 'latin1', 'big', 'dir', 'fifo', 'fifo-held', 'link', 'dangling', 'missing', ...(root ? ['null'] : [])];
  const names = ['a', 'b', 'c'];
  const enoent = errnoProblem('ENOENT', 'no such file or directory');
  const loop = errnoProblem('ELOOP', 'too many symbolic links encountered'); // a symlink is not followed
  const expected: Array<Buffer | string | FileProblem> = [
    readFileSync(join(a, 'text')),
    Buffer.alloc(0),
    latin1,
    shown(big),
    errnoProblem('EISDIR', 'illegal operation on a directory'),
    notRegular('a FIFO'),
    notRegular('a FIFO'),
    loop,
    loop,
    enoent,
    ...(root ? [notRegular('a character device')] : []),
    ...fileNames.map(() => errnoProblem('ENOTDIR', 'not a directory')),
    ...fileNames.map(() => enoent),
  ];
  const twin = readSmallFilesSync(base, names, fileNames);
  t.same(outcomes(twin), expected, 'the JavaScript twin: every outcome, in names × fileNames order');
  for (const threads of [1, 3]) {
    const natively = (await readSmallFilesNatively(base, names, fileNames, { threads }))!;
    t.same(outcomes(natively), expected, `natively on ${threads} threads: the same`);
    const texts = (files: SmallFiles) => Array.from({ length: files.count }, (_, k) => files.text(k));
    t.ok(texts(natively).every((text, k) => JSON.stringify(text) === JSON.stringify(texts(twin)[k])), 'the same text, non-UTF-8 bytes decoded alike');
    t.equal(natively.text(2), latin1.toString('utf8'));
  }
  const raw = await native.readSmallFiles(base, ['a'], ['text', 'big', 'fifo', 'dir', 'missing'], SMALL_FILE_BYTES, 2);
  t.same([...raw.status], [0, -1, -(fs.lstatSync(join(a, 'fifo')).mode), errno.EISDIR, errno.ENOENT], 'raw: read, too large (left to JavaScript), a FIFO by its mode, errnos');
  t.equal(raw.bytes.toString(), 'plain text\n', 'only what was read is in the buffer');
  t.same([...raw.ends], [11, 11, 11, 11, 11]);

  const tiny = (await readSmallFilesNatively(base, ['a'], ['text', 'latin1'], { maxBytes: 4 }))!;
  t.same(outcomes(tiny), [readFileSync(join(a, 'text')), latin1], 'files larger than maxBytes are still read whole');
  t.same(outcomes(readSmallFilesSync(base, ['a'], ['text', 'latin1'], 4)), outcomes(tiny), 'by the twin too');

  const gone = join(base, 'gone');
  t.same(outcomes((await readSmallFilesNatively(gone, ['a'], ['text', '']))!), [enoent, enoent], 'a base that is absent: every file says so');
  t.same(outcomes(readSmallFilesSync(gone, ['a'], ['text', ''])), [enoent, enoent]);
  t.same(outcomes((await readSmallFilesNatively(a, ['text', 'dir', 'nothing'], ['']))!), [readFileSync(join(a, 'text')), expected[4], enoent], 'an empty file name: the names themselves are the files');
});

t.test('readSmallFiles: many entries shared out between threads come back in order', async (t) => {
  if (!native) return t.pass('no native helpers');
  const base = t.testdir({});
  const names = Array.from({ length: 700 }, (_, i) => `e${i}`);
  for (const [i, name] of names.entries()) {
    mkdirSync(join(base, name));
    writeFileSync(join(base, name, 'size'), String(i * 7));
    if (i % 3 === 0) writeFileSync(join(base, name, 'parent'), `sha256:${String(i).padStart(64, '0')}`);
  }
  const expected = names.flatMap((name, i) => [Buffer.from(String(i * 7)), i % 3 === 0 ? readFileSync(join(base, name, 'parent')) : errnoProblem('ENOENT', 'no such file or directory')]);
  const natively = (await readSmallFilesNatively(base, names, ['size', 'parent'], { threads: 4 }))!;
  t.same(outcomes(natively), expected);
  t.same(outcomes(readSmallFilesSync(base, names, ['size', 'parent'])), expected);
});

t.test('readSmallFiles: a file this user may not read is EACCES, natively as in JavaScript', async (t) => {
  if (!native || process.getuid?.() !== 0) return t.pass('needs the native helpers and root (to become nobody)');
  const base = t.testdir({ a: { secret: 'root only', open: 'for all' } });
  fs.chmodSync(join(base, 'a', 'secret'), 0o000);
  const module = new URL('../../native/small-files.ts', import.meta.url).href;
  const script = `
    import { readSmallFilesNatively, readSmallFilesSync } from ${JSON.stringify(module)};
    const show = (f) => Array.from({ length: f.count }, (_, k) => { const g = f.get(k); return Buffer.isBuffer(g) ? g.toString() : g; });
    const args = [${JSON.stringify(base)}, ['a'], ['secret', 'open']];
    console.log(JSON.stringify({ natively: show(await readSmallFilesNatively(...args)), twin: show(readSmallFilesSync(...args)) }));`;
  // tap adds its own hooks to NODE_OPTIONS of every child; they would write tap's files as nobody.
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-u', 'NODE_OPTIONS', process.execPath, '--import=tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' },
    cwd: new URL('../..', import.meta.url).pathname,
  });
  t.equal(r.status, 0, r.stderr);
  const denied = errnoProblem('EACCES', 'permission denied');
  t.same(JSON.parse(r.stdout), { natively: [denied, 'for all'], twin: [denied, 'for all'] });
});
