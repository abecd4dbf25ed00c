// Build Cache as docker 20.10's system df counts it, from BuildKit databases written at run time beside
// a synthetic store: which records are shown, their sizes (stored, from a layer, from the graph driver,
// from a blob), shared, parents, times, the CLI's order; and BuildKit's directories are not orphans.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDriver } from '../../drivers/index.js';
import { diskUsage } from '../../inspect/df.js';
import { readBuildKit, rfc3339Nano, sortBuildCache } from '../../inspect/docker/buildkit.js';
import { readStore } from '../../inspect/docker/read-store.js';
import type { Warning } from '../../inspect/warnings.js';
import { bucket, writeBolt, type BoltBucketSpec } from '../helpers/bbolt-writer.js';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore } from '../helpers/sample-store.js';

const T0 = 1796169573000000000n;
const v = (value: unknown) => JSON.stringify({ value });
/** Unix ns as BuildKit writes them: a JSON number beyond 2^53. */
const ns = (offsetNs: bigint) => `{"value":${T0 + offsetNs}}`;

function record(fields: Record<string, string>): BoltBucketSpec {
  return bucket(fields);
}

function buildKitStore(dir: string) {
  const s = buildSampleStore(dir, 'overlay2');
  const L = s.layers;
  const bk = join(s.root, 'buildkit');
  mkdirSync(join(bk, 'content', 'blobs', 'sha256'), { recursive: true });
  const blobHex = 'b'.repeat(64);
  writeFileSync(join(bk, 'content', 'blobs', 'sha256', blobHex), 'x'.repeat(11));
  const used = (i: bigint) => ({ 'cache.usageCount': v(1), 'cache.lastUsedAt': ns(1000n + i) });
  const main = bucket({
    // A local image's layer: only a blob reference, no blob (moby): size 0, shared (an image's layer).
    arec: record({ 'cache.createdAt': ns(1n), 'cache.description': v('from local '), 'cache.blobonly': v(true), 'cache.snapshot': v(L.L1.chainId), 'snapshot.committed': v(true), ...used(1n) }),
    // A RUN step registered as an image's layer: its layer's size.
    brec: record({ 'cache.createdAt': ns(2n), 'cache.parent': v('arec'), 'snapshot.committed': v(true), 'snapshot.size': v(-1), 'cache.equalMutable': '', ...used(5n) }),
    // The build context: a mutable record measured by the graph driver, and its committed twin (hidden).
    crec: record({ 'cache.createdAt': ns(3n), 'cache.description': v('local source for context'), 'cache.recordType': v('source.local'), ...used(3n) }),
    drec: record({ 'cache.createdAt': ns(4n), 'cache.equalMutable': v('crec'), 'snapshot.committed': v(true), 'snapshot.size': v(-1), ...used(4n) }),
    // A size BuildKit stored already.
    erec: record({ 'cache.createdAt': ns(5n), 'cache.parent': v('brec'), 'snapshot.committed': v(true), 'snapshot.size': v(999), 'cache.recordType': v('exec.cachemount'), ...used(2n) }),
    // Not exported: measured by the graph driver; shared only through its child that is an image's layer.
    prec: record({ 'cache.createdAt': ns(6n), 'snapshot.committed': v(true), ...used(6n) }),
    qrec: record({ 'cache.createdAt': ns(7n), 'cache.parent': v('prec'), 'snapshot.committed': v(true), ...used(7n) }),
    // A layer no image uses: its size, not shared.
    zrec: record({ 'cache.createdAt': ns(8n), 'snapshot.committed': v(true), ...used(8n) }),
    // Dropped when BuildKit loads its records: a missing parent, deleted, a lazy blob that is gone.
    frec: record({ 'cache.createdAt': ns(9n), 'cache.parent': v('gone'), 'snapshot.committed': v(true) }),
    grec: record({ 'cache.createdAt': ns(10n), 'cache.deleted': v(true), 'snapshot.committed': v(true) }),
    hrec: record({ 'cache.createdAt': ns(11n), 'cache.blobonly': v(true), 'cache.blob': v(`sha256:${'c'.repeat(64)}`), 'snapshot.committed': v(true) }),
    // A lazy record whose blob is there: the blob's size; never used (no usage count): sorted first.
    irec: record({ 'cache.createdAt': ns(12n), 'cache.blobonly': v(true), 'cache.blob': v(`sha256:${blobHex}`), 'snapshot.committed': v(true) }),
  });
  writeFileSync(join(bk, 'metadata_v2.db'), writeBolt(bucket({ _main: main, _index: bucket({}), _external: bucket({}) })));
  writeFileSync(
    join(bk, 'snapshots.db'),
    writeBolt(
      bucket({
        arec: bucket({ chainid: L.L1.chainId }),
        brec: bucket({ chainid: L.L2.chainId, committed: 'bdir' }),
        bdir: bucket({ parent: L.L1.chainId, iscommitted: '' }),
        crec: bucket({ parent: '' }),
        prec: bucket({ committed: 'pdir' }),
        pdir: bucket({ parent: '', iscommitted: '' }),
        qrec: bucket({ chainid: L.L3.chainId }),
        zrec: bucket({ chainid: L.Z.chainId }),
        [L.L1.chainId]: bucket({}),
      }),
    ),
  );
  // The graph driver's directories of the mutable context and of prec.
  for (const [id, files] of [['crec', { 'ctx.txt': 23 }], ['pdir', { a: 2, b: 3 }], ['bdir', { 'etc/app.conf': 200 }]] as const) {
    for (const [name, size] of Object.entries(files)) {
      mkdirSync(join(s.root, 'overlay2', id, 'diff', name, '..'), { recursive: true });
      writeFileSync(join(s.root, 'overlay2', id, 'diff', name), 'y'.repeat(size));
    }
  }
  return s;
}

