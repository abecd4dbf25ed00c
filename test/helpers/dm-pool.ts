// Builds Docker's devicemapper home in its loop-lvm form (<root>/devicemapper: a thin pool's data and
// metadata files, Docker's JSON records of the devices, an empty mnt/) for the tests of strata's read-only
// devicemapper driver. Each device's filesystem is made for real (mkfs, loop mount, rsync into /rootfs,
// /id) and then cut into pool blocks: blocks equal to the snapshot parent's are shared with it, the others
// get data blocks handed out of order, so only a reader that follows the mappings sees the files.
// Needs root, loop devices, mkfs.xfs/mkfs.ext4, xfs_io, rsync, blkid and thin_restore.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, realpathSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DmDeviceSpec {
  /** metadata/<hash> name (Docker's layer cache-id or a container mount id, '-init' suffix allowed). */
  hash: string;
  /** The device it is a snapshot of; null = snapshot of the base device. */
  parentHash: string | null;
  /** Directory whose contents become the device's /rootfs. */
  rootfs: string;
}

export interface DmPoolOptions {
  fs: 'xfs' | 'ext4';
  /** Thin device size; default 512 MiB (xfs needs ≥ 300 MB). Files are sparse. */
  deviceBytes?: number;
  /** Data block size in 512-byte sectors; default 128 (Docker's 64 KiB). The kernel takes multiples of 128 only; others are built too. */
  blockSectors?: number;
}

export interface DmPool {
  /** Device hash ('base' included) → thin device id. */
  deviceIds: Map<string, number>;
  dataBlockBytes: number;
  nrDataBlocks: number;
}

const SECTOR_BYTES = 512;
const DEFAULT_DEVICE_BYTES = 512 * 2 ** 20;
const DEFAULT_BLOCK_SECTORS = 128;
/** Room given to thin_restore (Docker's loop metadata file is 2 GiB sparse; a test pool needs far less). */
const METADATA_FILE_BYTES = 64 * 2 ** 20;
/** Temp directories are named <prefix><pid>-…, so leftovers of a process that is gone can be told apart. */
const TEMP_PREFIX = 'strata-test-dmpool-';
/** Allocations keep their order inside runs of this many data blocks; the runs are laid out last first. */
const ALLOCATION_RUN = 16;
const UNMAPPED = -1;

interface Geometry {
  blockBytes: number;
  blockSectors: number;
  deviceBytes: number;
  deviceBlocks: number;
}

/** One thin device of the pool being built. */
interface PoolDevice {
  hash: string;
  deviceId: number;
  /** Docker's transaction id of its creation (the pool's after it). */
  transactionId: number;
  parent: PoolDevice | null;
  /** Its filesystem as a plain image file in the temp directory. */
  image: string;
  /** Pool time of the snapshot that made it (0 for the base device): dm-thin's creation_time. */
  creationTime: number;
  /** Pool time of the latest snapshot taken of it, or its creation: dm-thin's snap_time. */
  snapTime: number;
  /** For each block of the device, the allocation holding its data, or UNMAPPED. */
  allocationOf: Int32Array;
  /** The device's blocks whose data it holds itself (not shared with its parent), in block order. */
  ownBlocks: number[];
}

