// inspect/bbolt.ts on databases written at run time by test/helpers/bbolt-writer.ts: meta selection and
// validation, branch and leaf pages, overflow pages, nested and inline buckets, and one-line errors.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fnv64a, openBolt, parseBolt, type BoltBucket } from '../../inspect/bbolt.js';
import { StrataError } from '../../native/errors.js';
import { bucket, metaOffset, writeBolt } from '../helpers/bbolt-writer.js';

/** Every key/value below a bucket as "a/b/key=value" lines (values as text), depth first. */
function flatten(b: BoltBucket, prefix = ''): string[] {
  const out: string[] = [];
  b.forEach((k, v) => {
    if (v === null) out.push(`${prefix}${k}/`, ...flatten(b.bucket(k)!, `${prefix}${k}/`));
    else out.push(`${prefix}${k}=${v.length > 40 ? `<${v.length} bytes>` : v}`);
  });
  return out;
}

t.test('FNV-64a as Go computes it', async (t) => {
  t.equal(fnv64a(Buffer.alloc(0)), 0xcbf29ce484222325n);
  t.equal(fnv64a(Buffer.from('a')), 0xaf63dc4c8601ec8cn);
  t.equal(fnv64a(Buffer.from('foobar')), 0x85944171f73967e8n);
});

t.test('nested buckets, inline and on their own pages, keys in byte order', async (t) => {
  const db = parseBolt(
    writeBolt(
      bucket({
        _main: bucket({
          rec2: bucket({ 'cache.description': '{"value":"two"}' }),
          rec1: bucket({ 'cache.description': '{"value":"one"}', 'snapshot.size': '{"value":23}' }, { sequence: 7n }),
          big: bucket({ k: 'v' }, { inline: false }),
        }),
        _index: bucket({ 'b::x': '', 'a::y': '' }),
      }),
    ),
    'test.db',
  );
  t.same(flatten(db), [
    '_index/', '_index/a::y=', '_index/b::x=',
    '_main/', '_main/big/', '_main/big/k=v',
    '_main/rec1/', '_main/rec1/cache.description={"value":"one"}', '_main/rec1/snapshot.size={"value":23}',
    '_main/rec2/', '_main/rec2/cache.description={"value":"two"}',
  ]);
  t.equal(db.bucket(['_main', 'rec1'])!.sequence, 7n, "a bucket's sequence");
  t.equal(db.bucket(['_main', 'rec1'])!.get('snapshot.size')!.toString(), '{"value":23}', 'get through an inline bucket');
  t.equal(db.bucket('_main')!.bucket('big')!.get('k')!.toString(), 'v', 'get through a bucket on its own page');
  t.equal(db.bucket(['_main', 'nope']), null, 'a missing bucket is null');
  t.equal(db.bucket(['_main', 'rec1', 'deeper']), null);
  t.equal(db.bucket('_main')!.get('rec1'), null, 'get of a bucket name is null, as bbolt Get');
  t.equal(db.bucket(['_main', 'rec1'])!.get('absent'), null);
  t.equal(db.bucket([Buffer.from('_main'), Buffer.from('rec2')])!.get('cache.description')!.toString(), '{"value":"two"}', 'Buffer paths');
  t.equal(db.pageSize, 4096);
  t.equal(db.txid, 3n);
});

t.test('many keys: several leaves under branch pages, three levels deep; lookups of every key', async (t) => {
  const keys = Array.from({ length: 500 }, (_, i) => `key-${String(i).padStart(4, '0')}`);
  const entries: Array<[string, string]> = keys.map((k) => [k, `value of ${k}`]);
  const db = parseBolt(writeBolt(bucket({ b: bucket(entries, { inline: false }) }), { pageSize: 1024, maxLeafElements: 7, maxBranchElements: 5 }), 'many.db');
  const b = db.bucket('b')!;
  const seen: string[] = [];
  b.forEach((k, v) => {
    seen.push(k.toString());
    if (v?.toString() !== `value of ${k}`) t.fail(`value of ${k}`);
  });
  t.same(seen, keys, 'every key, in order');
  t.ok(keys.every((k) => b.get(k)?.toString() === `value of ${k}`), 'every key found by descending the branches');
  t.equal(b.get('key-'), null, 'before the first key');
  t.equal(b.get('key-0250x'), null, 'between two keys');
  t.equal(b.get('zzz'), null, 'after the last key');
  t.equal(db.pageSize, 1024);
});

t.test('values larger than a page live in overflow pages', async (t) => {
  const big = Buffer.alloc(3 * 4096 + 17, 0xab);
  const db = parseBolt(writeBolt(bucket({ b: bucket({ a: 'small', big, z: 'after' }, { inline: false }) })), 'overflow.db');
  const v = db.bucket('b')!.get('big')!;
  t.equal(v.length, big.length);
  t.ok(v.equals(big), 'the whole value, across the overflow pages');
  t.equal(db.bucket('b')!.get('z')!.toString(), 'after');
});

t.test('non-UTF-8 keys and values are bytes', async (t) => {
  const key = Buffer.from([0xff, 0x00, 0x80]);
  const value = Buffer.from([0xc3, 0x28]);
  const db = parseBolt(writeBolt(bucket([[key, bucket([[key, value]])]])), 'bytes.db');
  t.ok(db.bucket([key])!.get(key)!.equals(value));
  t.ok([...db.entries()][0].key.equals(key));
});

