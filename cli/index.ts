#!/usr/bin/env node
// strata's command line: the whole command surface is listed here, one module per command.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import * as apply from './commands/apply.js';
import * as changes from './commands/changes.js';
import * as dangling from './commands/dangling.js';
import * as demo from './commands/demo.js';
import * as df from './commands/df.js';
import * as diff from './commands/diff.js';
import * as images from './commands/images.js';
import * as inspect from './commands/inspect.js';
import * as layers from './commands/layers.js';
import * as load from './commands/load.js';
import * as mount from './commands/mount.js';
import * as verify from './commands/verify.js';
import * as history from './commands/history.js';
import * as ps from './commands/ps.js';
import * as save from './commands/save.js';
import * as exportCommand from './commands/export.js';
import { isClosedPipe, outputError, watchStdout } from '../inspect/output-file.js';
import { CLOSED_PIPE_EXIT, reportError } from './output.js';
import { defaultRoot } from '../inspect/open-store.js';
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

const commands = [demo, images, history, ps, dangling, layers, df, inspect, diff, verify, changes, save, exportCommand, load, apply, mount, mount.umount];

const cli = yargs(hideBin(process.argv));
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
  .usage('$0 <command> [options]\n\nOpen a container engine\'s storage directory offline and show what is inside.')
  .option('root', {
    type: 'string',
    default: defaultRoot(),
    defaultDescription: "$STRATA_ROOT, else /etc/docker/daemon.json's data-root, else /var/lib/docker",
    describe: 'Data-root of the engine',
    global: true,
  })
  .option('driver', { type: 'string', describe: 'Storage driver (default: detected from the data-root)', global: true })
  .option('json', { type: 'boolean', describe: 'Machine output on stdout (JSON only)', global: true })
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
    process.stderr.write(`strata: error: ${msg}\n(strata --help lists commands and options)\n`);
    process.exit(2);
  })
  .parseAsync()
  .catch((err: unknown) => {
    if (err !== reported) reportError(err);
  });