t.test('records, sizes, shared and order as docker system df reports them', async (t) => {
  const s = buildKitStore(t.testdir());
  const model = readStore({ root: s.root, driver: 'overlay2', layerFields: 'usage' });
  const warnings: Warning[] = [];
  const r = await diskUsage(model, openDriver('overlay2', s.root), warnings);
  t.same(warnings, []);
  const rows = r.buildCache.map((b) => [b.id, b.size, b.shared, b.type, b.parent, b.mutable]);
  t.same(rows, [
    ['irec', 11, false, 'regular', '', false],
    ['arec', 0, true, 'regular', '', false],
    ['erec', 999, false, 'exec.cachemount', 'brec', false],
    ['crec', 23, false, 'source.local', '', true],
    ['brec', 200, true, 'regular', 'arec', false],
    ['prec', 5, true, 'regular', '', false],
    ['qrec', 30, true, 'regular', 'prec', false],
    ['zrec', 77, false, 'regular', '', false],
  ]);
  const a = r.buildCache.find((b) => b.id === 'arec')!;
  t.equal(a.createdAt, '2026-12-01T23:59:33.000000001Z', 'nanoseconds beyond 2^53 kept');
  t.equal(a.lastUsedAt, '2026-12-01T23:59:33.000001001Z');
  t.equal(a.usageCount, 1);
  t.equal(a.description, 'from local ');
  t.equal(a.inUse, false);
  t.equal(r.buildCache.find((b) => b.id === 'irec')!.lastUsedAt, null, 'never used: no last use');
  t.same(r.orphans.map((o) => o.path), [s.orphanDir], "BuildKit's snapshot directories are not orphans");
});

t.test('an unreadable snapshots.db: sizes unknown with a warning, and no directory called orphaned', async (t) => {
  const s = buildKitStore(t.testdir());
  writeFileSync(join(s.root, 'buildkit', 'snapshots.db'), 'not a database at all'.repeat(300));
  const model = readStore({ root: s.root, driver: 'overlay2', layerFields: 'usage' });
  const warnings: Warning[] = [];
  const r = await diskUsage(model, openDriver('overlay2', s.root), warnings);
  t.ok(warnings.some((w) => w.file === join(s.root, 'buildkit', 'snapshots.db') && /not a bbolt database — build cache incomplete/.test(w.message)), 'named');
  t.same(r.orphans, [], 'nothing orphaned while BuildKit might own it');
  t.ok(r.unknown.some((u) => u.path === s.orphanDir), 'the unreferenced directory is unknown');
  t.equal(r.buildCache.find((b) => b.id === 'erec')!.size, 999, 'a stored size still known');
});

