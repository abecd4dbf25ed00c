// Records a tar-split while a layer tar is read (what moby's layer store keeps next to each layer): the
// raw bytes around file contents become segments; each entry becomes a file record with its content's
// CRC-64, so the exact tar can be rebuilt later from the files on disk.
import { gzipSync } from 'node:zlib';
import { Crc64 } from './crc64.js';
import type { RawObserver, TarEntry } from './tar-reader.js';

export class TarSplitWriter {
  private readonly lines: string[] = [];
  private pending: Buffer[] = [];
  private position = 0;
  private crc: Crc64 | null = null;
  private current: TarEntry | null = null;

  /** Pass to readTar: sees every byte of the archive. */
  readonly observe: RawObserver = (bytes, kind) => {
    if (kind === 'segment') this.pending.push(Buffer.from(bytes));
    else this.crc?.update(bytes);
  };

  private flushSegment(): void {
    if (this.pending.length === 0) return;
    const payload = Buffer.concat(this.pending);
    this.pending = [];
    if (payload.length === 0) return;
    this.lines.push(JSON.stringify({ type: 2, payload: payload.toString('base64'), position: this.position++ }));
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
    const utf8 = Buffer.from(e.nameBytes.toString('utf8'), 'utf8').equals(e.nameBytes);
    const record: Record<string, unknown> = { type: 1 };
    if (utf8) record.name = e.name;
    else record.name_raw = e.nameBytes.toString('base64');
    if (e.size > 0 && (e.type === '0' || e.type === '7')) {
      record.size = e.size;
      record.payload = this.crc!.digest().toString('base64');
    } else record.payload = null;
    record.position = this.position++;
    this.lines.push(JSON.stringify(record));
    this.current = null;
    this.crc = null;
  }

  /** The gzipped tar-split.json.gz content, after the whole archive was read. */
  finish(): Buffer {
    this.endEntry();
    this.flushSegment();
    return gzipSync(this.lines.join('\n') + '\n');
  }
}
