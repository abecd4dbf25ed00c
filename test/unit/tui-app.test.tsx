// The TUI's screens, drawn by ink-testing-library on the sample store: the tree with its marks, the layers
// with their commands, the files with their marks, the side views, the keys, a resize.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import React from 'react';
import t from 'tap';
import { render } from 'ink-testing-library';
import { App, type TuiSource } from '../../cli/tui/app.js';
import type { BackgroundState, StartBackground } from '../../cli/tui/background.js';
import { startBackground, startBackgroundOnThread } from '../../cli/tui/background.js';
import type { FileEntry, FileListing, FilesApi, WastedReport } from '../../cli/tui/files-api.js';
import { openStore } from '../../inspect/open-store.js';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore } from '../helpers/sample-store.js';
import { StoreBuilder } from '../helpers/synthetic-store.js';

const s = buildSampleStore(t.testdir());
const short = (id: string) => id.slice(7, 19);
const I = s.images;

const delay = (ms = 40) => new Promise((r) => setTimeout(r, ms));
const ESC = '\x1b';
const TAB = '\t';
const DOWN = '\x1b[B';

async function source(): Promise<TuiSource> {
  return openStore({ root: s.root, layerFields: 'all' });
}

/** Background work as a test sets it: nothing until `finish` hands the figures over. */
function manualBackground() {
  let update: ((p: Partial<BackgroundState>) => void) | null = null;
  const start: StartBackground = (_m, _d, _w, u) => {
    update = u;
  };
  return {
    start,
    finish: async (p: Partial<BackgroundState>) => {
      for (let i = 0; i < 100 && !update; i++) await delay(10);
      update!(p);
    },
  };
}

// --- a stand-in for inspect/layer-files.ts, in this test only: listings whose timing the test controls ---

function entry(path: string, kind: FileEntry['kind'], mark: FileEntry['mark'], size: number, hasChildren = false): FileEntry {
  const name = path.split('/').pop()!;
  return { name: Buffer.from(name), path: Buffer.from(path), kind, mode: kind === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size, linkTarget: null, mark, opaque: false, hasChildren };
}

interface Gate {
  open: () => void;
  promise: Promise<void>;
}
function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { open, promise };
}

function listingOf(dirs: Record<string, FileEntry[] | Error>, wait?: Gate): FileListing {
  return {
    async list(dir: Buffer) {
      if (wait) await wait.promise;
      const v = dirs[dir.toString()];
      if (v instanceof Error) throw v;
      return v ?? [];
    },
    async totals() {
      if (wait) await wait.promise;
      return { files: 0, bytes: 0 };
    },
  };
}

const LAYER_DIRS: Record<string, FileEntry[] | Error> = {
  '': [entry('app', 'dir', 'changed', 34, true), entry('etc', 'dir', null, 200, true), entry('gone.txt', 'file', 'deleted', 0)],
  app: [entry('app/v2', 'file', 'added', 30), entry('app/old', 'file', 'changed', 4)],
  etc: new Error('layer files: /x/etc: permission denied'),
};
const MERGED_DIRS: Record<string, FileEntry[] | Error> = {
  '': [entry('app', 'dir', 'changed', 34, true), entry('bin', 'dir', null, 1000, true), entry('etc', 'dir', null, 200, true)],
  bin: [entry('bin/sh', 'file', null, 1000)],
};

function fakeFiles(opts: { wait?: Gate; wasted?: Promise<WastedReport> } = {}): FilesApi & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    layerChanges(_src, image, layerIndex) {
      asked.push(`layer ${short(image.id)} ${layerIndex}`);
      return listingOf(LAYER_DIRS, opts.wait);
    },
    mergedView(_src, image, layerIndex) {
      asked.push(`merged ${short(image.id)} ${layerIndex}`);
      return listingOf(MERGED_DIRS);
    },
    wastedSpace(_src, image) {
      return (
        opts.wasted ??
        Promise.resolve({
          imageId: image.id,
          bytes: 5_000_000 + 1_200,
          files: [
            { path: Buffer.from('usr/lib/big.so'), bytes: 5_000_000, layerIndex: 0, by: 'overwritten' as const, byLayerIndex: 2 },
            { path: Buffer.from('tmp/cache'), bytes: 1_200, layerIndex: 1, by: 'deleted' as const, byLayerIndex: 2 },
          ],
          unread: [],
        })
      );
    },
  };
}

type Rendered = ReturnType<typeof render>;

/** A frame's lines, trailing spaces cut. */
function lines(r: Rendered): string[] {
  return (r.lastFrame() ?? '').split('\n').map((l) => l.replace(/\s+$/, ''));
}
const text = (r: Rendered) => lines(r).join('\n');

