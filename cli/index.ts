#!/usr/bin/env node
// strata's command line: the whole command surface is listed here, one module per command.
import { DEVICEMAPPER_HELP } from '../drivers/devicemapper/help.js';
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isClosedPipe, outputError, watchStdout } from '../inspect/output-file.js';
import { CLOSED_PIPE_EXIT, reportError } from './output.js';
import { commandIndex, withDockerAliases } from './docker-aliases.js';
import { nonEmpty, unknownArgumentsText, unknownOptions } from './unknown-options.js';
import { defaultRoot } from '../inspect/open-store.js';
import { turnIndexOff } from '../inspect/metadata-index.js';
// Bundled into dist/strata.js, so --version does not depend on where strata is run from.
import packageJson from '../package.json' with { type: 'json' };

// The last resort: whatever escapes a command is reported in one line (as a bug unless it is a
// StrataError), never as Node's crash dump.
function lastResort(err: unknown): void {
  if (isClosedPipe(err)) process.exit(CLOSED_PIPE_EXIT);
  reportError(err);
  process.exit(1);
}
process.on('uncaughtException', lastResort);
process.on('unhandledRejection', lastResort);
// A closed stdout is reported as an 'error' event after the write returned; the writers notice it
// (inspect/output-file.ts). Any other failure of stdout is one line.
watchStdout((err) => {
  if (!isClosedPipe(err)) reportError(outputError('stdout', err));
});
// A closed stderr (`strata layers 2>&1 | true`) loses the warnings it would have shown, nothing more.
process.stderr.on('error', (err) => {
  if (!isClosedPipe(err)) throw err;
});

type Loaded = Record<string, unknown>;
/**
 * Every command, in --help's order, and the module that holds it. Only the module of the command being
 * run is imported (each is a chunk of its own in the bundle), so start-up does not parse the code of the
 * others; a mistyped command or none at all (strata --help) loads them all, to list and suggest them.
 */
const COMMANDS: Array<[name: string, load: () => Promise<Loaded>, pick?: (m: Loaded) => unknown]> = [
  ['demo', () => import('./commands/demo.js')],
  ['images', () => import('./commands/images.js')],
  ['history', () => import('./commands/history.js')],
  ['ps', () => import('./commands/ps.js')],
  ['dangling', () => import('./commands/dangling.js')],
  ['layers', () => import('./commands/layers.js')],
  ['df', () => import('./commands/df.js')],
  ['inspect', () => import('./commands/inspect.js')],
  ['diff', () => import('./commands/diff.js')],
  ['verify', () => import('./commands/verify.js')],
  ['changes', () => import('./commands/changes.js')],
  ['save', () => import('./commands/save.js')],
  ['export', () => import('./commands/export.js')],
  ['load', () => import('./commands/load.js')],
  ['rmi', () => import('./commands/rmi.js')],
  ['why', () => import('./commands/why.js')],
  ['prune', () => import('./commands/prune.js')],
  ['migrate', () => import('./commands/migrate.js')],
  ['apply', () => import('./commands/apply.js')],
  ['mount', () => import('./commands/mount.js')],
  ['umount', () => import('./commands/mount.js'), (m) => m.umount],
  ['tui', () => import('./commands/tui.js')],
];

/** The command the arguments name: the first one that is neither an option nor a global option's value. */
export function commandNamed(argv: string[]): string | null {
  const i = commandIndex(argv);
  return i < 0 ? null : argv[i];
}

async function commandModules(argv: string[]): Promise<CommandModule[]> {
  const named = commandNamed(argv);
  const wanted = COMMANDS.filter(([name]) => name === named);
  const chosen = wanted.length ? wanted : COMMANDS;
  return Promise.all(chosen.map(async ([, load, pick]) => {
    const m = await load();
    return (pick ? pick(m) : m) as CommandModule;
  }));
}

/** Plain `strata` (no command, no option but global ones) on a terminal opens the TUI. */
function defaultToTui(argv: string[]): string[] {
  if (commandNamed(argv) !== null || !process.stdin.isTTY || !process.stdout.isTTY) return argv;
  if (argv.some((a) => /^(-h|--help|--version)$/.test(a))) return argv;
  return [...argv, 'tui'];
}

/**
 * Docker spellings strata has no counterpart for, refused in one line saying what strata offers instead:
 * `docker container prune` removes stopped containers only, and strata's prune cannot limit itself to them.
 */
export function unmappedDockerCommand(argv: readonly string[]): string | null {
  const i = commandIndex(argv);
  if (i >= 0 && argv[i] === 'container' && argv[i + 1] === 'prune') {
    return 'container prune: strata prune cannot prune containers alone; strata prune --containers --dry-run lists stopped containers together with dangling images and leftovers';
  }
  return null;
}

