// strata mount / umount: an image's files (read-only) or a container's root filesystem at a directory.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { EMPTY_REFERENCE, nonEmpty } from '../unknown-options.js';
import { executeMounts, mountPoint, unmount } from '../../drivers/mount.js';
import { daemonUsing } from '../../inspect/daemon-check.js';
import { resolveMountTarget } from '../../inspect/layer-export.js';
import { StrataError } from '../../native/errors.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface MountArgs extends GlobalArgs {
  ref: string;
  dir: string;
  rw?: boolean;
  print?: boolean;
}

export const command = 'mount <ref> <dir>';
export const describe = 'Mount an image (read-only) or a container (its read-write layer on top) at DIR';

export function builder(y: Argv) {
  return y
    .positional('ref', { type: 'string', coerce: nonEmpty('REF', EMPTY_REFERENCE), demandOption: true, describe: 'Image, container, or layer' })
    .positional('dir', { type: 'string', demandOption: true, coerce: nonEmpty('DIR', 'empty path'), describe: 'An existing directory' })
    .option('rw', { type: 'boolean', describe: "A container's layer writable (never while a daemon uses the store)" })
    .option('print', { type: 'boolean', describe: 'Print the mount description instead of mounting' })
    .example('$0 mount app:1 /mnt/app', 'browse an image')
    .example('$0 mount my-container /mnt/c --print', 'the overlay options, as data');
}

export async function handler(args: ArgumentsCamelCase<MountArgs>): Promise<void> {
  await runCommand(async () => {
    const { model, driver } = await loadStore(args);
    if (!driver) throw new StrataError(`strata cannot read ${model.driver} layers yet`, { file: args.root });
    const target = resolveMountTarget(model, args.ref);
    if (args.rw && target.kind !== 'container') throw new StrataError('is not a container: image layers are mounted read-only', { file: args.ref });
    if (args.rw) {
      const busy = daemonUsing(args.root);
      if (busy) throw new StrataError(`${busy}; refusing a writable mount (stop the daemon first)`);
    }
    const descriptions = driver.mounts(target.ref, args.print ? args.dir : mountPoint(args.dir), { readOnly: !args.rw, describeOnly: args.print });
    if (args.print || args.json) {
      printJson(descriptions);
      if (args.print) return model.warnings;
    }
    const at = mountPoint(args.dir);
    executeMounts(descriptions, (d, how) => {
      // Mounts on the way (devicemapper's device image in the temp directory) are no news to the user.
      if (!args.json && d.target === at) writeOut(`${args.dir}: ${args.ref} mounted ${args.rw ? 'read-write' : 'read-only'} (${how})\n`);
    });
    return model.warnings;
  });
}

export const umount = {
  command: 'umount <dir>',
  describe: 'Unmount what strata mount mounted',
  builder: (y: Argv) => y.positional('dir', { type: 'string', coerce: nonEmpty('DIR', 'empty path'), demandOption: true, describe: 'Where strata mount mounted it' }).example('$0 umount /mnt/app', 'after strata mount app:1 /mnt/app'),
  handler: async (args: ArgumentsCamelCase<{ dir: string }>) => {
    await runCommand(() => unmount(args.dir));
  },
};
