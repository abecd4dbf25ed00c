// Hostile layer tars: nothing may be written outside the new layer, a failed apply leaves no half layer
// and no metadata, and the error names the entry.
import { existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { contentPadding, encodeHeader, END_OF_ARCHIVE, TYPE, type TarHeader } from '../../drivers/archive/tar-header.js';
import { DRIVERS as ALL_DRIVERS } from '../../drivers/index.js';

/** The drivers that apply layers (devicemapper is read-only). */
const DRIVERS = ALL_DRIVERS.filter((d) => d.open('/nonexistent').capabilities.writable);
import { applyLayer } from '../../inspect/load.js';
import { StoreWriter } from '../../inspect/write-store.js';

type Entry = Partial<TarHeader> & { name: string; body?: string };

function tarOf(entries: Entry[], { end = true } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    parts.push(encodeHeader({ type: TYPE.file, mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, size: body.length, ...e }));
    if (body.length) parts.push(body, contentPadding(body.length));
  }
  if (end) parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

interface HostileCase {
  what: string;
  tar: (outside: string) => Buffer;
  error: RegExp;
  /** Applied as a compressed layer would be: no archive size to check entries against. */
  unknownSize?: boolean;
  /** --no-devices */
  noDevices?: boolean;
}

const CASES: HostileCase[] = [
  { what: 'a name that climbs out', tar: () => tarOf([{ name: '../escaped', body: 'x' }]), error: /\.\.\/escaped: climbs out of the layer/ },
  { what: 'a name deep enough to climb out', tar: () => tarOf([{ name: 'a/../../escaped', body: 'x' }]), error: /climbs out of the layer/ },
  { what: 'an absolute name', tar: () => tarOf([{ name: '/etc/strata-test', body: 'x' }]), error: /absolute path in a layer tar/ },
  {
    what: 'a path through a symlinked parent',
    tar: (outside) => tarOf([{ name: 'out', type: TYPE.symlink, linkname: outside }, { name: 'out/file', body: 'pwned' }]),
    error: /out\/file: path goes through a symlinked parent/,
  },
  { what: 'a symlink pointing outside', tar: () => tarOf([{ name: 'd/', type: TYPE.dir, mode: 0o755 }, { name: 'd/up', type: TYPE.symlink, linkname: '../../../etc/shadow' }]), error: /symlink to \.\.\/\.\.\/\.\.\/etc\/shadow points outside the layer/ },
  { what: 'a hardlink to a file outside', tar: () => tarOf([{ name: 'h', type: TYPE.hardlink, linkname: '../outside-file' }]), error: /climbs out of the layer/ },
  { what: 'a hardlink to a file not in the layer', tar: () => tarOf([{ name: 'h', type: TYPE.hardlink, linkname: 'etc/shadow' }]), error: /hard link to etc\/shadow, which is not a file in this layer/ },
  { what: 'a device node with --no-devices', tar: () => tarOf([{ name: 'sda', type: TYPE.block, devmajor: 8, devminor: 0 }]), error: /sda: device node 8:0/, noDevices: true },
  // Device nodes are created by default, and confined to the new layer like every other entry.
  { what: 'a device node that climbs out', tar: () => tarOf([{ name: '../null', type: TYPE.char, devmajor: 1, devminor: 3 }]), error: /\.\.\/null: climbs out of the layer/ },
  { what: 'a device node at an absolute path', tar: () => tarOf([{ name: '/dev/strata-full', type: TYPE.char, devmajor: 1, devminor: 7 }]), error: /absolute path in a layer tar/ },
  {
    what: 'a device node through a symlinked parent',
    tar: (outside) => tarOf([{ name: 'out', type: TYPE.symlink, linkname: outside }, { name: 'out/full', type: TYPE.char, devmajor: 1, devminor: 7 }]),
    error: /out\/full: path goes through a symlinked parent/,
  },
  { what: 'a size larger than the archive', tar: () => encodeHeader({ name: 'big', type: TYPE.file, mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 10 * 2 ** 30 }), error: /big: claims 10737418240 bytes, more than the whole archive/ },
  { what: 'a truncated archive', tar: () => tarOf([{ name: 'ok', body: 'fine' }, { name: 'cut', body: 'y'.repeat(5000) }], { end: false }).subarray(0, 2048), error: /truncated/, unknownSize: true },
  { what: 'a corrupt header', tar: () => Buffer.concat([tarOf([{ name: 'ok', body: 'fine' }], { end: false }), Buffer.alloc(512, 0x41)]), error: /bad header checksum/ },
];

for (const factory of DRIVERS) {
  t.test(`${factory.name}: hostile tars are refused and leave nothing behind`, async (t) => {
    const base = t.testdir({ outside: { 'outside-file': 'secret' } });
    const root = join(base, 'root');
    mkdirSync(root);
    const driver = factory.open(root);
    const writer = new StoreWriter(root, factory.name);
    const parent = await applyLayer(writer, driver, null, Readable.from([tarOf([{ name: 'etc/', type: TYPE.dir, mode: 0o755 }, { name: 'etc/passwd', body: 'root:x:0:0\n' }])]), { label: 'base' });
    const layersBefore = readdirSync(join(writer.meta, 'layerdb', 'sha256')).sort();
    const dirsBefore = driver.listLayerIds().sort();
    for (const c of CASES) {
      const tar = c.tar(join(base, 'outside'));
      await t.rejects(
        applyLayer(writer, driver, parent.chainId, Readable.from([tar]), { label: c.what, sourceBytes: c.unknownSize ? undefined : tar.length, allowDevices: !c.noDevices }),
        c.error,
        c.what,
      );
      t.same(driver.listLayerIds().sort(), dirsBefore, `${c.what}: no layer directory left behind`);
      t.same(readdirSync(join(writer.meta, 'layerdb', 'sha256')).sort(), layersBefore, `${c.what}: layerdb unchanged`);
    }
    t.notOk(existsSync(join(base, 'outside', 'file')) || existsSync(join(base, 'outside', 'full')), 'nothing written through the symlink');
    t.notOk(existsSync(join(base, 'escaped')) || existsSync(join(root, 'escaped')), 'nothing written above the layer');
    t.notOk(existsSync(join(base, 'null')) || existsSync(join(root, 'null')) || existsSync('/dev/strata-full'), 'no device node made outside the layer');
    t.same(readdirSync(join(base, 'outside')), ['outside-file']);
    t.same(readdirSync(join(writer.meta, 'layerdb', 'tmp')), [], 'no write-set left in layerdb/tmp');
  });
}

for (const factory of DRIVERS) {
  t.test(`${factory.name}: device nodes are created by default, as dockerd creates them; --no-devices refuses them`, async (t) => {
    const root = t.testdir({});
    const driver = factory.open(root);
    const writer = new StoreWriter(root, factory.name);
    const tar = tarOf([
      { name: 'dev/', type: TYPE.dir, mode: 0o755 },
      { name: 'dev/null', type: TYPE.char, devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/full', type: TYPE.char, devmajor: 1, devminor: 7, mode: 0o666 },
      { name: 'dev/loop0', type: TYPE.block, devmajor: 7, devminor: 0, mode: 0o660 },
    ]);
    const layer = await applyLayer(writer, driver, null, Readable.from([tar]), { label: 'dev' });
    const dir = driver.contentDir(layer.cacheId);
    const rdev = (name: string) => {
      const st = lstatSync(join(dir, name));
      return `${st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : '?'} ${Math.floor(st.rdev / 256)}:${st.rdev % 256} ${(st.mode & 0o777).toString(8)}`;
    };
    t.same(['dev/null', 'dev/full', 'dev/loop0'].map(rdev), ['c 1:3 666', 'c 1:7 666', 'b 7:0 660'], 'each device node made with its numbers and mode');
    const refused = tarOf([{ name: 'dev/', type: TYPE.dir, mode: 0o755 }, { name: 'dev/full', type: TYPE.char, devmajor: 1, devminor: 7, mode: 0o666 }, { name: 'etc/passwd', body: 'x' }]);
    const dirsBefore = driver.listLayerIds().sort();
    await t.rejects(applyLayer(writer, driver, layer.chainId, Readable.from([refused]), { label: 'dev', allowDevices: false }), /dev\/full: device node 1:7/);
    t.same(driver.listLayerIds().sort(), dirsBefore, '--no-devices: no layer left behind');
  });
}
