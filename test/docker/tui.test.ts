// `strata tui` in a real terminal: a private tmux server runs the TUI on the real-dockerd scenario store (daemon
// stopped: the TUI reads offline), keys go in with send-keys and screens come back as text from capture-pane,
// polled until the expected text shows (never a fixed sleep alone). Asserts the screen contract of #15: every tag on
// the first screen, j/k move the `> ` selection, tab focuses [Layers] then [Files] with the selected layer's files,
// `/` + a tag filters the tree, `w` lists wasted:1's overwritten and deleted files of several MB with their sizes,
// `q` exits 0 and leaves a usable shell, 80×24 still shows the tree, and the store is unchanged afterwards.
//
// Run: npm run -s build && STRATA_TEST_CLI=dist npx tap test/docker/tui.test.ts (needs root, dockerd, tmux).
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { startDockerd } from '../helpers/dockerd.js';
import { fingerprint } from '../helpers/fingerprint.js';
import {
  buildScenario,
  WASTED_DELETED,
  WASTED_DELETED_BYTES,
  WASTED_OVERWRITTEN,
  WASTED_OVERWRITTEN_BYTES,
} from '../helpers/scenario.js';

const DIST = fileURLToPath(new URL('../../dist/strata.js', import.meta.url));
const SOURCE = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
// The docker suite runs the bundle (STRATA_TEST_CLI=dist, built by `npm run -s build`); otherwise the source.
const CLI_ARGS = process.env.STRATA_TEST_CLI === 'dist' ? [DIST] : ['--import=tsx', SOURCE];
const TMUX = '/usr/bin/tmux';

