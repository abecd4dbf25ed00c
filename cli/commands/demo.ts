// strata demo: a sample store built from images shipped with strata, then its image graph.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { buildDemoStore } from '../../inspect/demo.js';
import { openStore } from '../../inspect/open-store.js';
import { buildImageTree, renderTreeText } from '../../inspect/tree.js';
import { humanSizeSpaced } from '../format.js';
import { printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface DemoArgs extends GlobalArgs {
  dir?: string;
}

export const command = 'demo';
export const describe = 'Build a sample store from images shipped with strata and show its image graph';

export function builder(y: Argv) {
  return y
    .option('dir', { type: 'string', describe: 'Build the store here (default: a new temporary directory)' })
    .example('$0 demo', 'no Docker needed')
    .example('$0 demo --json', 'the demo image graph as JSON');
}

export async function handler(args: ArgumentsCamelCase<DemoArgs>): Promise<void> {
  await runCommand(async () => {
    const { root, images } = await buildDemoStore(args.dir);
    const { model } = await openStore({ root });
    if (args.json) {
      printJson({ root, images, tree: buildImageTree(model) });
      return model.warnings;
    }
    writeOut(`A demo store was built in ${root} from sample images made with dockerd 20.10.\n\n$ strata --root ${root} images --tree\n`);
    writeOut(renderTreeText(buildImageTree(model), { humanSize: humanSizeSpaced }));
    writeOut(
      `\nTry, on the same store:\n  strata --root ${root} images -a\n  strata --root ${root} dangling\n  strata --root ${root} df -v\n  strata --root ${root} layers demo/app:2\n  strata --root ${root} verify\n  strata --root ${root} changes demo/app:2 --layer -1\n` +
        `(remove it with: rm -rf ${root})\n`,
    );
    return model.warnings;
  });
}
