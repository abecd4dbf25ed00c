// strata tui needs a terminal: on a pipe it says so in one line; plain strata on a pipe is unchanged.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { runCli } from '../helpers/run-cli.js';
import { buildSampleStore } from '../helpers/sample-store.js';

const s = buildSampleStore(t.testdir());
const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
const SCRIPT = '/usr/bin/script';

t.test('strata tui on a pipe: one line, exit 1, nothing on stdout', async (t) => {
  const r = runCli(['--root', s.root, 'tui']);
  t.equal(r.status, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr, 'strata: error: strata tui needs a terminal: stdin and stdout must be a TTY (use strata images --tree, layers, changes on a pipe)\n');
});

t.test('plain strata on a pipe still asks for a command', async (t) => {
  const r = runCli(['--root', s.root]);
  t.equal(r.status, 2);
  t.match(r.stderr, /Name a command/);
  t.notMatch(r.stderr, /terminal/);
});

t.test('tui is listed in --help', async (t) => {
  const r = runCli(['--help']);
  t.equal(r.status, 0);
  t.match(r.stdout, /strata tui +Browse the store in a full-screen terminal app/);
});

t.test('plain strata on a terminal opens the TUI; q leaves it with status 0 and the screen restored', { skip: !existsSync(SCRIPT) && 'no script(1) here to give it a terminal' }, async (t) => {
  const cmd = [process.execPath, '--import=tsx', CLI, '--root', s.root].map((a) => `'${a}'`).join(' ');
  // script(1) runs it on a pseudo-terminal; q is typed once the tree is drawn.
  const child = spawn(SCRIPT, ['-qefc', `stty cols 80 rows 24; ${cmd}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  for (let i = 0; i < 300 && !/\[Images\]/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  t.match(out, /\[Images\] 9 images/, 'the tree pane');
  t.match(out, /\x1b\[\?1049h/, 'on the alternate screen');
  child.stdin.write('q');
  t.equal(await exited, 0, 'q: exit 0');
  t.match(out.slice(out.lastIndexOf('[Images]')), /\x1b\[\?1049l/, 'the screen the user had is back');
});

t.test('no store at the root: one line on the terminal as it was, exit 1', { skip: !existsSync(SCRIPT) && 'no script(1) here to give it a terminal' }, async (t) => {
  const dir = t.testdir({ 'not-a-store': {} });
  const cmd = [process.execPath, '--import=tsx', CLI, '--root', `${dir}/not-a-store`, 'tui'].map((a) => `'${a}'`).join(' ');
  const child = spawn(SCRIPT, ['-qefc', `stty cols 80 rows 24; ${cmd}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  t.equal(code, 1);
  const errors = out.match(/strata: error: [^\r\n]*/g) ?? [];
  t.equal(errors.length, 1, `one error line: ${JSON.stringify(errors)}`);
  t.match(errors[0], /not-a-store/, 'naming the root');
  t.notMatch(out, /\n\s+at /, 'no stack trace');
  t.notMatch(out, /\x1b\[\?1049h/, 'said before the TUI takes the screen');
});

/** The TUI's own node process (not script(1) or the shell around it): its argv[0] is node and it names `root`. */
function tuiPid(root: string): number | null {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv[0] === process.execPath && argv.includes(root) && Number(d) !== process.pid) return Number(d);
    } catch {
      // gone already
    }
  }
  return null;
}

/** Runs the TUI under script(1) inside `sh -c`, which then reports the TUI's status and the terminal's modes. */
function startTui(root: string) {
  const cmd = [process.execPath, '--import=tsx', CLI, '--root', root, 'tui'].map((a) => `'${a}'`).join(' ');
  const child = spawn(SCRIPT, ['-qefc', `stty cols 80 rows 24; ${cmd}; echo "rc=$?"; stty -a | tr '\\n' ' '; echo END`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const until = async (re: RegExp, ms = 15_000) => {
    for (let end = Date.now() + ms; !re.test(out) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5));
    return re.test(out);
  };
  return { child, exited, out: () => out, until };
}

for (const when of ['as soon as the alternate screen is up', 'once the tree is drawn'] as const) {
  t.test(`Ctrl-C ${when}: status 0 at once, the terminal as it was, the shell that started it goes on`, { skip: !existsSync(SCRIPT) && 'no script(1) here to give it a terminal' }, async (t) => {
    const tui = startTui(s.root);
    t.ok(await tui.until(when === 'once the tree is drawn' ? /\[Images\]/ : /\x1b\[\?1049h/), 'the TUI took the screen');
    const at = Date.now();
    tui.child.stdin.write('\x03');
    t.ok(await tui.until(/rc=\d+/, 5_000), 'it ended');
    const took = Date.now() - at;
    t.ok(took < 500, `within 0.5 s (${took} ms)`);
    t.match(tui.out(), /rc=0/, 'status 0, not killed by SIGINT');
    const after = tui.out().slice(tui.out().lastIndexOf('\x1b[?1049h'));
    t.match(after, /\x1b\[\?25h\x1b\[\?1049l/, 'the cursor shown and the alternate screen left');
    t.ok(await tui.until(/END/), 'the shell goes on after it');
    const modes = tui.out().slice(tui.out().lastIndexOf('rc='));
    t.match(modes, /(^|\s)icanon(\s|$)/, 'cooked mode again (icanon)');
    t.match(modes, /(^|\s)echo(\s|$)/, 'echo on again');
    t.equal(await tui.exited, 0);
  });
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  t.test(`${sig} from elsewhere: status 0, the terminal as it was`, { skip: !existsSync(SCRIPT) && 'no script(1) here to give it a terminal' }, async (t) => {
    const tui = startTui(s.root);
    t.ok(await tui.until(/\[Images\]/), 'the tree is drawn');
    const pid = tuiPid(s.root);
    t.ok(pid, 'the TUI process found');
    process.kill(pid!, sig);
    t.ok(await tui.until(/END/, 5_000), 'it ended and the shell went on');
    t.match(tui.out(), /rc=0/, 'status 0');
    const after = tui.out().slice(tui.out().lastIndexOf('\x1b[?1049h'));
    t.match(after, /\x1b\[\?25h\x1b\[\?1049l/, 'the cursor shown and the alternate screen left');
    t.match(tui.out().slice(tui.out().lastIndexOf('rc=')), /(^|\s)icanon(\s|$)/, 'cooked mode again');
    t.equal(await tui.exited, 0);
  });
}

t.test('keys typed before ink has loaded are kept for it: q at once still quits', { skip: !existsSync(SCRIPT) && 'no script(1) here to give it a terminal' }, async (t) => {
  const tui = startTui(s.root);
  t.ok(await tui.until(/\x1b\[\?1049h/), 'the TUI took the screen');
  tui.child.stdin.write('q');
  t.ok(await tui.until(/rc=\d+/, 10_000), 'it ended');
  t.match(tui.out(), /rc=0/, 'status 0');
  t.match(tui.out(), /\[Images\]/, 'after ink had drawn the app');
  t.equal(await tui.exited, 0);
});
