// Local volumes as docker 20.10's system df lists them: _data measured as pkg/directory.Size (files, each
// inode once, directories not counted), labels and options from metadata.db (written at run time with the
// test bbolt writer), volumes with mount options left out, LINKS from containers' MountPoints.
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { readLocalVolumes, rfc3339Local, volumeUsers } from '../../inspect/docker/volumes.js';
import type { Container, ContainerMountPoint } from '../../inspect/model.js';
import type { Warning } from '../../inspect/warnings.js';
import { bucket, writeBolt } from '../helpers/bbolt-writer.js';

function container(name: string, mounts: Array<Partial<ContainerMountPoint>>): Container {
  return {
    id: name.padEnd(64, '0'), name, imageId: '', imageRef: '', state: 'exited', exitCode: 0, startedAt: '', finishedAt: '', created: '',
    driver: 'overlay2', command: '', mountId: null, initId: null, parentChainId: null, labels: {}, ports: {}, config: {},
    mountPoints: mounts.map((m) => ({ type: 'volume', name: '', source: '', destination: '/d', driver: 'local', rw: true, mode: '', propagation: '', ...m })),
  } as Container;
}

function volumeStore(root: string): void {
  const vols = join(root, 'volumes');
  const data = (name: string) => join(vols, name, '_data');
  for (const name of ['vol-data', 'anon0123', 'vol-unused', 'vol-nfs', 'vol-other-driver']) mkdirSync(data(name), { recursive: true });
  writeFileSync(join(data('vol-data'), 'blob.bin'), 'x'.repeat(1000));
  linkSync(join(data('vol-data'), 'blob.bin'), join(data('vol-data'), 'hardlink.bin')); // counted once
  mkdirSync(join(data('vol-data'), 'sub', 'deeper'), { recursive: true }); // directories count nothing
  writeFileSync(join(data('vol-data'), 'sub', 'deeper', 'f'), 'abc');
  writeFileSync(join(data('vol-data'), 'empty'), '');
  symlinkSync('blob.bin', join(data('vol-data'), 'link')); // a symlink counts its own size (8)
  writeFileSync(join(data('anon0123'), 'a.txt'), 'anon\n');
  writeFileSync(join(vols, 'vol-nfs', 'opts.json'), JSON.stringify({ MountType: 'nfs', MountOpts: 'addr=1.2.3.4', MountDevice: ':/x', Quota: { Size: 0 } }));
  writeFileSync(join(vols, 'backingFsBlockDev'), ''); // not a directory: not a volume
  writeFileSync(
    join(vols, 'metadata.db'),
    writeBolt(
      bucket({
        volumes: bucket({
          'vol-data': JSON.stringify({ Name: 'vol-data', Driver: 'local', Labels: { 'org.example.kind': 'data' }, Options: {} }),
          anon0123: JSON.stringify({ Name: 'anon0123', Driver: 'local', Labels: null, Options: null }),
          'vol-unused': JSON.stringify({ Name: 'vol-unused', Driver: 'local', Labels: {}, Options: {} }),
          'vol-nfs': JSON.stringify({ Name: 'vol-nfs', Driver: 'local', Labels: {}, Options: { type: 'nfs', o: 'addr=1.2.3.4', device: ':/x' } }),
          'vol-other-driver': JSON.stringify({ Name: 'vol-other-driver', Driver: 'rexray', Labels: {}, Options: {} }),
        }),
      }),
    ),
  );
}

t.test('sizes, labels, links; volumes with mount options or another driver left out', async (t) => {
  const root = t.testdir();
  volumeStore(root);
  const containers = [
    container('c-vol', [{ name: 'vol-data', destination: '/data' }, { name: 'anon0123', destination: '/anon' }]),
    container('c-two', [{ name: 'vol-data' }, { type: 'bind', source: '/srv', driver: '' }]),
  ];
  const warnings: Warning[] = [];
  const { volumes } = readLocalVolumes(root, containers, warnings);
  t.same(warnings, []);
  t.same(
    volumes.map((v) => [v.name, v.size, v.refCount, v.labels, v.options]),
    [
      ['anon0123', 5, 1, null, null],
      ['vol-data', 1000 + 3 + 8, 2, { 'org.example.kind': 'data' }, {}],
      ['vol-unused', 0, 0, {}, {}],
    ],
  );
  const data = volumes.find((v) => v.name === 'vol-data')!;
  t.equal(data.mountpoint, join(root, 'volumes', 'vol-data', '_data'));
  t.same(data.usedBy, ['c-vol', 'c-two']);
  t.match(data.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
});

t.test('a volume whose _data is gone: size unknown, with a warning', async (t) => {
  const root = t.testdir();
  mkdirSync(join(root, 'volumes', 'broken'), { recursive: true });
  const warnings: Warning[] = [];
  const { volumes } = readLocalVolumes(root, [], warnings);
  t.same(volumes.map((v) => [v.name, v.size]), [['broken', null]]);
  t.match(warnings, [{ file: join(root, 'volumes', 'broken', '_data'), message: /volume broken: size unknown: no such file or directory/ }]);
});

t.test('an unreadable metadata.db: volumes still listed, with a warning; opts.json then decides', async (t) => {
  const root = t.testdir();
  volumeStore(root);
  writeFileSync(join(root, 'volumes', 'metadata.db'), 'garbage'.repeat(1000));
  const warnings: Warning[] = [];
  const { volumes, unreadable } = readLocalVolumes(root, [], warnings);
  t.same(volumes.map((v) => v.name), ['anon0123', 'vol-data', 'vol-other-driver', 'vol-unused']);
  t.same(unreadable, [{ file: join(root, 'volumes', 'metadata.db'), reason: 'not a bbolt database' }]);
  t.match(warnings, [{ message: /not a bbolt database — volume labels and options unknown/ }]);
});

t.test('no volumes directory: no volumes', async (t) => {
  t.same(readLocalVolumes(t.testdir(), [], []).volumes, []);
});

t.test('helpers', async (t) => {
  const users = volumeUsers([container('a', [{ name: 'v' }, { name: 'v', destination: '/again' }]), container('b', [{ type: 'tmpfs', name: '' }])]);
  t.same([...users], [['v', ['a']]], 'a container counts once per volume');
  if (new Date().getTimezoneOffset() === 0) t.equal(rfc3339Local(Date.UTC(2026, 11, 1, 23, 59, 34, 900)), '2026-12-01T23:59:34Z');
});