t.test('the valid meta page with the higher txid is read', async (t) => {
  const now = bucket({ b: bucket({ state: 'new' }) });
  const before = bucket({ b: bucket({ state: 'old' }) });
  const newerOnPage0 = writeBolt(now, { previous: before, txids: [9n, 8n] });
  t.equal(parseBolt(newerOnPage0, 'x.db').bucket('b')!.get('state')!.toString(), 'new', 'page 0 newer');
  const newerOnPage1 = writeBolt(now, { previous: before, txids: [8n, 9n] });
  t.equal(parseBolt(newerOnPage1, 'x.db').txid, 9n);
  t.equal(parseBolt(newerOnPage1, 'x.db').bucket('b')!.get('state')!.toString(), 'new', 'page 1 newer');

  // A torn write of the newer meta: its checksum fails, so the older one is read (as bbolt does).
  const torn = Buffer.from(newerOnPage1);
  torn.writeBigUInt64LE(10n, metaOffset(1).txid);
  const db = parseBolt(torn, 'x.db');
  t.equal(db.txid, 8n, 'falls back to the other meta');
  t.equal(db.bucket('b')!.get('state')!.toString(), 'old');

  // Page 0 damaged: the page size is found from page 1.
  const first = writeBolt(now, { previous: before, txids: [8n, 9n], pageSize: 8192 });
  first.writeUInt32LE(0, metaOffset(0, 8192).magic);
  t.equal(parseBolt(first, 'x.db').bucket('b')!.get('state')!.toString(), 'new', 'page 1 found at 8192');
});

t.test('errors name the file and the reason in one line', async (t) => {
  const dir = t.testdir({ 'text.db': 'hello, this is not a database at all'.repeat(200), 'empty.db': '' });
  const errorOf = (fn: () => unknown): StrataError => {
    try {
      fn();
    } catch (err) {
      if (err instanceof StrataError) return err;
      throw err;
    }
    throw new Error('no error');
  };
  const text = errorOf(() => openBolt(join(dir, 'text.db')));
  t.equal(text.message, `${join(dir, 'text.db')}: not a bbolt database`);
  t.equal(text.file, join(dir, 'text.db'));
  t.equal(errorOf(() => openBolt(join(dir, 'empty.db'))).reason, 'empty file: not a bbolt database');
  t.equal(errorOf(() => openBolt(join(dir, 'absent.db'))).message, `${join(dir, 'absent.db')}: no such file or directory`);

  const good = writeBolt(bucket({ b: bucket({ k: 'v' }) }));
  const both = Buffer.from(good);
  both.writeUInt8(both[metaOffset(0).txid] ^ 1, metaOffset(0).txid);
  both.writeUInt8(both[metaOffset(1).txid] ^ 1, metaOffset(1).txid);
  t.equal(errorOf(() => parseBolt(both, 'both.db')).message, 'both.db: corrupt bbolt database: checksum mismatch on both meta pages');

  const v1 = Buffer.from(good);
  for (const page of [0, 1] as const) {
    const o = metaOffset(page);
    v1.writeUInt32LE(1, o.version);
    v1.writeBigUInt64LE(fnv64a(v1.subarray(o.magic, o.magic + 56)), o.checksum);
  }
  t.equal(errorOf(() => parseBolt(v1, 'v1.db')).reason, 'bbolt file format version 1, not 2: not read');

  const cut = good.subarray(0, 3 * 4096);
  t.match(errorOf(() => parseBolt(cut, 'cut.db').bucket('b')).reason, /^corrupt bbolt database: page \d+ is beyond the end of the file$/);

  // A branch page pointing at itself: a loop, reported, not followed for ever.
  const looped = writeBolt(bucket({ b: bucket(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'] as [string, string]), { inline: false }) }), { maxLeafElements: 4, maxBranchElements: 100 });
  const rootPgid = Number(looped.readBigUInt64LE(metaOffset(1).magic + 16));
  const rootPage = rootPgid * 4096;
  // The root bucket's leaf holds "b"; its bucket value names the branch page of b's tree.
  const branchPgid = looped.readBigUInt64LE(rootPage + 16 + looped.readUInt32LE(rootPage + 16 + 4) + 1);
  const branchAt = Number(branchPgid) * 4096;
  t.equal(looped.readUInt16LE(branchAt + 8), 0x01, 'the page is a branch');
  looped.writeBigUInt64LE(branchPgid, branchAt + 16 + 8);
  const loopErr = errorOf(() => parseBolt(looped, 'loop.db').bucket('b')!.forEach(() => {}));
  t.match(loopErr.reason, /a tree deeper than 64 pages/);

  if (process.getuid?.() !== 0) {
    const locked = join(dir, 'locked.db');
    writeFileSync(locked, good);
    chmodSync(locked, 0);
    t.match(errorOf(() => openBolt(locked)).reason, /^permission denied/);
  }
});

t.test('a file read from disk, never written', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'meta.db');
  writeFileSync(file, writeBolt(bucket({ v1: bucket({ k: 'v' }) })));
  chmodSync(file, 0o400);
  t.equal(openBolt(file).bucket('v1')!.get('k')!.toString(), 'v', 'a read-only file opens');
  t.equal(openBolt(file).file, file);
});