/** The frame once it has stopped changing (a spinner turning does not count), so a busy machine does not lose keys. */
async function settle(r: Rendered) {
  const still = () => (r.lastFrame() ?? '').replace(/[\u2800-\u28ff]/g, '');
  let last = still();
  for (let quiet = 0, i = 0; quiet < 3 && i < 200; i++) {
    await delay(15);
    const now = still();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

async function press(r: Rendered, ...keys: string[]) {
  for (const k of keys) {
    r.stdin.write(k);
    // A lone Esc waits for what may follow it before it counts as Esc.
    if (k === ESC) await delay(60);
    await settle(r);
  }
}

function sized(r: Rendered, columns: number, rows: number) {
  Object.defineProperty(r.stdout, 'columns', { configurable: true, get: () => columns });
  Object.defineProperty(r.stdout, 'rows', { configurable: true, get: () => rows });
}

async function open(opts: { files?: FilesApi | null; background?: StartBackground; columns?: number; rows?: number } = {}) {
  const src = await source();
  const bg = opts.background ?? manualBackground().start;
  const r = render(<App load={Promise.resolve(src)} files={opts.files === undefined ? fakeFiles() : opts.files} background={bg} />);
  sized(r, opts.columns ?? 100, opts.rows ?? 40);
  r.stdout.emit('resize');
  // The store drawn and the key handler in place (effects run after the frame) before a key is pressed.
  await settle(r);
  await delay(100);
  return { r, src };
}

t.test('the tree: tags, sizes, dangling and intermediate images, containers, shared layers, the legend and the status bar', async (t) => {
  const bg = manualBackground();
  const { r } = await open({ background: bg.start });
  const screen = text(r);
  t.match(screen, /\[Images\] 9 images/, 'the tree pane is focused, its title in brackets');
  const row = (id: string) => lines(r).find((l) => l.includes(short(id))) ?? '';
  t.match(row(I.app), new RegExp(`^ +- ${short(I.app)} app:1, example\\.com/team/app:v1 +1\\.23kB$`), 'tags comma separated, the virtual size flush right');
  t.match(row(I.base), new RegExp(`^  - ${short(I.base)} base:1, base:latest +1kB$`), 'expanded: -');
  t.match(row(I.x), new RegExp(`^>   ${short(I.x)} <none>:<none> +9B$`), 'the oldest image first, as images --tree sorts them, selected');
  t.match(row(I.old), /<none>:<none>/, 'a dangling image');
  t.match(row(I.i1), /<none>:<none>/, 'an intermediate image');
  t.match(screen, /container web \(running\)/);
  t.match(screen, /container old-job \(exited\)/);
  t.match(screen, /container idle \(created\)/);
  t.match(screen, /\[layer [0-9a-f]{12}\] shared by 3 images +5kB/, "the layer pulled images share, as images --tree shows it");
  t.match(screen, /legend: dangling {2}intermediate {2}shared layer {2}container {2}orphan/);
  t.match(screen, /Orphaned directories\n +\S? ?loading…/, 'the orphans group says it is loading');
  const status = lines(r).at(-1)!;
  t.match(status, /^9 images {2}10 layers {2}… on disk {2}… reclaimable +\? help {2}q quit$/, 'what needs the walk shows … until known');

  // the containers sit under their image
  const all = lines(r);
  const webAt = all.findIndex((l) => l.includes('container web'));
  t.ok(all[webAt - 1].includes(short(I.app)), 'web is right under app:1');
  t.ok(all[webAt].indexOf('container') > all[webAt - 1].indexOf(short(I.app)), 'and indented below it');

  await bg.finish({ orphans: { list: [{ id: 'f'.repeat(64), path: s.orphanDir, bytes: 50 }], measured: true }, onDisk: 123_456_789, reclaimable: 4_560_000 });
  await delay();
  t.match(text(r), /- Orphaned directories \(1\)\n +orphan ffffffffffff overlay2\/f+… +50B/, 'the orphaned directory, by its path in the data-root, measured');
  t.match(lines(r).at(-1)!, /^9 images {2}10 layers {2}123MB on disk {2}4\.56MB reclaimable +\? help {2}q quit$/);
  r.unmount();
});

t.test('the real background work finds the orphaned directory and fills in the totals', async (t) => {
  const { r } = await open({ background: startBackground });
  for (let i = 0; i < 100 && /… on disk|… reclaimable|Orphaned directories\n +loading/.test(text(r)); i++) await delay(50);
  t.match(text(r), /Orphaned directories \(1\)\n +orphan ffffffffffff /);
  t.match(lines(r).at(-1)!, /^9 images {2}10 layers {2}\d[\d.]*k?B on disk {2}\d[\d.]*k?B reclaimable/);
  r.unmount();
});

t.test('the background in a process of its own (the default) gives the same figures, and quitting does not wait for it', async (t) => {
  const { r } = await open({ background: startBackgroundOnThread });
  for (let i = 0; i < 300 && /… on disk|… reclaimable|Orphaned directories\n +loading/.test(text(r)); i++) await delay(50);
  t.match(text(r), /Orphaned directories \(1\)\n +orphan ffffffffffff /);
  t.match(lines(r).at(-1)!, /^9 images {2}10 layers {2}\d[\d.]*k?B on disk {2}\d[\d.]*k?B reclaimable/);
  const inThread = await open({ background: startBackground });
  for (let i = 0; i < 100 && /… on disk|… reclaimable/.test(text(inThread.r)); i++) await delay(50);
  t.equal(lines(r).at(-1), lines(inThread.r).at(-1), 'the status bar as the in-thread steps fill it');
  inThread.r.unmount();
  r.unmount();
});

t.test('the background process is killed with the TUI: a quit does not wait for the walk', async (t) => {
  const { spawnSync } = await import('node:child_process');
  // A process that starts the background and exits at once: its child must not outlive it.
  const script = `
    import { startBackgroundOnThread } from ${JSON.stringify(new URL('../../cli/tui/background.ts', import.meta.url).href)};
    import { openStore } from ${JSON.stringify(new URL('../../inspect/open-store.ts', import.meta.url).href)};
    const s = await openStore({ root: ${JSON.stringify(s.root)}, layerFields: 'all' });
    startBackgroundOnThread(s.model, s.driver, [], () => {});
    await new Promise((r) => setTimeout(r, 300));
    const { execFileSync } = await import('node:child_process');
    const { readFileSync } = await import('node:fs');
    const kids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(process.pid)], { encoding: 'utf8' }).trim().split(/\\s+/);
    console.log(kids.filter((p) => { try { return readFileSync('/proc/' + p + '/cmdline', 'utf8').includes('background-worker'); } catch { return false; } }).join(' '));
    process.exit(0);
  `;
  const at = Date.now();
  const out = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  t.equal(out.status, 0, out.stderr);
  const kids = out.stdout.trim().split(/\s+/).filter(Boolean).map(Number);
  t.equal(kids.length, 1, `the background process was running (${out.stdout.trim()})`);
  // Gone, or a zombie its new parent has not reaped yet: either way no longer running.
  const running = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
    } catch {
      return false;
    }
  };
  for (const pid of kids) t.notOk(running(pid), `background process ${pid} is gone with the TUI`);
  t.ok(Date.now() - at < 20_000);
});

/** Presses j until the selected row holds `text`. */
async function selectRow(r: Rendered, text: string) {
  for (let i = 0; i < 40 && !(lines(r).find((l) => l.startsWith('> ')) ?? '').includes(text); i++) await press(r, 'j');
  if (!(lines(r).find((l) => l.startsWith('> ')) ?? '').includes(text)) throw new Error(`no row with ${text}`);
}
const selected = (r: Rendered) => lines(r).find((l) => l.startsWith('> ')) ?? '';

