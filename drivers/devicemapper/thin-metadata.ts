// A thin pool's block map, read offline through thin_dump (Debian's thin-provisioning-tools): for one
// thin device, which blocks of the pool's data file hold which of its blocks. strata parses the XML
// thin_dump prints line by line; nothing of the pool is changed (thin_dump only reads its metadata).
import { spawnSync } from 'node:child_process';
import { closeSync } from 'node:fs';
import { openPoolFile, ThinPoolError, type PoolFile } from './pool-file.js';
import { errnoOf, reasonOf } from '../../native/errors.js';

export { ThinPoolError };

/** Blocks origin..origin+length-1 of the thin device are blocks data..data+length-1 of the data file. */
export interface ThinMapping {
  origin: number;
  data: number;
  length: number;
}

export interface ThinDeviceMap {
  devId: number;
  /** Bytes per block (thin_dump's data_block_size is in 512-byte sectors). */
  blockBytes: number;
  /** Blocks the data file has room for, as the pool's superblock records it. */
  nrDataBlocks: number;
  /** Sorted by origin. */
  mappings: ThinMapping[];
}

export const THIN_TOOLS_HINT = "reading devicemapper needs thin_dump from Debian's thin-provisioning-tools (apt-get install thin-provisioning-tools)";

function attributes(line: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of line.matchAll(/([a-z_]+)="([^"]*)"/g)) out.set(m[1], m[2]);
  return out;
}

function numberAttr(attrs: Map<string, string>, name: string, file: string): number {
  const text = attrs.get(name);
  const n = text === undefined ? NaN : Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new ThinPoolError(`thin_dump printed no usable ${name} (${text ?? 'none'})`, { file });
  return n;
}

/**
 * Parses thin_dump's XML for device `devId` (thin_dump --dev-id prints the superblock and that device
 * only). A device the metadata does not hold is a ThinPoolError naming it.
 */
export function parseThinDump(xml: string, devId: number, file: string): ThinDeviceMap {
  let blockBytes = 0;
  let nrDataBlocks = 0;
  let inDevice = false;
  let found = false;
  let mappedBlocks = -1;
  const mappings: ThinMapping[] = [];
  for (const raw of xml.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('<superblock')) {
      const a = attributes(line);
      blockBytes = numberAttr(a, 'data_block_size', file) * 512;
      nrDataBlocks = numberAttr(a, 'nr_data_blocks', file);
    } else if (line.startsWith('<device ')) {
      const a = attributes(line);
      inDevice = numberAttr(a, 'dev_id', file) === devId;
      if (inDevice) mappedBlocks = a.has('mapped_blocks') ? numberAttr(a, 'mapped_blocks', file) : -1;
      found ||= inDevice;
    } else if (line.startsWith('</device')) {
      inDevice = false;
    } else if (inDevice && line.startsWith('<range_mapping')) {
      const a = attributes(line);
      mappings.push({ origin: numberAttr(a, 'origin_begin', file), data: numberAttr(a, 'data_begin', file), length: numberAttr(a, 'length', file) });
    } else if (inDevice && line.startsWith('<single_mapping')) {
      const a = attributes(line);
      mappings.push({ origin: numberAttr(a, 'origin_block', file), data: numberAttr(a, 'data_block', file), length: 1 });
    } else if (line.startsWith('<def') || line.startsWith('<ref')) {
      // Newer thin_dump can print runs shared between devices once, by name: not read here, so never guessed at.
      throw new ThinPoolError('thin_dump printed shared mapping runs (<def>/<ref>), which strata does not read', { file });
    }
  }
  if (blockBytes === 0) throw new ThinPoolError('thin_dump printed no superblock: not thin-pool metadata', { file });
  if (!found) throw new ThinPoolError(`thin device ${devId} is missing from the pool's metadata`, { file });
  const listed = mappings.reduce((n, m) => n + m.length, 0);
  if (mappedBlocks >= 0 && listed !== mappedBlocks) throw new ThinPoolError(`thin device ${devId}: thin_dump listed ${listed} mapped blocks of the ${mappedBlocks} it counts`, { file });
  mappings.sort((a, b) => a.origin - b.origin);
  return { devId, blockBytes, nrDataBlocks, mappings };
}

/**
 * Runs thin_dump on the pool's metadata file (or device) for one thin device. The file is opened (and
 * checked) here and handed to thin_dump as its descriptor, so what is checked is what it reads.
 */
export function readThinDevice(metadata: PoolFile, devId: number): ThinDeviceMap {
  const metadataFile = metadata.path;
  const fd = openPoolFile(metadata);
  let run;
  try {
    run = spawnSync('thin_dump', ['--dev-id', String(devId), '/dev/fd/3'], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe', fd] });
  } finally {
    closeSync(fd);
  }
  if (run.error) {
    if (errnoOf(run.error) === 'ENOENT') throw new ThinPoolError(`thin_dump is not installed: ${THIN_TOOLS_HINT}`, { file: metadataFile, cause: run.error });
    throw new ThinPoolError(`thin_dump failed: ${reasonOf(run.error)}`, { file: metadataFile, cause: run.error });
  }
  if (run.signal) throw new ThinPoolError(`thin_dump ended by ${run.signal}`, { file: metadataFile });
  if (run.status !== 0) {
    const said = run.stderr.split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? `exit status ${run.status}`;
    throw new ThinPoolError(`thin_dump could not read the pool's metadata: ${said}`, { file: metadataFile });
  }
  return parseThinDump(run.stdout, devId, metadataFile);
}
