// save's native tar-split read ahead (native tarSplitOpen/Next/Close, inspect/save.ts exactTarSize): a
// thread inflates while the chunk before is parsed. It must give exactly what the JavaScript reader gives
// (size and batches) for every shape it takes, across chunk cuts, gzip members and lines longer than a
// chunk, and hand everything else back (null) so that the usual reader reads and names it.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import type { ExactBatch } from '../../drivers/archive/assemble.js';
import { encodeHeader, END_OF_ARCHIVE, TYPE } from '../../drivers/archive/tar-header.js';
import { exactTarSize } from '../../inspect/save.js';
import { nativeHelpers } from '../../native/index.js';

const native = nativeHelpers();
const skip = !native?.tarSplitOpen && 'native read ahead not built';

/** Tar-split lines for `n` files of `size` bytes each (the files need not exist: only sizes are read). */
function lines(n: number, size = 5, longName = 0): string[] {
  const out: string[] = [];
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const name = `dir${i % 7}/file-${i}${'x'.repeat(i === 1 ? longName : 0)}`;
    const header = encodeHeader({ name: name.slice(0, 90), type: TYPE.file, mode: 0o100644, uid: 0, gid: 0, size, mtime: 1_700_000_000 });
    out.push(JSON.stringify({ type: 2, payload: header.toString('base64'), position: pos++ }));
    out.push(JSON.stringify({ type: 1, name, size, payload: size ? 'AAAAAAAAAAA=' : null, position: pos++ }));
    out.push(JSON.stringify({ type: 2, payload: Buffer.alloc(512 - (size % 512 || 512)).toString('base64'), position: pos++ }));
  }
  out.push(JSON.stringify({ type: 2, payload: END_OF_ARCHIVE.toString('base64'), position: pos++ }));
  return out;
}

/** Everything the batches say, flattened (their cuts differ between the readers). */
function flat(kept: ExactBatch[] | null) {
  if (!kept) return null;
  const files: number[] = [];
  let pending = 0;
  for (const b of kept) {
    for (let i = 0; i < b.rows; i++) {
      pending += b.table[3 * i];
      if (b.table[3 * i + 2] > 0) {
        files.push(pending, b.table[3 * i + 1], b.table[3 * i + 2]);
        pending = 0;
      }
    }
  }
  const concat = (key: 'segments' | 'names') => Buffer.concat(kept.map((b) => b[key]));
  return { segments: concat('segments').toString('hex'), names: concat('names').toString('latin1'), files, trailing: pending };
}

async function sized(path: string, js: boolean, budget = 1 << 30) {
  const before = process.env.STRATA_NATIVE;
  if (js) process.env.STRATA_NATIVE = '0';
  try {
    const b = { bytes: budget };
    const r = await exactTarSize(path, b);
    return { size: r.size, kept: flat(r.kept), budgetLeft: r.kept ? 'less' : b.bytes === budget ? 'same' : 'changed' };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  } finally {
    if (before === undefined) delete process.env.STRATA_NATIVE;
    else process.env.STRATA_NATIVE = before;
  }
}

/** The read ahead alone: the total it gives, or null when it hands the tar-split back. */
async function readAhead(path: string): Promise<number | null> {
  const h = native!.tarSplitOpen!(path);
  let size = 0;
  let entries = 0;
  try {
    for (;;) {
      const got = await native!.tarSplitNext!(h, entries);
      if (got === false) return size;
      if (got === null) return null;
      entries += got[5];
      size += got[4];
    }
  } finally {
    native!.tarSplitClose!(h);
  }
}

t.test('the read ahead gives what the JavaScript reader gives, or hands the tar-split back', { skip }, async (t) => {
  const dir = t.testdir({});
  const many = lines(12_000); // ~5 MB of lines: several chunks, cut mid-line
  const text = (ls: string[], eol = '\n') => ls.join(eol) + eol;
  const members = (ls: string[], parts: number) => {
    const step = Math.ceil(ls.length / parts);
    return Buffer.concat(Array.from({ length: parts }, (_, i) => gzipSync(text(ls.slice(i * step, (i + 1) * step)))));
  };
  const taken: Record<string, Buffer> = {
    small: gzipSync(text(lines(3))),
    many: gzipSync(text(many)),
    gzipMembers: members(many, 7),
    crlf: gzipSync(text(many, '\r\n')),
    noFinalNewline: gzipSync(many.join('\n')),
    lineLongerThanAChunk: gzipSync(text(lines(40, 5, 3 << 20))),
  };
  const handedBack: Record<string, Buffer> = {
    whitespace: gzipSync(text(many.map((l, i) => (i === 9000 ? l.replace('{', '{ ') : l)))),
    trailingGarbage: Buffer.concat([gzipSync(text(many)), Buffer.from('garbage')]),
    truncated: gzipSync(text(many)).subarray(0, 100_000),
    notGzip: Buffer.from(text(many)),
  };
  // No entries at all is an error the usual reader names: exactTarSize hands it over after the read ahead.
  const empty: Record<string, Buffer> = { emptyGzip: gzipSync('') };
  for (const [name, bytes] of Object.entries({ ...taken, ...handedBack, ...empty })) {
    const path = join(dir, `${name}.gz`);
    writeFileSync(path, bytes);
    const js = await sized(path, true);
    t.same(await sized(path, false), js, `${name}: the same size and batches (or the same error) as JavaScript`);
    const ahead = await readAhead(path);
    if (name in taken) t.equal(ahead, js.size, `${name}: read by the read ahead itself`);
    else if (name in empty) t.equal(ahead, 0, `${name}: read, no entries`);
    else t.equal(ahead, null, `${name}: handed back`);
  }
  t.equal((await sized(join(dir, 'many.gz'), false)).size, 12_000 * 1024 + 1024, 'sizes add up to the tar');
});

t.test('kept batches stay within the budget', { skip }, async (t) => {
  const dir = t.testdir({});
  const path = join(dir, 'ts.gz');
  writeFileSync(path, gzipSync(lines(12_000).join('\n')));
  const over = await sized(path, false, 1000);
  t.equal(over.kept, null, 'over the budget: none kept');
  t.equal(over.budgetLeft, 'same', 'and the budget untouched');
  const within = await sized(path, false);
  t.not(within.kept, null, 'within it: kept');
  t.equal(within.budgetLeft, 'less', 'and the budget used');
});

t.test('a read ahead can be closed before its end, and refuses a second call at once', { skip }, async (t) => {
  const dir = t.testdir({});
  const path = join(dir, 'ts.gz');
  writeFileSync(path, gzipSync(lines(20_000).join('\n')));
  const h = native!.tarSplitOpen!(path);
  const first = native!.tarSplitNext!(h, 0);
  t.throws(() => native!.tarSplitNext!(h, 0), /not closed nor in use/, 'one call at a time');
  t.throws(() => native!.tarSplitClose!(h), /not in use/, 'no closing while a call runs');
  t.ok(Array.isArray(await first), 'the first chunk parsed');
  native!.tarSplitClose!(h); // the inflater waits on a full queue: it is stopped
  t.throws(() => native!.tarSplitNext!(h, 0), /not closed/, 'closed');
  t.throws(() => native!.tarSplitOpen!(join(dir, 'absent.gz')), { errno: 2 }, 'a missing file throws with its errno');
  execFileSync('mkfifo', [join(dir, 'fifo.gz')]);
  t.equal(native!.tarSplitOpen!(join(dir, 'fifo.gz')), null, 'a FIFO is not waited on: left to the usual reader');
});
