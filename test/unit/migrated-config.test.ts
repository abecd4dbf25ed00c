// The config and ID Docker 1.10's v1 migration gives a v1 image: the v1 JSON's own bytes (compacted, keys
// sorted as Go sorts a map's, HTML characters escaped as encoding/json escapes them), without the v1-only
// fields, with rootfs and history added; the ID the sha256 of exactly those bytes.
import { createHash } from 'node:crypto';
import t from 'tap';
import { goCompact, goString, goTimeText, migrateV1Image, topLevelMembers, V1MigrationError } from '../../inspect/v1/migrated-config.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

t.test('a base image: v1-only fields dropped, rootfs and history added, keys in byte order, values compacted', async (t) => {
  const json = Buffer.from(
    '{"id":"' + 'a'.repeat(64) + '", "parent": "", "created":"2014-01-01T00:00:00.120000000Z",\n' +
      ' "container_config": {"Cmd": ["/bin/sh", "-c", "echo <b> & \\u003ci\\u003e"], "Hostname": "x"},\n' +
      ' "docker_version":"1.9.1","Size":1234,"architecture":"amd64","author":"Ann <ann@example.com>","os":"linux","config":{ "Env" : [ "A=1" ] }}',
  );
  const m = migrateV1Image(json, null, D1);
  const text = m.config.toString();
  t.equal(
    text,
    '{"architecture":"amd64","author":"Ann \\u003cann@example.com\\u003e","config":{"Env":["A=1"]},' +
      '"container_config":{"Cmd":["/bin/sh","-c","echo \\u003cb\\u003e \\u0026 \\u003ci\\u003e"],"Hostname":"x"},' +
      '"created":"2014-01-01T00:00:00.120000000Z","docker_version":"1.9.1",' +
      `"history":[{"created":"2014-01-01T00:00:00.12Z","author":"Ann \\u003cann@example.com\\u003e","created_by":"/bin/sh -c echo \\u003cb\\u003e \\u0026 \\u003ci\\u003e"}],` +
      `"os":"linux","rootfs":{"type":"layers","diff_ids":["${D1}"]}}`,
  );
  t.equal(m.id, `sha256:${createHash('sha256').update(m.config).digest('hex')}`, 'the ID is the sha256 of the config bytes');
  t.notOk(m.approximate, 'Docker 1.9.1 wrote it: no re-encoding');
  t.same(JSON.parse(text).history, [{ created: '2014-01-01T00:00:00.12Z', author: 'Ann <ann@example.com>', created_by: '/bin/sh -c echo <b> & <i>' }]);
});

t.test("a child: the parent's DiffIDs and history first", async (t) => {
  const base = migrateV1Image(Buffer.from('{"created":"2014-01-01T00:00:00Z","docker_version":"1.9.0"}'), null, D1);
  const child = migrateV1Image(Buffer.from('{"created":"2014-02-01T00:00:00+01:00","comment":"c","container_config":{"Cmd":"true"},"docker_version":"1.9.0","throwaway":true,"layer_id":"x","parent_id":"y"}'), base, D2);
  const c = JSON.parse(child.config.toString());
  t.same(c.rootfs.diff_ids, [D1, D2]);
  t.same(c.history, [{ created: '2014-01-01T00:00:00Z' }, { created: '2014-02-01T00:00:00+01:00', created_by: 'true', comment: 'c' }]);
  t.notOk('throwaway' in c || 'layer_id' in c || 'parent_id' in c);
});

t.test('Go encodings', async (t) => {
  t.equal(goString('a"b\\c\n\t\r\u0001<>&\u2028é'), '"a\\"b\\\\c\\n\\t\\r\\u0001\\u003c\\u003e\\u0026\\u2028é"');
  t.equal(goCompact(Buffer.from(' { "a" : [ 1 , "x y <" ] , "b\\"" : null } ')).toString(), '{"a":[1,"x y \\u003c"],"b\\"":null}');
  t.same(topLevelMembers(Buffer.from('{"a": {"x": [1, 2]}, "b": "s,}", "a": 3}')).map(([k, v]) => [k, v.toString()]), [['a', '{"x": [1, 2]}'], ['b', '"s,}"'], ['a', '3']]);
  t.equal(goTimeText('2015-06-01T10:00:00.000000000Z'), '2015-06-01T10:00:00Z');
  t.equal(goTimeText('2015-06-01T10:00:00.1234567891+00:00'), '2015-06-01T10:00:00.123456789Z');
  t.equal(goTimeText(undefined), '0001-01-01T00:00:00Z', 'no created: the zero time');
  const last = migrateV1Image(Buffer.from('{"created":"2014-01-01T00:00:00Z","os":"a","os":"b","docker_version":"1.9.0"}'), null, D1);
  t.match(last.config.toString(), /"os":"b"/, 'a repeated key: the last wins, as in a Go map');
});

t.test('what Docker 1.10 could not migrate, and what strata cannot match', async (t) => {
  t.throws(() => migrateV1Image(Buffer.from('{"created": 5}'), null, D1), V1MigrationError);
  t.throws(() => migrateV1Image(Buffer.from('{"created": "yesterday"}'), null, D1), /not an RFC 3339 time/);
  t.throws(() => migrateV1Image(Buffer.from('{"id": '), null, D1), /corrupt JSON/);
  t.ok(migrateV1Image(Buffer.from('{"created":"2014-01-01T00:00:00Z","docker_version":"1.8.2"}'), null, D1).approximate, 'written before 1.8.3: flagged');
  t.ok(migrateV1Image(Buffer.from('{"created":"2014-01-01T00:00:00Z"}'), null, D1).approximate, 'no docker_version: flagged');
});