const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Builds <dmHome> (= <root>/devicemapper) with every file above. Specs may come in any order; parents are built first. Needs root. */
export function buildDevicemapperPool(dmHome: string, specs: DmDeviceSpec[], opts: DmPoolOptions): DmPool {
  const geometry = geometryOf(opts);
  const ordered = parentsFirst(specs);
  if (existsSync(dmHome) && readdirSync(dmHome).length > 0) throw new Error(`${dmHome} is not empty`);
  removeLoopLeftovers();
  const work = mkdtempSync(join(realpathSync(tmpdir()), `${TEMP_PREFIX}${process.pid}-`));
  try {
    const allocations = new Allocations();
    const devices = makeDevices(work, ordered, opts.fs, geometry, allocations);
    writePool(dmHome, devices, allocations, geometry, work);
    writeDockerRecords(dmHome, devices, geometry, opts.fs, run('blkid', ['-s', 'UUID', '-o', 'value', devices[0].image]).trim());
    return { deviceIds: new Map(devices.map((d) => [d.hash, d.deviceId])), dataBlockBytes: geometry.blockBytes, nrDataBlocks: allocations.count };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The base device, then one device per spec (parents first): each image made in `work`, its blocks mapped. */
function makeDevices(work: string, ordered: DmDeviceSpec[], fs: DmPoolOptions['fs'], geometry: Geometry, allocations: Allocations): PoolDevice[] {
  const base = newDevice('base', null, join(work, 'base.img'), geometry, 0);
  makeBaseImage(base.image, fs, geometry);
  mapBlocks(base, geometry, allocations);
  const devices = [base];
  const byHash = new Map([[base.hash, base]]);
  for (const spec of ordered) {
    const parent = byHash.get(spec.parentHash ?? 'base')!;
    const device = newDevice(spec.hash, parent, join(work, `${devices.length}.img`), geometry, devices.length);
    makeSnapshotImage(device, spec.rootfs, fs, join(work, 'mnt'));
    mapBlocks(device, geometry, allocations);
    devices.push(device);
    byHash.set(device.hash, device);
  }
  return devices;
}

function geometryOf(opts: DmPoolOptions): Geometry {
  const blockSectors = opts.blockSectors ?? DEFAULT_BLOCK_SECTORS;
  const blockBytes = blockSectors * SECTOR_BYTES;
  const deviceBytes = opts.deviceBytes ?? DEFAULT_DEVICE_BYTES;
  if (deviceBytes % blockBytes !== 0) throw new Error(`deviceBytes ${deviceBytes} is not a multiple of the ${blockBytes}-byte data block`);
  return { blockBytes, blockSectors, deviceBytes, deviceBlocks: deviceBytes / blockBytes };
}

/** The specs ordered so that every device comes after the one it is a snapshot of (otherwise in the given order). */
function parentsFirst(specs: DmDeviceSpec[]): DmDeviceSpec[] {
  const byHash = new Map<string, DmDeviceSpec>();
  for (const spec of specs) {
    if (spec.hash === 'base' || spec.hash.includes('/') || spec.hash === '') throw new Error(`device hash ${JSON.stringify(spec.hash)} cannot be used`);
    if (byHash.has(spec.hash)) throw new Error(`device ${spec.hash} given twice`);
    byHash.set(spec.hash, spec);
  }
  const ordered: DmDeviceSpec[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (spec: DmDeviceSpec) => {
    if (state.get(spec.hash) === 'done') return;
    if (state.get(spec.hash) === 'visiting') throw new Error(`device ${spec.hash} is its own ancestor`);
    state.set(spec.hash, 'visiting');
    if (spec.parentHash !== null) {
      const parent = byHash.get(spec.parentHash);
      if (!parent) throw new Error(`device ${spec.hash}: no spec for its parent ${spec.parentHash}`);
      visit(parent);
    }
    state.set(spec.hash, 'done');
    ordered.push(spec);
  };
  specs.forEach(visit);
  return ordered;
}

/** A device numbered after `index` earlier ones: Docker gives the base device id 1 and counts up, one transaction each. */
function newDevice(hash: string, parent: PoolDevice | null, image: string, geometry: Geometry, index: number): PoolDevice {
  // Each snapshot advances the pool's time; the origin's snap_time records its latest snapshot.
  const time = index;
  if (parent) parent.snapTime = time;
  return {
    hash,
    deviceId: index + 1,
    transactionId: index + 1,
    parent,
    image,
    creationTime: time,
    snapTime: time,
    allocationOf: new Int32Array(geometry.deviceBlocks).fill(UNMAPPED),
    ownBlocks: [],
  };
}

// ---- the filesystems ----

function makeBaseImage(image: string, fs: DmPoolOptions['fs'], geometry: Geometry): void {
  writeFileSync(image, '');
  truncateSync(image, geometry.deviceBytes);
  if (fs === 'xfs') run('mkfs.xfs', ['-q', '-f', image]);
  // Lazy init leaves inode tables and journal unwritten (holes) so that images stay small; -b fixed so a
  // small test device gets the 4 KiB blocks of Docker's 10 GB base device rather than mke2fs' "small" type.
  else run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard', image]);
}

/** The device's image: a copy of its parent's, with /rootfs made to equal `rootfs` and /id written if absent. */
function makeSnapshotImage(device: PoolDevice, rootfs: string, fs: DmPoolOptions['fs'], mountPoint: string): void {
  run('cp', ['--sparse=always', device.parent!.image, device.image]);
  mkdirSync(mountPoint, { recursive: true });
  withMountedImage(device.image, mountPoint, fs, () => {
    mkdirSync(join(mountPoint, 'rootfs'), { recursive: true, mode: 0o755 });
    // -c: layers made from tars often share mtimes and sizes, so rsync's quick check would miss changes.
    // --modify-window=-1: times compared to the nanosecond (by default a time in the same second is left
    // as the parent had it). The trailing slashes make rootfs itself take SRC's owner, mode, times, xattrs.
    run('rsync', ['-aHAXc', '--modify-window=-1', '--numeric-ids', '--delete', `${rootfs}/`, `${join(mountPoint, 'rootfs')}/`]);
    if (!existsSync(join(mountPoint, 'id'))) writeFileSync(join(mountPoint, 'id'), device.hash, { mode: 0o600 });
  });
}

/** Runs `fn` with `image` mounted read-write at `mountPoint`; the mount and its loop device are always released. */
function withMountedImage(image: string, mountPoint: string, fs: DmPoolOptions['fs'], fn: () => void): void {
  // xfs: the snapshots share the base device's uuid. ext4: no background zeroing of the lazy inode tables.
  const options = fs === 'xfs' ? 'nouuid,noatime' : 'noatime,noinit_itable';
  const loop = run('losetup', ['--find', '--show', image]).trim();
  try {
    run('mount', ['-t', fs, '-o', options, loop, mountPoint]);
    try {
      fn();
    } finally {
      run('umount', [mountPoint]);
    }
  } finally {
    run('losetup', ['--detach', loop]);
  }
}

// ---- the pool's blocks ----

/** Data blocks handed out in order of need (each remembering the pool time it was written at), and where each lands in the data file. */
class Allocations {
  readonly times: number[] = [];

  get count(): number {
    return this.times.length;
  }

  allocate(time: number): number {
    this.times.push(time);
    return this.times.length - 1;
  }

  /** Runs of ALLOCATION_RUN allocations stay in order inside; the runs are laid out last first (the last, partial one at block 0). */
  dataBlockOf(allocation: number): number {
    const runEnd = (Math.floor(allocation / ALLOCATION_RUN) + 1) * ALLOCATION_RUN;
    return this.count - Math.min(runEnd, this.count) + (allocation % ALLOCATION_RUN);
  }
}

/** Decides for each block of the device whether it is its parent's (the same bytes), or its own. */
function mapBlocks(device: PoolDevice, geometry: Geometry, allocations: Allocations): void {
  const { blockBytes } = geometry;
  const { parent } = device;
  const mine = Buffer.alloc(blockBytes);
  const theirs = Buffer.alloc(blockBytes); // stays zeros for the base device: its "parent" is all unmapped
  const fd = openSync(device.image, 'r');
  const parentFd = parent ? openSync(parent.image, 'r') : null;
  try {
    for (const block of blocksToCompare(device, geometry)) {
      readAt(fd, mine, block * blockBytes);
      if (parentFd !== null) readAt(parentFd, theirs, block * blockBytes);
      // Equal to the parent's: shared, or unmapped like the parent's (an unmapped block reads as zeros).
      if (mine.equals(theirs)) device.allocationOf[block] = parent ? parent.allocationOf[block] : UNMAPPED;
      else {
        device.allocationOf[block] = allocations.allocate(device.creationTime);
        device.ownBlocks.push(block);
      }
    }
  } finally {
    closeSync(fd);
    if (parentFd !== null) closeSync(parentFd);
  }
}

/**
 * The blocks, in order, where the device can differ from its parent: those its image holds data in and
 * those the parent maps. Anywhere else both read as zeros, which leaves the block unmapped. (Reading the
 * whole sparse image instead costs about a second per device.)
 */
function blocksToCompare(device: PoolDevice, geometry: Geometry): number[] {
  const { blockBytes, deviceBlocks } = geometry;
  const candidate = new Uint8Array(deviceBlocks);
  for (const [start, end] of dataRanges(device.image)) {
    for (let b = Math.floor(start / blockBytes); b < Math.min(Math.ceil(end / blockBytes), deviceBlocks); b++) candidate[b] = 1;
  }
  device.parent?.allocationOf.forEach((allocation, b) => {
    if (allocation !== UNMAPPED) candidate[b] = 1;
  });
  const blocks: number[] = [];
  candidate.forEach((isCandidate, b) => isCandidate && blocks.push(b));
  return blocks;
}

/** The [start, end) byte ranges of a file that are not holes, as lseek(SEEK_DATA/SEEK_HOLE) finds them (through xfs_io). */
function dataRanges(file: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let start: number | null = null;
  for (const line of run('xfs_io', ['-r', '-c', 'seek -a -r 0', file]).split('\n')) {
    const [whence, offset] = line.split('\t');
    if (whence === 'DATA') start = Number(offset);
    else if (whence === 'HOLE' && start !== null) {
      ranges.push([start, Number(offset)]);
      start = null;
    }
  }
  if (start !== null) ranges.push([start, statSync(file).size]);
  return ranges;
}

/** Fills `buffer` from `position` on, zeros past the end of the file. */
function readAt(fd: number, buffer: Buffer, position: number): void {
  let done = 0;
  while (done < buffer.length) {
    const n = readSync(fd, buffer, done, buffer.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  buffer.fill(0, done);
}

// ---- the pool's files ----

function writePool(dmHome: string, devices: PoolDevice[], allocations: Allocations, geometry: Geometry, work: string): void {
  const poolDir = join(dmHome, 'devicemapper');
  mkdirSync(poolDir, { recursive: true, mode: 0o700 });
  writeDataFile(join(poolDir, 'data'), devices, allocations, geometry);
  const xml = join(work, 'pool.xml');
  writeFileSync(xml, thinDumpXml(devices, allocations, geometry));
  const metadata = join(poolDir, 'metadata');
  writeFileSync(metadata, '', { mode: 0o600 });
  truncateSync(metadata, METADATA_FILE_BYTES);
  run('thin_restore', ['-q', '-i', xml, '-o', metadata]);
}

/** The data file: every device's own blocks at their data blocks; all-zero blocks left as holes. */
function writeDataFile(path: string, devices: PoolDevice[], allocations: Allocations, geometry: Geometry): void {
  const { blockBytes } = geometry;
  const block = Buffer.alloc(blockBytes);
  const zeros = Buffer.alloc(blockBytes);
  const out = openSync(path, 'w', 0o600);
  try {
    ftruncateSync(out, allocations.count * blockBytes);
    for (const device of devices) {
      const image = openSync(device.image, 'r');
      try {
        for (const b of device.ownBlocks) {
          readAt(image, block, b * blockBytes);
          if (!block.equals(zeros)) writeSync(out, block, 0, blockBytes, allocations.dataBlockOf(device.allocationOf[b]) * blockBytes);
        }
      } finally {
        closeSync(image);
      }
    }
  } finally {
    closeSync(out);
  }
}

/** The pool as thin_dump prints it (and thin_restore reads it). */
function thinDumpXml(devices: PoolDevice[], allocations: Allocations, geometry: Geometry): string {
  const last = devices[devices.length - 1];
  const lines = [
    `<superblock uuid="" time="${last.creationTime}" transaction="${last.transactionId}" flags="0" version="2" data_block_size="${geometry.blockSectors}" nr_data_blocks="${allocations.count}">`,
  ];
  for (const device of devices) {
    const mappings = mappingLines(device, allocations);
    const mapped = device.allocationOf.reduce((n, a) => (a === UNMAPPED ? n : n + 1), 0);
    // A device's own transaction is the pool's when it was created (Docker sets the new id right after).
    lines.push(
      `  <device dev_id="${device.deviceId}" mapped_blocks="${mapped}" transaction="${device.transactionId - 1}" creation_time="${device.creationTime}" snap_time="${device.snapTime}">`,
      ...mappings.map((m) => `    ${m}`),
      '  </device>',
    );
  }
  lines.push('</superblock>', '');
  return lines.join('\n');
}

/** range_mapping for each run of blocks on consecutive data blocks written at the same time, single_mapping for a lone block. */
function mappingLines(device: PoolDevice, allocations: Allocations): string[] {
  const lines: string[] = [];
  const { allocationOf } = device;
  const dataAt = (block: number) => allocations.dataBlockOf(allocationOf[block]);
  const timeAt = (block: number) => allocations.times[allocationOf[block]];
  for (let block = 0; block < allocationOf.length; ) {
    if (allocationOf[block] === UNMAPPED) {
      block++;
      continue;
    }
    const data = dataAt(block);
    const time = timeAt(block);
    let length = 1;
    while (block + length < allocationOf.length && allocationOf[block + length] !== UNMAPPED && dataAt(block + length) === data + length && timeAt(block + length) === time) length++;
    lines.push(
      length === 1
        ? `<single_mapping origin_block="${block}" data_block="${data}" time="${time}"/>`
        : `<range_mapping origin_begin="${block}" data_begin="${data}" length="${length}" time="${time}"/>`,
    );
    block += length;
  }
  return lines;
}

/** Docker's JSON records: metadata/<hash> per device, deviceset-metadata, transaction-metadata; and an empty mnt/. */
function writeDockerRecords(dmHome: string, devices: PoolDevice[], geometry: Geometry, fs: DmPoolOptions['fs'], baseUuid: string): void {
  const metadataDir = join(dmHome, 'metadata');
  mkdirSync(metadataDir, { recursive: true, mode: 0o700 });
  mkdirSync(join(dmHome, 'mnt'), { recursive: true, mode: 0o700 });
  const record = (name: string, value: object) => writeFileSync(join(metadataDir, name), JSON.stringify(value), { mode: 0o600 });
  for (const d of devices) {
    // Docker marks only the base device initialized (once its filesystem is made); snapshots keep false.
    record(d.hash, { device_id: d.deviceId, size: geometry.deviceBytes, transaction_id: d.transactionId, initialized: d.parent === null, deleted: false });
  }
  const last = devices[devices.length - 1];
  // Docker keeps the id it handed out last in next_device_id (it increments before use).
  record('deviceset-metadata', { next_device_id: last.deviceId, BaseDeviceUUID: baseUuid, BaseDeviceFilesystem: fs });
  // No transaction pending: the open one is the pool's.
  record('transaction-metadata', { open_transaction_id: last.transactionId, device_hash: '', device_id: 0 });
}

// ---- leftovers ----

/**
 * Unmounts, detaches and deletes what builds left behind in the temp directory when their process died
 * mid-way (a killed test runs no finally). Builds of live processes are left alone, so parallel tests are
 * safe. Every build calls it first.
 */
export function removeLoopLeftovers(): void {
  const temp = realpathSync(tmpdir());
  const stale = readdirSync(temp)
    .filter((name) => name.startsWith(TEMP_PREFIX) && !isAlive(Number(name.slice(TEMP_PREFIX.length).split('-')[0])))
    .map((name) => join(temp, name) + '/');
  if (stale.length === 0) return;
  const inStale = (path: string) => stale.some((dir) => path.startsWith(dir));
  const mountPoints = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((mountPoint) => mountPoint !== undefined && inStale(mountPoint));
  for (const mountPoint of mountPoints.reverse()) run('umount', ['--lazy', mountPoint]);
  for (const line of run('losetup', ['--list', '--noheadings', '--raw', '--output', 'NAME,BACK-FILE']).split('\n')) {
    const [loop, backing] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
    if (loop && inStale(backing)) run('losetup', ['--detach', loop]);
  }
  for (const dir of stale) rmSync(dir, { recursive: true, force: true });
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