const unmapped = unmappedDockerCommand(hideBin(process.argv));
if (unmapped) {
  process.stderr.write(`strata: error: ${unmapped}\n`);
  process.exit(2);
}

const args = defaultToTui(withDockerAliases(hideBin(process.argv)));
const commands = await commandModules(args);

/** Replaces the list yargs makes of a repeated single-valued option by its last value. */
export function lastValueWins(argv: Record<string, unknown>, y: { getOptions(): { array: string[] } }): void {
  const lists = new Set(y.getOptions().array);
  for (const [key, value] of Object.entries(argv)) {
    if (key === '_' || key === '$0' || lists.has(key) || !Array.isArray(value)) continue;
    argv[key] = value.at(-1);
  }
}

const cli = yargs(args);

/**
 * yargs' usage complaint as strata says it: unknown flags named as typed, and a missing-argument complaint
 * caused by an unknown flag that took the argument as its value names the flag instead.
 */
function usageErrorText(msg: string): string {
  const listed = /^Unknown arguments?: (.*)$/.exec(msg);
  if (listed) return unknownArgumentsText(listed[1].split(', '));
  if (!msg.startsWith('Not enough non-option arguments')) return msg;
  const internal = cli as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> }; parsed?: { argv: Record<string, unknown> } };
  const parsed = internal.parsed?.argv;
  if (!parsed) return msg;
  const options = internal.getOptions();
  const unknown = unknownOptions(parsed, Object.keys(options.key), options.alias);
  return unknown.length ? unknownArgumentsText(unknown) : msg;
}

/** The error yargs reported through .fail, so that its rejection is not reported twice. */
let reported: unknown;
// yargs renders the whole help text after every command handler starts, to show it should the handler
// fail later; strata's handlers report their own errors (cli/output.ts), so that rendering (~15 ms, on the
// main thread while the command works) is skipped.
const usage = (cli as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.().getUsageInstance?.();
if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};

await cli
  .scriptName('strata')
  // docker's own flag names: --no-trunc is a flag of its own, not the negation of --trunc.
  .parserConfiguration({ 'boolean-negation': false })
  // An option given twice (`--root A images --root B`, `-o a.tar -o b.tar`) takes its last value, as docker's
  // flags do; only options declared as lists keep every value. It runs after the options' coerce functions,
  // so that -f (whose coerce gathers every filter) has already become one value.
  .middleware(lastValueWins as never, false)
  .usage('$0 <command> [options]\n\nOpen a container engine\'s storage directory offline and show what is inside.')
  .epilog(`Drivers: overlay2, vfs and aufs (read and written); ${DEVICEMAPPER_HELP}.`)
  .option('root', {
    type: 'string',
    default: defaultRoot(),
    defaultDescription: "$STRATA_ROOT, else /etc/docker/daemon.json's data-root, else /var/lib/docker",
    describe: 'Data-root of the engine',
    coerce: nonEmpty('--root', 'empty path'),
    global: true,
  })
  .option('driver', { type: 'string', coerce: nonEmpty('--driver', 'empty name'), describe: 'Storage driver (default: detected from the data-root)', global: true })
  .option('storage-opt', {
    type: 'string',
    requiresArg: true,
    describe: "dockerd's --storage-opt (repeatable), for a devicemapper pool on block devices: dm.datadev=PATH, dm.metadatadev=PATH",
    // Gathered into one value (not a yargs array, which would swallow the command that follows).
    coerce: (value: string | string[]) => ({ values: ([] as string[]).concat(value) }),
    global: true,
  })
  .option('json', { type: 'boolean', describe: 'Machine output on stdout (JSON only)', global: true })
  .option('no-cache', { type: 'boolean', describe: 'Read the store itself, not the metadata index kept for it (also STRATA_NO_CACHE=1)', global: true })
  .middleware((argv) => {
    if (argv['no-cache']) turnIndexOff();
  }, true)
  .command(commands as never)
  .demandCommand(1, 'Name a command (strata --help lists them).')
  .strict()
  .recommendCommands()
  .help()
  .alias('h', 'help')
  .version(packageJson.version)
  .wrap(Math.min(110, process.stdout.columns || 100))
  .fail((msg, err) => {
    // yargs reports an option's coerce failure as its own YError: a usage error, in the option's words.
    if (err && err.name === 'YError') {
      process.stderr.write(`strata: error: ${err.message}\n`);
      process.exit(2);
    }
    if (err) {
      reported = err;
      reportError(err);
      return;
    }
    const said = usageErrorText(msg);
    // demandCommand's own text already points at --help.
    process.stderr.write(`strata: error: ${said}\n${said.includes('--help') ? '' : '(strata --help lists commands and options)\n'}`);
    process.exit(2);
  })
  .parseAsync()
  .catch((err: unknown) => {
    if (err !== reported) reportError(err);
  });
