// Converts a data-root written by a real dockerd with --storage-driver vfs into the same store as dockerd's
// devicemapper driver (loop-lvm) holds it, for the devicemapper driver's tests: vfs/dir/<id> holds each
// layer's and each container device's complete root filesystem, which is exactly what a devicemapper
// device's /rootfs holds, so each becomes one thin device (a snapshot of its parent layer's, a container's
// init device of its image's top layer, its read-write device of the init device). image/vfs becomes
// image/devicemapper unchanged, containers' config.v2.json name the devicemapper driver, every other top
// entry is copied as it is.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDevicemapperPool, type DmDeviceSpec, type DmPoolOptions } from './dm-pool.js';

/** Converts a data-root made by a real dockerd with --storage-driver vfs into the same store on devicemapper. */
export function convertVfsToDevicemapper(source: string, out: string, opts: DmPoolOptions): { devices: number } {
  const layerdb = join(source, 'image', 'vfs', 'layerdb');
  const cacheIdOfChain = layerCacheIds(layerdb);
  const devices: DmDeviceSpec[] = [...layerDevices(layerdb, cacheIdOfChain), ...containerDevices(layerdb, cacheIdOfChain)].map((d) => ({
    ...d,
    rootfs: join(source, 'vfs', 'dir', d.hash),
  }));
  const missing = devices.find((d) => !existsSync(d.rootfs));
  if (missing) throw new Error(`${source}: layerdb names ${missing.hash}, which vfs/dir lacks`);
  copyEverythingButVfs(source, out);
  renameContainersDriver(join(out, 'containers'));
  buildDevicemapperPool(join(out, 'devicemapper'), devices, opts);
  return { devices: devices.length };
}

/** A device and the one it is a snapshot of. */
type DeviceLink = Omit<DmDeviceSpec, 'rootfs'>;

const readTrimmed = (path: string): string | null => (existsSync(path) ? readFileSync(path, 'utf8').trim() : null);
const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

/** ChainID ("sha256:…") → the cache-id (the vfs directory, here the device hash) of each layer. */
function layerCacheIds(layerdb: string): Map<string, string> {
  const cacheIds = new Map<string, string>();
  for (const hex of list(join(layerdb, 'sha256'))) {
    const cacheId = readTrimmed(join(layerdb, 'sha256', hex, 'cache-id'));
    if (cacheId) cacheIds.set(`sha256:${hex}`, cacheId);
  }
  return cacheIds;
}

/** The device of the layer a `parent` file names (null: none, the base device). */
function deviceOfChain(parentFile: string, cacheIdOfChain: Map<string, string>): string | null {
  const chainId = readTrimmed(parentFile);
  if (!chainId) return null;
  const cacheId = cacheIdOfChain.get(chainId);
  if (!cacheId) throw new Error(`${parentFile}: no layer ${chainId} in layerdb`);
  return cacheId;
}

/** One device per layer, a snapshot of its parent layer's. */
function layerDevices(layerdb: string, cacheIdOfChain: Map<string, string>): DeviceLink[] {
  return [...cacheIdOfChain].map(([chainId, cacheId]) => ({
    hash: cacheId,
    parentHash: deviceOfChain(join(layerdb, 'sha256', chainId.slice('sha256:'.length), 'parent'), cacheIdOfChain),
  }));
}

/** Per container: its init device on its image's top layer, its read-write device on the init device. */
function containerDevices(layerdb: string, cacheIdOfChain: Map<string, string>): DeviceLink[] {
  const devices: DeviceLink[] = [];
  for (const container of list(join(layerdb, 'mounts'))) {
    const dir = join(layerdb, 'mounts', container);
    const mountId = readTrimmed(join(dir, 'mount-id'));
    if (!mountId) throw new Error(`${dir}: no mount-id`);
    const imageTop = deviceOfChain(join(dir, 'parent'), cacheIdOfChain);
    const initId = readTrimmed(join(dir, 'init-id'));
    if (initId) devices.push({ hash: initId, parentHash: imageTop });
    devices.push({ hash: mountId, parentHash: initId ?? imageTop });
  }
  return devices;
}

/** image/vfs as image/devicemapper, every other top entry but vfs/ as it is (cp -a); `out` gets the data-root's mode. */
function copyEverythingButVfs(source: string, out: string): void {
  mkdirSync(join(out, 'image'), { recursive: true });
  chmodSync(out, statSync(source).mode & 0o7777);
  chmodSync(join(out, 'image'), statSync(join(source, 'image')).mode & 0o7777);
  execFileSync('cp', ['-a', join(source, 'image', 'vfs'), join(out, 'image', 'devicemapper')]);
  for (const entry of readdirSync(source)) {
    if (entry !== 'vfs' && entry !== 'image') execFileSync('cp', ['-a', join(source, entry), join(out, entry)]);
  }
}

/** `"Driver":"vfs"` → `"Driver":"devicemapper"` in each config.v2.json; the rest of its bytes untouched. */
function renameContainersDriver(containers: string): void {
  for (const id of list(containers)) {
    const file = join(containers, id, 'config.v2.json');
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    if ((JSON.parse(text) as { Driver?: string }).Driver !== 'vfs') throw new Error(`${file}: Driver is not vfs`);
    // The top-level field is the only "Driver" whose value is "vfs" (mounts name volume drivers such as "local").
    const fields = [...text.matchAll(/"Driver"\s*:\s*"vfs"/g)];
    if (fields.length !== 1) throw new Error(`${file}: ${fields.length} "Driver":"vfs" fields`);
    const at = fields[0].index!;
    writeFileSync(file, text.slice(0, at) + '"Driver":"devicemapper"' + text.slice(at + fields[0][0].length));
  }
}