t.test('j/k and arrows move; enter collapses and expands; h and l', async (t) => {
  const { r } = await open();
  t.match(selected(r), short(I.x), 'the first row');
  await press(r, 'j');
  t.match(selected(r), /\[layer [0-9a-f]{12}\]/, 'j moves down');
  await press(r, DOWN, DOWN);
  t.match(selected(r), short(I.p2), 'so does the down arrow');
  await press(r, 'k', 'k', 'k', 'k');
  t.match(selected(r), short(I.x), 'k moves up, not past the first row');
  await press(r, 'j', '\r');
  t.match(selected(r), /^> \+ \[layer/, 'enter collapses: +');
  t.notMatch(text(r), /python/, 'what was below is hidden');
  await press(r, '\r');
  t.match(selected(r), /^> - \[layer/, 'enter again expands: -');
  t.match(text(r), /python:3/);
  await press(r, 'j', 'h');
  t.match(selected(r), new RegExp(`^> +\\+ ${short(I.p1)}`), 'h collapses an expanded row');
  await press(r, 'h');
  t.match(selected(r), /\[layer/, 'h on a collapsed row goes to its parent');
  await press(r, 'l', 'l');
  t.match(selected(r), new RegExp(`^> +- ${short(I.p1)}`), 'l steps into an expanded row, then expands a collapsed one');
  await press(r, 'jjj');
  t.match(selected(r), short(I.base), 'keys typed in one read each count');
  await press(r, 'G');
  t.match(selected(r), /Orphaned directories|loading/, 'G: the last row');
  await press(r, 'g');
  t.match(selected(r), short(I.x), 'g: the first');
  r.unmount();
});

t.test('tab moves to the layers: created-by, size, images sharing the layer, empty steps greyed', async (t) => {
  const dir = t.testdir();
  const b = new StoreBuilder(dir);
  const A = b.layer(null, { 'bin/sh': 'x'.repeat(1000) }, 'A');
  const B = b.layer(A, { 'etc/conf': 'y'.repeat(20) }, 'B');
  b.image({ layers: [A], tags: ['base:1'] });
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '2024-02-01T00:00:00Z',
    config: { Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: [A.diffId, B.diffId] },
    history: [
      { created_by: '/bin/sh -c #(nop) ADD file:0123abcd in / ' },
      { created_by: '/bin/sh -c #(nop)  ENV   A=1', empty_layer: true },
      { created_by: '/bin/sh -c echo hi > /etc/conf' },
    ],
  });
  const hex = createHash('sha256').update(config).digest('hex');
  writeFileSync(join(b.meta, 'imagedb', 'content', 'sha256', hex), config);
  b.tag('hist:1', `sha256:${hex}`);
  const src = await openStore({ root: dir, layerFields: 'all' });
  const r = render(<App load={Promise.resolve(src)} files={null} background={manualBackground().start} />);
  sized(r, 100, 30);
  r.stdout.emit('resize');
  await delay(60);
  await selectRow(r, 'hist:1');
  await press(r, TAB);
  const screen = text(r);
  t.match(screen, /\[Layers\] hist:1/, 'the layers pane is focused, titled with the image');
  t.match(screen, /^ Images /m, 'the tree pane no longer in brackets');
  t.notMatch(screen, /\[Images\]/);
  const rows = lines(r).filter((l) => /^(> | {2}) +\d[\d.]*k?B /.test(l));
  t.equal(rows.length, 3, 'a row per step, the empty one too');
  t.match(rows[0], /^> +1kB +2 ADD file:0123abcd in \/ *│/, 'base first, selected: size, shared by both images, the command without #(nop)');
  t.match(rows[1], /^ +0B +ENV A=1 *│/, 'an empty step: 0B, no sharing count');
  t.match(rows[2], /^ +20B +1 \/bin\/sh -c echo hi > \/etc\/conf/, 'a RUN step keeps its shell');
  await press(r, 'j');
  t.match(selected(r), /ENV A=1/, 'j moves in the layers');
  t.match(text(r), /empty layer: no files/, 'the files pane says an empty step has none');
  r.unmount();
});

t.test('the files pane: marks, sizes, directories expanded lazily, an error in place, the merged view, changes only', async (t) => {
  const wait = gate();
  const files = fakeFiles({ wait });
  const { r } = await open({ files, columns: 140 });
  // app:1's rows: base, i1, i2, app
  await selectRow(r, short(I.app));
  await press(r, TAB, TAB);
  t.match(text(r), /\[Files \(layer\)\]/, 'the files pane is focused, the layer view');
  t.match(text(r), /loading…/, 'a listing not loaded yet shows loading…');
  wait.open();
  await delay(60);
  const screen = text(r);
  t.match(screen, /> C +34B \+app\//, 'a changed directory, collapsed, selected');
  t.match(screen, / {2}  +200B \+etc\//, 'an unchanged directory has no mark');
  t.match(screen, /D +0B +gone\.txt/, 'a deleted file');
  await press(r, '\r');
  t.match(text(r), /> C +34B -app\/\n.*A +30B +v2\n.*C +4B +old/, 'enter expands: its entries below it, indented');
  await press(r, 'j', 'j', 'j', '\r');
  t.match(text(r), /error: layer files: \/x\/etc: permission denied/, 'a directory that cannot be listed says why, in place');
  await press(r, 'c');
  t.match(text(r), /\[Files \(layer\) changes only\]/, 'c: changes only');
  await press(r, ' ');
  t.match(text(r), /\[Files \(merged\) changes only\]/, 'space: the merged view');
  t.ok(files.asked.some((a) => a.startsWith('merged')), 'the merged view was asked for');
  t.notMatch(text(r), /sh$/m, 'changes only hides unchanged files');
  await press(r, 'c');
  t.match(text(r), /\[Files \(merged\)\]/);
  await press(r, 'j', '\r');
  t.match(text(r), /-bin\/\n.* 1kB +sh/, 'the merged view lists what lower layers hold');
  r.unmount();
});

t.test('a listing started before the app (the first layer, read while ink loads) is the one the files pane shows', async (t) => {
  const src = await source();
  const { firstLayer } = await import('../../cli/tui/first-frame.js');
  const { viewKey } = await import('../../cli/tui/data.js');
  const { buildImageTree } = await import('../../inspect/tree.js');
  const first = firstLayer(src.model, buildImageTree(src.model));
  t.ok(first, 'the sample store opens on a layer with files');
  let listed = 0;
  const early: FileListing = {
    async list(dir) {
      listed++;
      return dir.length === 0 ? [entry('early', 'dir', 'added', 7, false)] : [];
    },
    async totals() {
      return { files: 1, bytes: 7 };
    },
  };
  const prefetched = new Map([[viewKey(first!.image.id, first!.layerIndex, 'layer'), early]]);
  const files = fakeFiles();
  const r = render(<App load={Promise.resolve(src)} initial={src} files={files} background={manualBackground().start} prefetched={prefetched} />);
  sized(r, 100, 40);
  await settle(r);
  t.match(text(r), /A +7B +early\//, 'its entries are in the files pane');
  t.same(files.asked, [], 'no second listing of that layer was started');
  t.ok(listed >= 1);
  r.unmount();
});

t.test('without a layer listing the files pane says so', async (t) => {
  const { r } = await open({ files: null });
  t.match(text(r), /file listing is not available in this build/);
  r.unmount();
});

t.test('w: wasted space, largest first, the total in the title', async (t) => {
  let release!: (r: WastedReport) => void;
  const wasted = new Promise<WastedReport>((res) => (release = res));
  const { r } = await open({ files: fakeFiles({ wasted }) });
  await selectRow(r, short(I.base));
  await press(r, 'w');
  t.match(text(r), /Wasted space: base:1\n +\S? ?loading…/, 'a spinner while it is worked out');
  release({
    imageId: I.base,
    bytes: 5_001_200,
    files: [
      { path: Buffer.from('usr/lib/big.so'), bytes: 5_000_000, layerIndex: 0, by: 'overwritten', byLayerIndex: 2 },
      { path: Buffer.from('tmp/cache'), bytes: 1_200, layerIndex: 1, by: 'deleted', byLayerIndex: 2 },
    ],
    unread: [{ layerIndex: 2, reason: 'permission denied' }],
  });
  await settle(r);
  const screen = lines(r);
  t.match(screen[0], /^Wasted space: 5MB in 2 file\(s\) — base:1$/);
  t.match(screen[1], /^ +5MB {2}\/usr\/lib\/big\.so {2}\(layer 1, overwritten in layer 3\)$/);
  t.match(screen[2], /^ +1\.2kB {2}\/tmp\/cache/);
  t.match(screen[3], /layer 3 not read: permission denied/);
  await press(r, ESC);
  t.match(text(r), /\[Images\]/, 'Esc closes it');
  r.unmount();
});

t.test('/ searches by tag or id; Enter keeps the filter, Esc clears it', async (t) => {
  const { r } = await open();
  await press(r, '/', 'p', 'y');
  t.match(lines(r).at(-2)!, /^Search: py/, 'the prompt line');
  t.match(text(r), /python:3/);
  t.notMatch(text(r), /ruby:3|base:1/, 'filtered while typing');
  await press(r, 't', 'h', '\r');
  t.match(lines(r).at(-1)!, /filter: pyth/, 'Enter keeps it: the status line says so');
  t.match(lines(r).at(-2)!, /^legend:/, 'the prompt is gone');
  t.match(text(r), /python:3-full/);
  await press(r, ESC);
  t.match(text(r), /ruby:3/, 'Esc clears it');
  t.notMatch(lines(r).at(-1)!, /filter:/);
  await press(r, '/', ...short(I.x).slice(0, 6).split(''), '\r');
  t.match(text(r), short(I.x), 'an id prefix finds the image');
  t.notMatch(text(r), /python/);
  await press(r, '/', ESC);
  t.match(text(r), /python/, 'Esc in the prompt clears the filter too');
  r.unmount();
});

t.test('several keys in one read all count: text then Enter in the search prompt, jjj, a backspace', async (t) => {
  const { r } = await open();
  // tmux send-keys '/pyth' Enter arrives as one read.
  await press(r, '/pyth\r');
  t.match(lines(r).at(-1)!, /filter: pyth/, 'Enter in the same read keeps the filter');
  t.match(lines(r).at(-2)!, /^legend:/, 'the prompt is gone');
  t.notMatch(text(r), /ruby:3/, 'the tree is filtered');
  await press(r, ESC);
  await press(r, '/rubx\x7fy');
  t.match(lines(r).at(-2)!, /^Search: ruby_/, 'a backspace in the same read takes one character back');
  await press(r, ESC);
  const before = lines(r).findIndex((l) => l.startsWith('> '));
  await press(r, 'jjj');
  const after = lines(r).findIndex((l) => l.startsWith('> '));
  t.equal(after - before, 3, 'jjj in one read moves three rows');
  t.match(lines(r).at(-2)!, /^legend:/, 'the legend line is drawn whole');
  r.unmount();
});

t.test('Ctrl-C quits from anywhere (in one read with other keys, in the prompt) and no background step starts after it', async (t) => {
  for (const keys of ['\x03', 'j\x03', '/ab\x03']) {
    const steps: string[] = [];
    const background: StartBackground = async (_m, _d, _w, _u, whenIdle = async () => {}) => {
      await whenIdle();
      steps.push('first');
      await whenIdle();
      steps.push('second');
    };
    const src = await source();
    let quits = 0;
    const r = render(<App load={Promise.resolve(src)} files={fakeFiles()} background={background} onQuit={() => quits++} />);
    sized(r, 100, 40);
    await settle(r);
    await delay(100);
    r.stdin.write(keys);
    await delay(50);
    t.equal(quits, 1, `${JSON.stringify(keys)}: the app quits`);
    // The background would start at the latest 1 s after the store is shown, each step 0.7 s after a key.
    await delay(1900);
    t.same(steps, [], `${JSON.stringify(keys)}: no background step starts once the user has quit`);
    r.unmount();
  }
});

t.test('d shows dangling images only', async (t) => {
  const { r } = await open();
  await press(r, 'd');
  const screen = text(r);
  t.match(lines(r).at(-1)!, /dangling only/);
  t.match(screen, short(I.old), 'the dangling image');
  t.match(screen, short(I.x), 'the digest-only image is dangling too (no tags)');
  t.notMatch(screen, /python|ruby/, 'no branch without a dangling image');
  await press(r, 'd');
  t.match(text(r), /python/);
  r.unmount();
});

t.test('?: the keys; Esc closes', async (t) => {
  const { r } = await open();
  await press(r, '?');
  t.match(lines(r)[0], /^Keys$/);
  for (const k of ['tab', 'enter', '/', 'space', 'q, Ctrl-C']) t.ok(text(r).includes(k), k);
  await press(r, ESC);
  t.match(text(r), /\[Images\]/);
  r.unmount();
});

t.test('r: the rmi --dry-run dialog says what strata rmi --dry-run prints', async (t) => {
  const { r } = await open();
  await selectRow(r, short(I.app));
  await press(r, 'r');
  const cli = runCli(['--root', s.root, 'rmi', '--dry-run', 'app:1']);
  const expected = (cli.stdout + cli.stderr).trimEnd().split('\n');
  t.ok(expected.length > 0 && expected[0] !== '', 'the CLI printed something');
  const shown = lines(r);
  t.equal(shown[0], 'rmi --dry-run app:1');
  t.same(shown.slice(1, 1 + expected.length).map((l) => l.trim()), expected.map((l) => l.trim()));
  await press(r, ESC);
  await press(r, 'g');
  await selectRow(r, short(I.old)); // dangling, and a container uses it
  await press(r, 'r');
  const cli2 = runCli(['--root', s.root, 'rmi', '--dry-run', short(I.old)]);
  t.equal(cli2.status, 1, 'a container uses it: docker refuses');
  t.match(text(r), cli2.stderr.trim().split('\n')[0].slice(0, 60));
  r.unmount();
});

t.test('i and y: inspect and why in a side view', async (t) => {
  const { r } = await open();
  await selectRow(r, short(I.base));
  await press(r, 'i');
  t.match(lines(r)[0], /^Inspect: base:1$/);
  t.match(text(r), new RegExp(`"id": "${I.base}"`));
  await press(r, ESC, 'y');
  t.match(lines(r)[0], /^Why: base:1$/);
  t.match(text(r), new RegExp(`image ${I.base}`));
  t.match(text(r), /Tags:\n +base:1/);
  await press(r, ESC, TAB, 'y');
  t.match(lines(r)[0], /^Why: layer [0-9a-f]{12}$/, 'from the layers pane, why asks about the layer');
  t.match(text(r), /Images whose chain holds it \(5\)/);
  r.unmount();
});

t.test('resize: the screen reflows to the terminal size (80x24, then narrower)', async (t) => {
  const { r } = await open({ columns: 80, rows: 24 });
  let l = lines(r);
  t.equal(l.length, 24, '24 lines at 80x24');
  t.ok(l.every((x) => x.length <= 80), 'none wider than 80');
  t.match(l.at(-1)!, /^9 images .*\? help {2}q quit$/);
  sized(r, 60, 15);
  r.stdout.emit('resize');
  await delay();
  l = lines(r);
  t.equal(l.length, 15, '15 lines after the resize');
  t.ok(l.every((x) => x.length <= 60), 'none wider than 60');
  t.match(l[0], /\[Images\]/, 'the tree still shows');
  t.match(l.at(-1)!, /9 images/);
  r.unmount();
});

t.test('a long tree draws only the rows that fit', async (t) => {
  const { r } = await open({ columns: 80, rows: 12 });
  const before = lines(r).filter((l) => /[0-9a-f]{12}/.test(l)).length;
  t.ok(before <= 5, `the tree pane shows a window (${before} rows)`);
  await press(r, 'G');
  t.match(selected(r), /loading…/, 'G: the last row (the orphans still loading) is selected and in view');
  r.unmount();
});

/** Every file under `root` with its bytes' hash and mtime: what a read-only command must leave as it was. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out.push(`${p}/ ${st.mtimeMs}`);
        walk(p);
      } else out.push(`${p} ${st.mtimeMs} ${st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : ''}`);
    }
  };
  walk(root);
  return out;
}

t.test('read-only: browsing every view changes nothing in the store', async (t) => {
  const before = snapshot(s.root);
  const { r } = await open({ background: startBackground });
  await press(r, 'j', '\r', '\r', TAB, 'j', TAB, '\r', ' ', 'c', ESC);
  for (const k of ['w', 'i', 'y', 'r', '?']) await press(r, k, ESC);
  await press(r, '/', 'a', '\r', 'd', 'd');
  for (let i = 0; i < 100 && /… on disk|… reclaimable/.test(text(r)); i++) await delay(50);
  r.unmount();
  t.same(snapshot(s.root), before);
});

t.test('with inspect/layer-files.ts: the selected layer’s files and the merged view, as the store holds them', async (t) => {
  const { filesApi } = await import('../../cli/tui/files.js');
  const files = await filesApi();
  t.ok(files, 'this build lists layer files');
  const { r } = await open({ files, columns: 120 });
  await selectRow(r, short(I.app));
  await press(r, TAB, 'G', TAB); // app:1's top layer: L3 adds app/v2
  for (let i = 0; i < 100 && /loading…/.test(text(r)); i++) await delay(30);
  t.match(text(r), /\[Files \(layer\)\] 1 files, 30B/, 'the layer view, with its totals');
  t.match(text(r), /> A +30B \+app\//, 'the directory the layer added');
  await press(r, '\r');
  for (let i = 0; i < 100 && /loading…/.test(text(r)); i++) await delay(30);
  t.match(text(r), /A +30B +v2/, 'and its file');
  await press(r, ' ');
  for (let i = 0; i < 100 && /loading…/.test(text(r)); i++) await delay(30);
  const merged = text(r);
  t.match(merged, /\[Files \(merged\)\]/);
  t.match(merged, /A +30B \+app\//, 'the merged view marks what the layer added');
  t.match(merged, / {3}1kB \+bin\//, 'and lists what lower layers hold, unmarked');
  t.match(merged, / {3}200B \+etc\//);
  await press(r, 'c');
  t.match(text(r), /\[Files \(merged\) changes only\]/);
  t.match(text(r), /A +30B \+app\//, 'changes only keeps what the layer changed');
  t.notMatch(text(r), /bin\/|etc\//, 'and drops the directories it did not touch');
  r.unmount();
});

t.test('with inspect/wasted-space.ts: a file a later layer overwrote is listed with its size', async (t) => {
  const { filesApi } = await import('../../cli/tui/files.js');
  const dir = t.testdir();
  const b = new StoreBuilder(dir);
  const A = b.layer(null, { 'data/big': 'a'.repeat(5000), 'etc/keep': 'k' }, 'wA');
  const B = b.layer(A, { 'data/big': 'b'.repeat(10) }, 'wB');
  b.image({ layers: [A, B], tags: ['waste:1'] });
  const src = await openStore({ root: dir, layerFields: 'all' });
  const r = render(<App load={Promise.resolve(src)} files={await filesApi()} background={manualBackground().start} />);
  sized(r, 100, 30);
  r.stdout.emit('resize');
  await settle(r);
  await press(r, 'w');
  for (let i = 0; i < 100 && /loading…/.test(text(r)); i++) await delay(30);
  const l = lines(r);
  t.equal(l[0], 'Wasted space: 5kB in 1 file(s) — waste:1');
  t.match(l[1], /^ +5kB {2}\/data\/big {2}\(layer 1, overwritten in layer 2\)$/);
  r.unmount();
});

t.test('the frame drawn before ink loads is the app’s own first frame', async (t) => {
  const { firstFrame } = await import('../../cli/tui/first-frame.js');
  const { buildImageTree } = await import('../../inspect/tree.js');
  const src = await source();
  const tree = buildImageTree(src.model);
  for (const [columns, rows] of [[80, 24], [120, 40]]) {
    const painted = firstFrame(src.model, tree, columns, rows, true);
    t.ok(painted.startsWith('\x1b[?25l') && painted.endsWith('\x1b[H'), 'cursor hidden, and left at the top for ink');
    const screen = painted
      .slice('\x1b[?25l'.length)
      .split(/\x1b\[\d+;1H/)
      .slice(1)
      .map((l) => l.replace(/\x1b\[[\d;]*m/g, '').replace(/\x1b\[H$/, '').replace(/\s+$/, ''));
    t.equal(screen.length, rows, `${rows} lines`);
    // (a listing that never answers: the files pane stays as the first frame has it, loading)
    const r = render(<App load={Promise.resolve({ ...src, tree })} initial={{ ...src, tree }} files={fakeFiles({ wait: gate() })} background={manualBackground().start} />);
    sized(r, columns, rows);
    r.stdout.emit('resize');
    await delay(20);
    t.same(screen, lines(r), `${columns}x${rows}: the same text, line for line`);
    r.unmount();
  }
});

t.test('the frame drawn before ink loads, with the first layer listed: the app’s frame once that listing answered', async (t) => {
  const { firstFrame, firstLayer } = await import('../../cli/tui/first-frame.js');
  const { buildImageTree } = await import('../../inspect/tree.js');
  const src = await source();
  const tree = buildImageTree(src.model);
  const first = firstLayer(src.model, tree)!;
  t.ok(first, 'the first row’s image has a layer to list');
  const files = fakeFiles();
  const listing = files.layerChanges({ model: src.model, driver: src.driver, warnings: [] }, first.image, first.layerIndex);
  const shown = { entries: await listing.list(Buffer.alloc(0)), totals: await listing.totals() };
  for (const [columns, rows] of [[80, 24], [120, 40]]) {
    const painted = firstFrame(src.model, tree, columns, rows, true, null, shown);
    const screen = painted
      .slice('\x1b[?25l'.length)
      .split(/\x1b\[\d+;1H/)
      .slice(1)
      .map((l) => l.replace(/\x1b\[[\d;]*m/g, '').replace(/\x1b\[H$/, '').replace(/\s+$/, ''));
    t.ok(screen.some((l) => l.includes('gone.txt')), 'the listing is on it');
    const r = render(<App load={Promise.resolve({ ...src, tree })} initial={{ ...src, tree }} files={fakeFiles()} background={manualBackground().start} />);
    sized(r, columns, rows);
    r.stdout.emit('resize');
    await settle(r);
    t.same(screen, lines(r), `${columns}x${rows}: the same text, line for line`);
    r.unmount();
  }
});

t.test('r on a damaged store: the dialog carries the warnings strata rmi --dry-run gives', async (t) => {
  const { rmiLines } = await import('../../cli/tui/app.js');
  const d = buildSampleStore(t.testdir());
  const repos = readdirSync(join(d.root, 'image')).map((drv) => join(d.root, 'image', drv, 'repositories.json'))[0];
  writeFileSync(repos, '{"Repositories": {');
  const ref = short(d.images.app);
  const cli = runCli(['--root', d.root, '--no-cache', 'rmi', '--dry-run', ref]);
  const warned = cli.stderr.split('\n').filter((l) => l.startsWith('strata: warning: ')).map((l) => l.slice('strata: '.length));
  t.ok(warned.some((w) => w.includes('repositories.json')), 'the CLI warns that the references could not be read');
  const { model } = await openStore({ root: d.root });
  const shown = rmiLines(model, ref);
  for (const w of warned) t.ok(shown.includes(w), `the dialog says: ${w.slice(0, 60)}`);
});

t.test('a layer whose driver directory is gone is marked MISSING in the layers pane', async (t) => {
  const { layerRows } = await import('../../cli/tui/data.js');
  const { layerLine } = await import('../../cli/tui/screen.js');
  const { layerUsage } = await import('../../inspect/layers.js');
  const { model } = await openStore({ root: s.root });
  const image = model.images.get(I.app)!;
  const gone = model.layers.get(image.chainIds[image.chainIds.length - 1])!.cacheId;
  const rows = layerRows(model, image, layerUsage(model), { exists: (id: string) => id !== gone });
  const marked = rows.filter((r) => r.missing);
  t.equal(marked.length, 1, 'only the layer whose directory is gone');
  t.match(layerLine(marked[0], false, 60).text, /MISSING/);
  t.notOk(layerRows(model, image, layerUsage(model), { exists: () => null }).some((r) => r.missing), 'unknown is not missing');
  t.notOk(layerRows(model, image, layerUsage(model)).some((r) => r.missing), 'without a driver nothing is said');
});

t.test('file names are shown from their bytes: UTF-8 as it is, other bytes and controls as \\xNN', async (t) => {
  const { displayName } = await import('../../cli/tui/text.js');
  t.equal(displayName(Buffer.from('日本語.txt')), '日本語.txt', 'valid UTF-8 unchanged');
  t.equal(displayName(Buffer.from('caf\xe9', 'latin1')), 'caf\\xe9', 'a byte that is not UTF-8 escaped');
  t.equal(displayName(Buffer.from([0x61, 0x1b, 0x5b, 0x32, 0x4a])), 'a\\x1b[2J', 'an escape sequence cannot reach the terminal');
  t.equal(displayName(Buffer.from([0xc2, 0x85, 0x62])), '\\xc2\\x85b', 'a C1 control escaped byte by byte');
  t.equal(displayName(Buffer.from([0xed, 0xa0, 0x80])), '\\xed\\xa0\\x80', 'a UTF-16 surrogate is not UTF-8');
});

t.test('a filter that matches no image says so in the pane; the keys keep working and Esc brings the rows back', async (t) => {
  const { r } = await open();
  await press(r, '/', 'z', 'q', 'x');
  let l = lines(r);
  t.match(l[0], /^\[Images\] 0 of 9 images$/, 'the title counts no match');
  t.equal(l[1], '  No image matches "zqx" (Esc clears the filter)', 'one line says why the pane is empty');
  t.equal(l.filter((x) => x.includes('No image matches')).length, 1, 'only once');
  t.notMatch(text(r), /[0-9a-f]{12} /, 'no image row');
  t.match(l.at(-2)!, /^Search: zqx_/, 'the prompt is still there');
  t.match(l.at(-1)!, /^9 images {2}10 layers .*\? help {2}q quit$/, 'the status bar too');
  await press(r, '\r');
  l = lines(r);
  t.match(l.at(-1)!, /filter: zqx/, 'Enter keeps it');
  t.equal(l[1], '  No image matches "zqx" (Esc clears the filter)', 'and the line with it');
  await press(r, 'j', 'k', 'G', 'g', '\r', 'l', 'h');
  t.equal(lines(r)[1], '  No image matches "zqx" (Esc clears the filter)', 'moving in an empty pane changes nothing');
  await press(r, TAB);
  t.match(lines(r)[0], /^ Images  0 of 9 images$/, 'tab moves the focus on');
  await press(r, TAB, TAB, 'i');
  t.match(text(r), /Select an image in the tree first\./, 'a side view opens');
  await press(r, ESC);
  t.match(lines(r)[0], /^\[Images\] 0 of 9 images$/, 'Esc closes it, the filter stays');
  await press(r, ESC);
  l = lines(r);
  t.match(l[0], /^\[Images\] 9 images$/, 'Esc clears the filter: the title as before');
  t.notMatch(text(r), /No image matches/);
  t.match(text(r), /python:3/, 'the rows are back');
  t.notMatch(l.at(-1)!, /filter:/);
  // Esc in the prompt clears it as well; d with a search says both ways out.
  await press(r, '/', 'z', 'q');
  t.equal(lines(r)[1], '  No image matches "zq" (Esc clears the filter)');
  await press(r, ESC);
  t.match(text(r), /python:3/, 'Esc in the prompt brings the rows back');
  await press(r, '/', 'p', 'y', 't', 'h', '\r', 'd');
  t.equal(lines(r)[1], '  No dangling image matches "pyth" (Esc clears the filter, d shows every image)', 'no python image is dangling');
  await press(r, 'd');
  t.match(text(r), /python:3/, 'd again: the python images');
  r.unmount();
});

t.test('while a filter is on, the images title counts the images it keeps out of all of them', async (t) => {
  const { r, src } = await open();
  const images = [...src.model.images.values()];
  const count = (q: string) => images.filter((i) => i.repoTags.some((tag) => tag.includes(q)) || i.id.includes(q)).length;
  const py = count('py');
  t.ok(py > 0 && py < images.length, `some images match "py" (${py})`);
  t.match(lines(r)[0], /^\[Images\] 9 images$/, 'unfiltered, as it was');
  await press(r, '/', 'p', 'y');
  t.equal(lines(r)[0], `[Images] ${py} of 9 images`, 'while typing');
  await press(r, 't', 'h', 'o', 'n', ':', '3', '-');
  t.equal(lines(r)[0], `[Images] ${count('python:3-')} of 9 images`, 'each key recounts');
  await press(r, '\x7f', '\x7f', '\x7f', '\x7f', '\x7f', '\x7f', '\x7f', '\r');
  t.equal(lines(r)[0], `[Images] ${py} of 9 images`, 'kept with Enter');
  // The tree keeps the branches leading to a match: the title counts the matches, not the rows.
  const rows = lines(r).slice(1).filter((l) => /[0-9a-f]{12} /.test(l) && !/\[layer /.test(l)).length;
  t.ok(rows >= py, `the rows (${rows}) hold the ${py} matches`);
  await press(r, 'd');
  t.equal(lines(r)[0], '[Images] 0 of 9 images, dangling only', 'with d: no python image is dangling');
  await press(r, 'd', ESC);
  t.match(lines(r)[0], /^\[Images\] 9 images$/, 'Esc: the unfiltered title again');
  const { buildImageTree } = await import('../../inspect/tree.js');
  const dangling = new Set<string>();
  const walk = (nodes: ReturnType<typeof buildImageTree>) => {
    for (const n of nodes) {
      if (n.kind === 'image' && n.dangling) dangling.add(n.id);
      walk(n.children);
    }
  };
  walk(buildImageTree(src.model));
  t.ok(dangling.size > 0 && dangling.size < 9, `the sample has dangling images (${dangling.size})`);
  await press(r, 'd');
  t.equal(lines(r)[0], `[Images] ${dangling.size} of 9 images, dangling only`, 'd alone counts the dangling images');
  r.unmount();
});

t.test('wrap: every row within the width, the text whole once the rows are joined', async (t) => {
  const { wrap, textWidth } = await import('../../cli/tui/text.js');
  t.same(wrap('short', 10), ['short'], 'a line that fits is left alone');
  t.same(wrap('  "id": "sha256:0123456789abcdef"', 16), ['  "id": "sha256:', '    0123456789ab', '    cdef"'], 'no space in the row’s second half: cut at the width, the rest indented');
  t.same(wrap('hello world foo', 12), ['hello world ', '  foo'], 'after a space in the row’s second half');
  t.same(wrap('ab日日', 5), ['ab日', '  日'], 'a wide character is not split over two rows');
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const alphabet = ['a', 'b', ' ', ' ', '日', 'é', '-', '/', '\u0301'];
  for (let k = 0; k < 300; k++) {
    const width = 20 + rand(70);
    const lead = ' '.repeat(rand(12));
    let s = lead;
    for (let i = rand(300); i > 0; i--) s += alphabet[rand(alphabet.length)];
    const rows = wrap(s, width);
    if (!rows.every((row) => textWidth(row) <= width)) {
      t.fail(`a row wider than ${width}: ${JSON.stringify(rows)}`);
      break;
    }
    const indent = Math.min(s.length - s.trimStart().length + 2, Math.floor(width / 2));
    const joined = rows[0] + rows.slice(1).map((row) => row.slice(indent)).join('');
    if (joined !== s) {
      t.fail(`lost text at width ${width}: ${JSON.stringify(s)} -> ${JSON.stringify(rows)}`);
      break;
    }
  }
  t.pass('300 random lines');
});

/** A side view's rows from its top to its end (j until the rows stop changing), title and footer left out. */
async function allRows(r: Rendered): Promise<string[]> {
  const out = lines(r).slice(1, -2);
  for (let i = 0; i < 200; i++) {
    const before = text(r);
    await press(r, 'j');
    if (text(r) === before) break;
    out.push(lines(r).at(-3)!);
  }
  return out;
}

t.test('at 80x24 the side views wrap a line wider than the screen: nothing is cut, G reaches the last row', async (t) => {
  const long = `usr/lib/${'deeply-nested-directory/'.repeat(5)}libsomething-with-a-long-name.so.1.2.3`;
  const wasted = Promise.resolve<WastedReport>({
    imageId: I.base,
    bytes: 5_000_000,
    files: [{ path: Buffer.from(long), bytes: 5_000_000, layerIndex: 0, by: 'overwritten', byLayerIndex: 2 }],
    unread: [],
  });
  const { r, src } = await open({ columns: 80, rows: 24, files: fakeFiles({ wasted }) });
  await selectRow(r, short(I.base));

  await press(r, 'i');
  let l = lines(r);
  t.equal(l.length, 24, '24 lines');
  t.ok(l.every((x) => x.length <= 80), 'none wider than 80');
  t.notOk(l.some((x) => x.endsWith('…')), 'no line cut with …');
  const at = l.findIndex((x) => x.includes('"id": "sha256:'));
  t.ok(at > 0, 'the id line');
  t.equal(l[at].length, 80, 'it fills the row');
  t.equal(l[at] + l[at + 1].trimStart(), `    "id": "${I.base}",`, 'and goes on, indented, on the next row');
  // Every line of the JSON can be read back from the rows.
  const { inspectImage } = await import('../../inspect/inspect-image.js');
  const json = JSON.stringify(inspectImage(src.model, src.driver, src.model.images.get(I.base)!), null, 2).split('\n');
  t.ok(json.some((j) => j.length + 2 > 80), 'the sample has lines wider than the screen');
  await press(r, 'G');
  l = lines(r);
  t.equal(l[21], '  }', 'G: the last row of the wrapped view is the JSON’s last line');
  t.match(l.at(-2)!, /^Esc closes/, 'the footer stays');
  await press(r, 'g');
  const rows = await allRows(r);
  t.equal(rows.at(-1), '  }', 'j steps down to the last row');
  t.ok(rows.length > json.length, `more rows (${rows.length}) than lines (${json.length})`);
  const joined = rows.join('').replace(/\s+/g, '');
  let missing = 0;
  for (const j of json) if (!joined.includes(j.replace(/\s+/g, ''))) missing++;
  t.equal(missing, 0, 'every line of the JSON can be read from the rows');
  await press(r, ESC);

  await press(r, 'w');
  l = lines(r);
  t.ok(l.every((x) => x.length <= 80), 'wasted: none wider than 80');
  const from = l.findIndex((x) => x.includes('/usr/lib/'));
  t.ok(from > 0, 'the file');
  const shown = l.slice(from, from + 3).join('').replace(/\s+/g, '');
  t.ok(shown.includes(`5MB/${long}(layer1,overwritteninlayer3)`), 'the whole path and which layer overwrote it');
  t.match(l[from + 1], /^ {9}\S/, 'its rest indented two past the line’s own margin');
  await press(r, ESC, '?');
  t.ok(lines(r).every((x) => x.length <= 80), 'help: none wider than 80');
  await press(r, ESC);
  t.match(lines(r)[0], /\[Images\]/);
  r.unmount();
});

t.test('the help at 60 columns: a wrapped description goes on under its column', async (t) => {
  const { r } = await open({ columns: 60, rows: 30 });
  await press(r, '?');
  const l = lines(r);
  t.ok(l.every((x) => x.length <= 60), 'none wider than 60');
  const at = l.findIndex((x) => x.startsWith('  /                 search by tag or id'));
  t.ok(at > 0, 'the / line');
  t.match(l[at + 1], /^ {20}\S/, 'its rest starts under the descriptions');
  // Broken after a space (the frame's trailing spaces are cut).
  t.equal(`${l[at]} ${l[at + 1].slice(20)}`, '  /                 search by tag or id (Enter keeps the filter, Esc clears it)', 'nothing of it is lost');
  r.unmount();
});
