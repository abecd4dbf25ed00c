// Records a tar-split while a layer tar is read (what moby's layer store keeps next to each layer): every
// byte that is not a regular file's content becomes a segment (headers, PAX and global headers, padding,
// sparse maps and a sparse file's stored data, end blocks, anything after them); each entry becomes a file
// record with its content's CRC-64, so the exact tar can be rebuilt later from the files on disk.
import { gzipSync } from 'node:zlib';
import { isUtf8 } from '../../native/names.js';
import { Crc64 } from './crc64.js';
import type { RawObserver, TarEntry } from './tar-reader.js';

/** Raw bytes kept in one segment record at most, and JSON text gzipped into one member at most. */
const SEGMENT_BYTES = 1 << 20;
const MEMBER_CHARS = 4 << 20;

export class TarSplitWriter {
  // Records are gzipped as they accumulate, one gzip member at a time (Go's and Node's gunzip read
  // concatenated members as one stream), so a long tail of bytes after the archive's end — a compression
  // bomb's zeros — costs compressed bytes in memory, not base64 text.
  private lines: string[] = [];
  private lineChars = 0;
  private readonly members: Buffer[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private position = 0;
  private crc: Crc64 | null = null;
  private current: TarEntry | null = null;

  /** Pass to readTar: sees every byte of the archive. */
  readonly observe: RawObserver = (bytes, kind) => {
    if (kind !== 'segment') {
      this.crc?.update(bytes);
      return;
    }
    this.pending.push(Buffer.from(bytes));
    this.pendingBytes += bytes.length;
    // Consecutive segments are written out one after the other: where one is cut changes no byte.
    if (this.pendingBytes >= SEGMENT_BYTES) this.flushSegment();
  };

  private flushSegment(): void {
    if (this.pending.length === 0) return;
    const payload = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    if (payload.length === 0) return;
    this.push({ type: 2, payload: payload.toString('base64') });
  }

  private push(record: Record<string, unknown>): void {
    const line = JSON.stringify({ ...record, position: this.position++ });
    this.lines.push(line);
    this.lineChars += line.length + 1;
    if (this.lineChars >= MEMBER_CHARS) this.flushMember();
  }

  private flushMember(): void {
    if (this.lines.length === 0) return;
    this.members.push(gzipSync(this.lines.join('\n') + '\n'));
    this.lines = [];
    this.lineChars = 0;
  }

  /** Called when an entry's header has been read, before its content. */
  beginEntry(entry: TarEntry): void {
    this.endEntry();
    this.flushSegment();
    this.current = entry;
    this.crc = new Crc64();
  }

  /** Called once the entry's content has been read. */
  endEntry(): void {
    const e = this.current;
    if (!e) return;
    // tar-split's rules (tar/storage/entry.go, packer.go): a name that is not valid UTF-8 goes to name_raw
    const record: Record<string, unknown> = { type: 1 };
    if (isUtf8(e.nameBytes)) record.name = e.nameBytes.toString('utf8');
    else record.name_raw = e.nameBytes.toString('base64');
    // Only a regular file's content is read back from disk. A sparse file's stored bytes (map and
    // compacted data) are not its content on disk, so they stay in the segments and the record is empty.
    if (e.type === '0' && e.sparseData === null && e.size > 0) {
      record.size = e.size;
      record.payload = this.crc!.digest().toString('base64');
    } else record.payload = null;
    this.push(record);
    this.current = null;
    this.crc = null;
  }

  /** The gzipped tar-split.json.gz content, after the whole archive was read. */
  finish(): Buffer {
    this.endEntry();
    this.flushSegment();
    // tar-split always ends with a segment, even for an empty stream (asm.NewInputTarStream)
    if (this.position === 0) this.push({ type: 2, payload: '' });
    this.flushMember();
    return Buffer.concat(this.members);
  }
}
