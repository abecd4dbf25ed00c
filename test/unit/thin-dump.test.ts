// thin_dump's XML as strata reads it: one device's block map, and refusals of what it cannot read safely.
import t from 'tap';
import { parseThinDump } from '../../drivers/devicemapper/thin-metadata.js';

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
