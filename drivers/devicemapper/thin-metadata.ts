// A thin pool's block map, read offline through thin_dump (Debian's thin-provisioning-tools): for one
// thin device, which blocks of the pool's data file hold which of its blocks. strata parses the XML
// thin_dump prints line by line; nothing of the pool is changed (thin_dump only reads its metadata).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { openPoolFile, ThinPoolError, type PoolFile } from './pool-file.js';
import { errnoOf, fsError, reasonOf } from '../../native/errors.js';

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
 * thin_dump's XML for device `devId`, parsed as it is read, line by line (thin_dump --dev-id prints the
 * superblock and that device only): a large pool's dump is never held whole. A device the metadata does
 * not hold is a ThinPoolError naming it.
 */
export class ThinDumpParser {
  private blockBytes = 0;
  private nrDataBlocks = 0;
  private inDevice = false;
  private found = false;
  private mappedBlocks = -1;
  private readonly mappings: ThinMapping[] = [];
  /** The unfinished last line of what was pushed so far. */
  private rest = '';

  constructor(
    private readonly devId: number,
    private readonly file: string,
  ) {}

  push(text: string): void {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop()!;
    for (const line of lines) this.line(line.trim());
  }

  private line(line: string): void {
    const file = this.file;
    if (line.startsWith('<superblock')) {
      const a = attributes(line);
      this.blockBytes = numberAttr(a, 'data_block_size', file) * 512;
      this.nrDataBlocks = numberAttr(a, 'nr_data_blocks', file);
    } else if (line.startsWith('<device ')) {
      const a = attributes(line);
      this.inDevice = numberAttr(a, 'dev_id', file) === this.devId;
      if (this.inDevice) this.mappedBlocks = a.has('mapped_blocks') ? numberAttr(a, 'mapped_blocks', file) : -1;
      this.found ||= this.inDevice;
    } else if (line.startsWith('</device')) {
      this.inDevice = false;
    } else if (this.inDevice && line.startsWith('<range_mapping')) {
      const a = attributes(line);
      this.mappings.push({ origin: numberAttr(a, 'origin_begin', file), data: numberAttr(a, 'data_begin', file), length: numberAttr(a, 'length', file) });
    } else if (this.inDevice && line.startsWith('<single_mapping')) {
      const a = attributes(line);
      this.mappings.push({ origin: numberAttr(a, 'origin_block', file), data: numberAttr(a, 'data_block', file), length: 1 });
    } else if (line.startsWith('<def') || line.startsWith('<ref')) {
      // Newer thin_dump can print runs shared between devices once, by name: not read here, so never guessed at.
      throw new ThinPoolError('thin_dump printed shared mapping runs (<def>/<ref>), which strata does not read', { file });
    }
  }

  end(): ThinDeviceMap {
    this.line(this.rest.trim());
    this.rest = '';
    const { file, devId, mappings } = this;
    if (this.blockBytes === 0) throw new ThinPoolError('thin_dump printed no superblock: not thin-pool metadata', { file });
    if (!this.found) throw new ThinPoolError(`thin device ${devId} is missing from the pool's metadata`, { file });
    let listed = 0;
    for (const m of mappings) listed += m.length;
    if (this.mappedBlocks >= 0 && listed !== this.mappedBlocks) throw new ThinPoolError(`thin device ${devId}: thin_dump listed ${listed} mapped blocks of the ${this.mappedBlocks} it counts`, { file });
    mappings.sort((a, b) => a.origin - b.origin);
    return { devId, blockBytes: this.blockBytes, nrDataBlocks: this.nrDataBlocks, mappings };
  }
}

/** thin_dump's whole XML for device `devId`, parsed (see ThinDumpParser). */
export function parseThinDump(xml: string, devId: number, file: string): ThinDeviceMap {
  const parser = new ThinDumpParser(devId, file);
  parser.push(xml);
  return parser.end();
}

/** Chunks read from thin_dump's output at a time. */
const DUMP_CHUNK = 1 << 20;

/**
 * Runs thin_dump on the pool's metadata file (or device) for one thin device. The file is opened (and
 * checked) here and handed to thin_dump as its descriptor, so what is checked is what it reads. Its
 * output goes to an unlinked temporary file, read back a chunk at a time: a pool's dump can be far larger
 * than anything worth holding in memory.
 */
export function readThinDevice(metadata: PoolFile, devId: number, tmpDir: string): ThinDeviceMap {
  const metadataFile = metadata.path;
  const fd = openPoolFile(metadata);
  let out: number;
  try {
    out = unlinkedTempFile(tmpDir);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  try {
    let run;
    try {
      run = spawnSync('thin_dump', ['--dev-id', String(devId), '/dev/fd/3'], { encoding: 'utf8', maxBuffer: 1 << 20, stdio: ['ignore', out, 'pipe', fd] });
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
    const parser = new ThinDumpParser(devId, metadataFile);
    const decoder = new StringDecoder('utf8');
    const chunk = Buffer.allocUnsafe(DUMP_CHUNK);
    for (let at = 0; ; ) {
      const n = readSync(out, chunk, 0, chunk.length, at);
      if (n === 0) break;
      parser.push(decoder.write(chunk.subarray(0, n)));
      at += n;
    }
    parser.push(decoder.end());
    return parser.end();
  } finally {
    closeSync(out);
  }
}

/** A new file in `dir`, opened for reading and writing and unlinked at once: it goes with its descriptor. */
function unlinkedTempFile(dir: string): number {
  const path = join(dir, `.strata-thin-dump-${process.pid}-${randomBytes(6).toString('hex')}`);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    throw fsError(path, err, "no room for thin_dump's output here (STRATA_TMPDIR or TMPDIR chooses another directory)");
  }
  unlinkSync(path);
  return fd;
}
