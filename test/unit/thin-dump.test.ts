// thin_dump's XML as strata reads it: one device's block map, and refusals of what it cannot read safely.
import { spawnSync } from 'node:child_process';
import { readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseThinDump, readThinDevice, ThinDumpParser } from '../../drivers/devicemapper/thin-metadata.js';

const xml = (device: string) => `<superblock uuid="" time="0" transaction="1" flags="0" version="2" data_block_size="128" nr_data_blocks="64">
  <device dev_id="1" mapped_blocks="1" transaction="0" creation_time="0" snap_time="0">
    <single_mapping origin_block="0" data_block="0" time="0"/>
  </device>
${device}
</superblock>
`;

t.test('one device, its runs and single blocks sorted by origin, in bytes of 128 sectors', async (t) => {
  const map = parseThinDump(
    xml(`  <device dev_id="2" mapped_blocks="4" transaction="0" creation_time="0" snap_time="0">
    <single_mapping origin_block="9" data_block="3" time="0"/>
    <range_mapping origin_begin="0" data_begin="5" length="3" time="0"/>
  </device>`),
    2,
    'meta',
  );
  t.same(map, { devId: 2, blockBytes: 65536, nrDataBlocks: 64, mappings: [{ origin: 0, data: 5, length: 3 }, { origin: 9, data: 3, length: 1 }] });
});

t.test('refused, naming the file: a missing device, a count that disagrees, shared runs, no superblock', async (t) => {
  t.throws(() => parseThinDump(xml(''), 7, 'meta'), { message: "meta: thin device 7 is missing from the pool's metadata" });
  t.throws(
    () => parseThinDump(xml(`  <device dev_id="2" mapped_blocks="5">\n    <range_mapping origin_begin="0" data_begin="5" length="3" time="0"/>\n  </device>`), 2, 'meta'),
    { message: 'meta: thin device 2: thin_dump listed 3 mapped blocks of the 5 it counts' },
  );
  t.throws(() => parseThinDump(xml(`  <def name="r1">\n    <range_mapping origin_begin="0" data_begin="5" length="3" time="0"/>\n  </def>`), 1, 'meta'), { message: /shared mapping runs/ });
  t.throws(() => parseThinDump('', 1, 'meta'), { message: 'meta: thin_dump printed no superblock: not thin-pool metadata' });
});

t.test('read as it comes: any split of the XML into pieces parses to the same map', async (t) => {
  const whole = xml(`  <device dev_id="2" mapped_blocks="4" transaction="0" creation_time="0" snap_time="0">
    <single_mapping origin_block="9" data_block="3" time="0"/>
    <range_mapping origin_begin="0" data_begin="5" length="3" time="0"/>
  </device>`);
  const want = parseThinDump(whole, 2, 'meta');
  for (let cut = 0; cut <= whole.length; cut++) {
    const parser = new ThinDumpParser(2, 'meta');
    parser.push(whole.slice(0, cut));
    parser.push(whole.slice(cut));
    t.same(parser.end(), want, `cut at ${cut}`);
    if (t.passing() === false) break;
  }
  const last = new ThinDumpParser(1, 'meta');
  last.push(xml('').replace(/\n$/, ''));
  t.equal(last.end().mappings.length, 1, 'a last line without its newline is read too');
});

t.test('thin_dump run on real metadata (thin_restore): a map larger than one read, from a temporary file that is gone', { skip: spawnSync('thin_restore', ['-V']).error ? 'no thin_restore' : false }, async (t) => {
  const dir = t.testdir({ tmp: {} });
  // 30,000 single blocks (every other one, so that no run joins them): some 2 MB of XML, past one 1 MiB read.
  const count = 30_000;
  const lines = [`<superblock uuid="" time="0" transaction="1" flags="0" version="2" data_block_size="128" nr_data_blocks="${2 * count}">`, `  <device dev_id="5" mapped_blocks="${count}" transaction="0" creation_time="0" snap_time="0">`];
  for (let b = 0; b < count; b++) lines.push(`    <single_mapping origin_block="${2 * b}" data_block="${2 * count - 1 - 2 * b}" time="0"/>`);
  lines.push('  </device>', '</superblock>', '');
  writeFileSync(join(dir, 'pool.xml'), lines.join('\n'));
  const metadata = join(dir, 'metadata');
  writeFileSync(metadata, '');
  truncateSync(metadata, 8 << 20);
  t.equal(spawnSync('thin_restore', ['-q', '-i', join(dir, 'pool.xml'), '-o', metadata]).status, 0);
  const map = readThinDevice({ path: metadata, named: false }, 5, join(dir, 'tmp'));
  t.equal(map.mappings.length, count);
  t.same(map.mappings[0], { origin: 0, data: 2 * count - 1, length: 1 });
  t.same(map.mappings[count - 1], { origin: 2 * (count - 1), data: 1, length: 1 });
  t.ok(map.mappings.every((m, i) => m.origin === 2 * i), 'sorted by origin, none lost at a read boundary');
  t.same(readdirSync(join(dir, 'tmp')), [], 'the output file was unlinked');
  t.throws(() => readThinDevice({ path: metadata, named: false }, 6, join(dir, 'tmp')), { message: `${metadata}: thin device 6 is missing from the pool's metadata` });
  t.throws(() => readThinDevice({ path: metadata, named: false }, 5, join(dir, 'nowhere')), { message: /nowhere\/\.strata-thin-dump-[^:]+: no such file or directory — no room for thin_dump's output here|nowhere.*no room for thin_dump's output/ });
});