/** Every tag the scenario makes; the dangling image shows as <none>:<none>. */
const TAGS = ['base:1', 'base:latest', 'example.com/team/base:v1', 'solo:1', 'app:1', 'app:2', 'mid:tagged', 'wasted:1', '<none>:<none>'];

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** A private tmux server (own socket, no config) holding one session. */
class Tmux {
  readonly socket = `strata-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(readonly session = 'tui') {}

  tmux(args: string[]): string {
    return execFileSync(TMUX, ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  }

  start(cmd: string, cols: number, rows: number): void {
    this.tmux(['new-session', '-d', '-s', this.session, '-x', String(cols), '-y', String(rows), cmd]);
    // Keep the pane after the shell ends, so a crash's last screen can still be read.
    this.tmux(['set-option', '-t', this.session, 'remain-on-exit', 'on']);
  }

  /** Keys as tmux names them (j, Tab, Enter, Escape, C-c). */
  keys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', this.session, ...keys]);
  }

  /** Text typed as it is. */
  type(text: string): void {
    this.tmux(['send-keys', '-t', this.session, '-l', text]);
  }

  screen(): string {
    return this.tmux(['capture-pane', '-p', '-t', this.session]);
  }

  resize(cols: number, rows: number): void {
    this.tmux(['resize-window', '-t', this.session, '-x', String(cols), '-y', String(rows)]);
  }

  size(): { cols: number; rows: number } {
    const [c, r] = this.tmux(['display-message', '-p', '-t', this.session, '#{pane_width} #{pane_height}']).trim().split(' ');
    return { cols: Number(c), rows: Number(r) };
  }

  /** Polls the screen every 50 ms until `ok` holds; on timeout returns the last screen with ok=false. */
  async waitFor(ok: (screen: string) => boolean, timeoutMs = 20_000): Promise<{ ok: boolean; screen: string }> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.screen();
      if (ok(screen)) return { ok: true, screen };
      if (Date.now() > end) return { ok: false, screen };
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Ends the server and removes its socket file (a killed server leaves it behind). */
  kill(): void {
    const sock = spawnSync(TMUX, ['-L', this.socket, 'display-message', '-p', '#{socket_path}'], { encoding: 'utf8' }).stdout?.trim();
    spawnSync(TMUX, ['-L', this.socket, 'kill-server'], { stdio: 'ignore' });
    if (sock) rmSync(sock, { force: true });
  }
}

/** The selected row of the focused pane: the text after `> ` at a pane's left edge (a line's start, or a border
 *  and at most one space), up to the next border. (A `> ` inside a row, as in a created-by `echo x > f`, is not one.) */
function selectedRows(screen: string): string[] {
  const rows: string[] = [];
  for (const line of screen.split('\n')) {
    const m = /(?:^|[│┃] ?)> (.*)$/.exec(line);
    if (m) rows.push(m[1].split(/[│┃]/)[0].trimEnd());
  }
  return rows;
}

const UNITS: Record<string, number> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** Byte counts of the human sizes (docker's 7.05MB, or binary units) in a piece of text, in order. */
function sizesIn(text: string): number[] {
  return [...text.matchAll(/(\d+(?:\.\d+)?)\s?(B|kB|KB|MB|GB|KiB|MiB|GiB)\b/g)].map((m) => Number(m[1]) * UNITS[m[2]]);
}

const near = (a: number, b: number, rel = 0.02) => Math.abs(a - b) <= b * rel;

/** The line holding `needle`, cut at the pane border after it (panes may share a screen line). */
function lineWith(screen: string, needle: string): string | undefined {
  return screen.split('\n').find((l) => l.includes(needle));
}

/** The files pane: every line from the column where its title (`Files (` or `[Files (`) starts, below the title. */
function filesPane(screen: string): string {
  const lines = screen.split('\n');
  const top = lines.findIndex((l) => l.includes('Files ('));
  if (top < 0) return '';
  const title = lines[top];
  let col = title.indexOf('Files (');
  if (title[col - 1] === '[') col--;
  return lines
    .slice(top + 1)
    .map((l) => [...l].slice(col).join(''))
    .join('\n');
}

const show = (screen: string) => `\n----- screen -----\n${screen}\n------------------`;

t.test('strata tui in tmux on the scenario store', async (t: Test) => {
  const d = await startDockerd({ driver: 'overlay2' });
  t.teardown(() => d.remove());
  await buildScenario(d);
  // The TUI reads the store offline: the daemon is stopped first (its data-root stays).
  await d.stop();
  const before = fingerprint(d.root);

  const tm = new Tmux();
  t.teardown(() => tm.kill());
  const cli = ['node', ...CLI_ARGS, '--root', d.root, 'tui'].map(shq).join(' ');
  // After the TUI: its exit status, then an interactive shell with a plain prompt, to show the terminal is usable.
  tm.start(`sh -c ${shq(`${cli}; echo EXIT=$?; PS1='$ ' exec sh -i`)}`, 200, 60);
  t.same(tm.size(), { cols: 200, rows: 60 }, 'a 200×60 pane');

  // --- first screen: every tag -------------------------------------------------------------------------
  const first = await tm.waitFor((s) => TAGS.every((tag) => s.includes(tag)), 30_000);
  t.ok(first.ok, `every tag of the scenario on the first screen${first.ok ? '' : show(first.screen)}`);
  t.match(first.screen, /\[Images\]/, 'the tree pane is focused: its title is [Images]');
  t.match(first.screen, /\b[0-9a-f]{12}\b/, 'tree rows show short ids');
  t.match(first.screen, /Layers/, 'a Layers pane');
  t.match(first.screen, /Files/, 'a Files pane');
  t.match(first.screen, /dangling/, 'the legend names dangling');
  t.match(first.screen, /container c-exited \(exited\)|container c-exited/, 'containers under their image');
  const status = await tm.waitFor((s) => /\d+ images\s+\d+ layers/.test(s) && /q quit/.test(s), 10_000);
  t.ok(status.ok, `the status bar counts images and layers and names q quit${status.ok ? '' : show(status.screen)}`);

  // --- keys typed fast (one read) each count, and draw nothing of their own -----------------------------
  const atTop = selectedRows(first.screen);
  tm.type('jjjjj');
  const moved = await tm.waitFor((s) => selectedRows(s).length === 1 && selectedRows(s)[0] !== atTop[0], 5_000);
  t.ok(moved.ok, `jjjjj moves the selection${moved.ok ? '' : show(moved.screen)}`);
  await new Promise((r) => setTimeout(r, 300));
  const afterFive = tm.screen();
  t.notMatch(afterFive, /jjj/, `no typed key is echoed onto the screen${show(afterFive)}`);
  t.match(afterFive.split('\n').filter((l) => l.trim() !== '').at(-2) ?? '', /^legend: /, 'the legend line is drawn whole');
  tm.type('kkkkk');
  const back = await tm.waitFor((s) => selectedRows(s)[0] === atTop[0], 5_000);
  t.ok(back.ok, `kkkkk brings it back${back.ok ? '' : show(back.screen)}`);

  // --- j / k move the selection ----------------------------------------------------------------------
  const sel0 = selectedRows(first.screen);
  t.equal(sel0.length, 1, `one selected row (> ) on the screen: ${JSON.stringify(sel0)}`);
  tm.keys('j');
  const afterJ = await tm.waitFor((s) => selectedRows(s).length === 1 && selectedRows(s)[0] !== sel0[0], 5_000);
  t.ok(afterJ.ok, `j moves the selection off "${sel0[0]}"${afterJ.ok ? '' : show(afterJ.screen)}`);
  tm.keys('k');
  const afterK = await tm.waitFor((s) => selectedRows(s)[0] === sel0[0], 5_000);
  t.ok(afterK.ok, `k moves it back to "${sel0[0]}"${afterK.ok ? '' : show(afterK.screen)}`);
  tm.keys('Down');
  const afterDown = await tm.waitFor((s) => selectedRows(s)[0] === selectedRows(afterJ.screen)[0], 5_000);
  t.ok(afterDown.ok, `the down arrow moves as j does${afterDown.ok ? '' : show(afterDown.screen)}`);
  tm.keys('Up');
  await tm.waitFor((s) => selectedRows(s)[0] === sel0[0], 5_000);

  // --- / + a tag filters the tree ----------------------------------------------------------------------
  tm.type('/');
  const prompt = await tm.waitFor((s) => /Search: /.test(s), 5_000);
  t.ok(prompt.ok, `/ opens the Search: prompt${prompt.ok ? '' : show(prompt.screen)}`);
  tm.keys('Escape');
  await tm.waitFor((s) => !/Search: /.test(s), 5_000);
  // The slash, the text and Enter in one send-keys: one read, every key of it counts.
  tm.keys('/wasted:1', 'Enter');
  const filtered = await tm.waitFor((s) => /filter: wasted:1/.test(s) && !s.includes('solo:1'), 5_000);
  t.ok(filtered.ok, `Enter keeps the filter (status: filter: wasted:1) and solo:1 leaves the tree${filtered.ok ? '' : show(filtered.screen)}`);
  t.match(filtered.screen, /wasted:1/, 'wasted:1 stays in the tree');
  // (its ancestors may stay, as the path to it: base:1 with its tags)
  for (const gone of ['app:2', 'mid:tagged', 'app:1']) {
    t.notOk(new RegExp(`\\b${gone}\\b`).test(filtered.screen), `${gone} is filtered out`);
  }

  // Select the wasted:1 row (the filtered tree may keep its base above it).
  for (let i = 0; i < 5 && !(selectedRows(tm.screen())[0] ?? '').includes('wasted:1'); i++) {
    tm.keys('j');
    await tm.waitFor((s) => selectedRows(s).length === 1, 2_000);
    await new Promise((r) => setTimeout(r, 100));
  }
  const onWasted = await tm.waitFor((s) => (selectedRows(s)[0] ?? '').includes('wasted:1'), 3_000);
  t.ok(onWasted.ok, `the selection is on wasted:1${onWasted.ok ? '' : show(onWasted.screen)}`);

  // --- tab: [Layers], then [Files] with the selected layer's files --------------------------------------
  tm.keys('Tab');
  const layers = await tm.waitFor((s) => /\[Layers\]/.test(s) && !/\[Images\]/.test(s) && /strata-step:wasted/.test(s), 10_000);
  t.ok(layers.ok, `tab focuses [Layers], showing wasted:1's created-by commands${layers.ok ? '' : show(layers.screen)}`);
  // Move to the layer that wrote the big files (base first: up from the top layer, down from the base). Its
  // created-by is cut to the pane's width: its start, `mkdir -p /wasted`, names it.
  const layerKey = /wasted-delete|wasted-overwrite/.test(selectedRows(layers.screen)[0] ?? '') ? 'k' : 'j';
  for (let i = 0; i < 3 && !(selectedRows(tm.screen())[0] ?? '').includes('mkdir -p /wasted'); i++) {
    tm.keys(layerKey);
    await new Promise((r) => setTimeout(r, 150));
  }
  const onLayer = await tm.waitFor((s) => (selectedRows(s)[0] ?? '').includes('mkdir -p /wasted'), 3_000);
  t.ok(onLayer.ok, `the selection is on the layer that wrote the big files${onLayer.ok ? '' : show(onLayer.screen)}`);
  tm.keys('Tab');
  const files = await tm.waitFor((s) => /\[Files/.test(s) && !/\[Layers\]/.test(s) && /(^|\s)[-+]?wasted\/(\s|$)/m.test(filesPane(s)), 10_000);
  t.ok(files.ok, `tab focuses [Files], listing the layer's wasted/ directory${files.ok ? '' : show(files.screen)}`);
  t.match(files.screen, /Files \(layer\)/, 'the files pane shows the layer view');
  const wastedDir = filesPane(files.screen).split('\n').find((l) => /(^|\s)[-+]?wasted\/(\s|$)/.test(l)) ?? '';
  t.match(wastedDir, /\bA\b/, `wasted/ is marked added: ${wastedDir.trim()}`);
  t.ok(
    sizesIn(wastedDir.slice(0, wastedDir.indexOf('wasted/'))).some((n) => near(n, WASTED_OVERWRITTEN_BYTES + WASTED_DELETED_BYTES, 0.03)),
    `wasted/ shows the size of what is below it: ${wastedDir.trim()}`,
  );
  // Expand it: the big files with their sizes.
  for (let i = 0; i < 20 && !/wasted\/\s*$/.test(selectedRows(tm.screen())[0] ?? ''); i++) {
    tm.keys('j');
    await new Promise((r) => setTimeout(r, 100));
  }
  tm.keys('Enter');
  const expanded = await tm.waitFor((s) => filesPane(s).includes('overwritten.bin') && filesPane(s).includes('deleted.bin'), 10_000);
  t.ok(expanded.ok, `Enter expands wasted/ to its files${expanded.ok ? '' : show(expanded.screen)}`);
  const bigRow = lineWith(filesPane(expanded.screen), 'overwritten.bin') ?? '';
  t.ok(
    sizesIn(bigRow.slice(0, bigRow.indexOf('overwritten.bin'))).some((n) => near(n, WASTED_OVERWRITTEN_BYTES)),
    `overwritten.bin's row shows its 6 MiB: ${bigRow.trim()}`,
  );

  // --- w: wasted space ----------------------------------------------------------------------------------
  tm.keys('w');
  const wasted = await tm.waitFor((s) => /Wasted space/.test(s) && s.includes(`/${WASTED_OVERWRITTEN}`) && s.includes(`/${WASTED_DELETED}`), 15_000);
  t.ok(wasted.ok, `w lists /${WASTED_OVERWRITTEN} and /${WASTED_DELETED}${wasted.ok ? '' : show(wasted.screen)}`);
  const lines = wasted.screen.split('\n');
  const overRow = lines.findIndex((l) => l.includes(`/${WASTED_OVERWRITTEN}`));
  const delRow = lines.findIndex((l) => l.includes(`/${WASTED_DELETED}`));
  const sizeBefore = (row: number, p: string) => sizesIn(lines[row]?.slice(0, lines[row].indexOf(p)) ?? '');
  t.ok(sizeBefore(overRow, `/${WASTED_OVERWRITTEN}`).some((n) => near(n, WASTED_OVERWRITTEN_BYTES)), `the overwritten file's size: ${lines[overRow]?.trim()}`);
  t.ok(sizeBefore(delRow, `/${WASTED_DELETED}`).some((n) => near(n, WASTED_DELETED_BYTES)), `the deleted file's size: ${lines[delRow]?.trim()}`);
  t.ok(overRow >= 0 && delRow > overRow, 'largest first: the 6 MiB file above the 5 MiB one');
  const title = lines.find((l) => /Wasted space/.test(l)) ?? '';
  t.ok(sizesIn(title).some((n) => near(n, WASTED_OVERWRITTEN_BYTES + WASTED_DELETED_BYTES)), `the title carries the total: ${title.trim()}`);
  tm.keys('Escape');
  const closed = await tm.waitFor((s) => !/Wasted space/.test(s), 5_000);
  t.ok(closed.ok, `Esc closes the wasted-space view${closed.ok ? '' : show(closed.screen)}`);

  // --- Esc clears the filter; 80×24 still shows the tree --------------------------------------------------
  tm.type('/');
  await tm.waitFor((s) => /Search: /.test(s), 5_000);
  tm.keys('Escape');
  const cleared = await tm.waitFor((s) => !/filter: /.test(s) && s.includes('solo:1'), 5_000);
  t.ok(cleared.ok, `Esc at the prompt clears the filter${cleared.ok ? '' : show(cleared.screen)}`);
  tm.resize(80, 24);
  t.same(tm.size(), { cols: 80, rows: 24 }, 'resized to 80×24');
  const small = await tm.waitFor((s) => /Images/.test(s) && /\b[0-9a-f]{12}\b/.test(s) && /base:1|<none>:<none>|solo:1/.test(s) && /q quit/.test(s), 10_000);
  t.ok(small.ok, `80×24: the tree (title, ids, tags) and the status bar still show${small.ok ? '' : show(small.screen)}`);
  t.ok(small.screen.split('\n').filter((l) => l.trim()).length >= 10, '80×24: the screen is filled, not collapsed');

  // --- q: exit 0, shell usable -----------------------------------------------------------------------
  tm.keys('q');
  const exited = await tm.waitFor((s) => /EXIT=\d+/.test(s), 10_000);
  t.ok(exited.ok, `q ends the TUI${exited.ok ? '' : show(exited.screen)}`);
  t.match(exited.screen, /EXIT=0/, 'with status 0');
  await tm.waitFor((s) => /^\$ ?$/m.test(s), 5_000);
  tm.type('echo o""k');
  tm.keys('Enter');
  const usable = await tm.waitFor((s) => /^ok$/m.test(s), 5_000);
  t.ok(usable.ok, `the shell after it reads a line and runs it (echo ok prints ok)${usable.ok ? '' : show(usable.screen)}`);
  t.match(usable.screen, /echo o""k/, 'typed characters are echoed (the terminal left cooked, echo on)');

  // --- launched at 80×24; Ctrl-C quits with status 0 as q does -------------------------------------------
  const tm2 = new Tmux('small');
  t.teardown(() => tm2.kill());
  // (the shell stays, so EXIT= is read before the pane ends)
  tm2.start(`sh -c ${shq(`${cli}; echo EXIT=$?; exec sleep 600`)}`, 80, 24);
  const small2 = await tm2.waitFor((s) => /\[Images\]/.test(s) && /\b[0-9a-f]{12}\b/.test(s) && /base:1|<none>:<none>|solo:1/.test(s), 30_000);
  t.ok(small2.ok, `launched at 80×24, the tree shows${small2.ok ? '' : show(small2.screen)}`);
  // Once the totals are known (the data-root walk done), as a user at rest would press it.
  const settled = await tm2.waitFor((s) => /\S+ on disk/.test(s) && !/… on disk/.test(s), 20_000);
  t.ok(settled.ok, `the status bar's totals become known${settled.ok ? '' : show(settled.screen)}`);
  tm2.keys('C-c');
  const exited2 = await tm2.waitFor((s) => /EXIT=\d+/.test(s), 10_000);
  t.match(exited2.screen, /EXIT=0/, `Ctrl-C ends the TUI with status 0${exited2.ok ? '' : show(exited2.screen)}`);

  // --- Ctrl-C at once, while the background is still at work: status 0 within moments, the screen back ----
  for (const [name, when] of [['first frame', 'as the first frame shows'], ['keys', 'with keys typed before it in the same read']] as const) {
    const tm3 = new Tmux(`early-${name.replace(/ /g, '-')}`);
    t.teardown(() => tm3.kill());
    tm3.start(`sh -c ${shq(`${cli}; echo EXIT=$?; exec sleep 600`)}`, 120, 40);
    const shown = await tm3.waitFor((s) => /\[Images\]/.test(s), 30_000);
    t.ok(shown.ok, `the first frame${shown.ok ? '' : show(shown.screen)}`);
    const at = Date.now();
    if (name === 'keys') tm3.keys('jj', 'C-c');
    else tm3.keys('C-c');
    const gone = await tm3.waitFor((s) => /EXIT=\d+/.test(s), 10_000);
    const took = Date.now() - at;
    t.match(gone.screen, /EXIT=0/, `Ctrl-C ${when}: status 0, the shell that ran it goes on${gone.ok ? '' : show(gone.screen)}`);
    t.ok(took < 1000, `within moments (${took} ms, polled every 50 ms)`);
    t.notMatch(gone.screen, /\[Images\]|legend:/, `the alternate screen is left${show(gone.screen)}`);
    tm3.kill();
  }

  t.equal(fingerprint(d.root), before, 'no path under the data-root changed mode, size, mtime or ctime');
});
