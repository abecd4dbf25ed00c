import t from 'tap';
import { familiarName, parseReference } from '../../inspect/reference.js';

t.test('familiar names as docker prints them', async (t) => {
  t.equal(familiarName('busybox'), 'busybox');
  t.equal(familiarName('docker.io/library/busybox'), 'busybox');
  t.equal(familiarName('index.docker.io/library/busybox'), 'busybox');
  t.equal(familiarName('docker.io/team/app'), 'team/app');
  t.equal(familiarName('library/busybox'), 'busybox');
  t.equal(familiarName('example.com/team/base'), 'example.com/team/base');
  t.equal(familiarName('localhost/app'), 'localhost/app');
  t.equal(familiarName('localhost:5000/app'), 'localhost:5000/app');
  t.equal(familiarName('Busybox'), null, 'uppercase is invalid');
  t.equal(familiarName('a//b'), null);
});

t.test('parse name, tag and digest', async (t) => {
  t.same(parseReference('busybox'), { name: 'busybox', tag: null, digest: null });
  t.same(parseReference('busybox:1.36'), { name: 'busybox', tag: '1.36', digest: null });
  t.same(parseReference('localhost:5000/app'), { name: 'localhost:5000/app', tag: null, digest: null });
  t.same(parseReference('localhost:5000/app:v2'), { name: 'localhost:5000/app', tag: 'v2', digest: null });
  const d = 'sha256:' + 'e'.repeat(64);
  t.same(parseReference(`docker.io/library/alpine@${d}`), { name: 'alpine', tag: null, digest: d });
  t.equal(parseReference('a'.repeat(64)), null, 'a 64-hex string is an id, never a name');
  t.equal(parseReference('app:bad tag'), null);
});