t.test('no buildkit directory: no build cache', async (t) => {
  const s = buildSampleStore(t.testdir());
  t.equal(readBuildKit(s.root), null);
  const r = await diskUsage(readStore({ root: s.root, driver: 'overlay2', layerFields: 'usage' }), openDriver('overlay2', s.root), []);
  t.same(r.buildCache, []);
});

t.test('time and order helpers', async (t) => {
  t.equal(rfc3339Nano(1796169573488474420n), '2026-12-01T23:59:33.48847442Z', 'trailing zeros trimmed as Go does');
  t.equal(rfc3339Nano(1796169573000000000n), '2026-12-01T23:59:33Z');
  t.equal(rfc3339Nano(0n), '1970-01-01T00:00:00Z');
  const sorted = sortBuildCache([
    { id: 'b', lastUsedAt: '2026-01-01T00:00:00.5Z' },
    { id: 'a', lastUsedAt: '2026-01-01T00:00:00.5Z' },
    { id: 'z', lastUsedAt: null },
    { id: 'c', lastUsedAt: '2026-01-01T00:00:00.25Z' },
    { id: 'y', lastUsedAt: null },
  ]);
  t.same(sorted.map((r) => r.id), ['y', 'z', 'c', 'a', 'b']);
});

t.test('the CLI: docker rows, -v sections, --format and -v --format over the same records', async (t) => {
  const s = buildKitStore(t.testdir());
  const vol = join(s.root, 'volumes', 'vol-data', '_data');
  mkdirSync(vol, { recursive: true });
  writeFileSync(join(vol, 'blob'), 'z'.repeat(1234));
  const summary = runCli(['--root', s.root, 'df']);
  t.equal(summary.status, 0, summary.stderr);
  const lines = summary.stdout.split('\n');
  t.match(lines[3], /^Local Volumes {3}1 {9}0 {9}1\.234kB {3}1\.234kB \(100%\)$/, 'Local Volumes row');
  // Not shared: irec 11, erec 999, crec 23, zrec 77.
  t.match(lines[4], /^Build Cache {5}8 {9}0 {9}1\.11kB {4}1\.11kB$/, 'Build Cache row: unshared records only, no percentage');
  t.match(lines[5], /^Leaked layers\s+1\s+0\s+77B\s+77B$/, "strata's rows after docker's");
  const verbose = runCli(['--root', s.root, 'df', '-v']).stdout;
  t.match(verbose, /\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\nvol-data      0         1\.234kB\n/);
  t.match(verbose, /\nBuild cache usage: 1\.11kB\n\nCACHE ID   CACHE TYPE {8}SIZE {6}CREATED +LAST USED +USAGE {5}SHARED\nirec       regular {11}11B /);
  t.match(verbose, /\nerec       exec\.cachemount   999B .* 1 {9}false\n/);
  const json = runCli(['--root', s.root, 'df', '--format', '{{json .}}']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.same(json[3], { Active: '0', Reclaimable: '1.11kB', Size: '1.11kB', TotalCount: '8', Type: 'Build Cache' });
  const ids = runCli(['--root', s.root, 'df', '-v', '--format', '{{range .BuildCache}}{{.ID}}/{{.Parent}}/{{.Shared}} {{end}}']).stdout;
  t.equal(ids, 'irec//false arec//true erec/brec/false crec//false brec/arec/true prec//true qrec/prec/true zrec//false ', 'no table: full ids, the template once');
  const bad = runCli(['--root', s.root, 'df', '--format', '{{.Nope}}']);
  t.equal(bad.status, 1);
  t.equal(bad.stderr, 'strata: error: template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.diskUsageImagesContext\n', "docker's words");
});
