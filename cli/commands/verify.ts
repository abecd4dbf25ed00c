// strata verify: rebuild every layer's exact tar and check it hashes to its DiffID.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { EMPTY_REFERENCE, nonEmpty } from '../unknown-options.js';
import { selectLayers } from '../../inspect/layers.js';
import { resolveImage } from '../../inspect/reference.js';
import { verifyLayer, type LayerVerification } from '../../inspect/verify.js';
import { humanSize, shortHex, table } from '../format.js';
import { StrataError } from '../../native/errors.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';
import { createProgress } from '../progress.js';

interface VerifyArgs extends GlobalArgs {
  image?: string;
}

export const command = 'verify [image]';
export const describe = 'Rebuild every layer (or one image\'s) from tar-split and the files on disk; check each DiffID';

export function builder(y: Argv) {
  return y
    .positional('image', { type: 'string', coerce: nonEmpty('IMAGE', EMPTY_REFERENCE), describe: 'Only the layers of this image' })
    .example('$0 verify', 'every layer in the store')
    .example('$0 verify app:1 --json', "one image's layers, as JSON");
}

export async function handler(args: ArgumentsCamelCase<VerifyArgs>): Promise<void> {
  await runCommand(async () => {
    const { model, driver } = await loadStore(args);
    if (!driver) throw new StrataError(`strata cannot read ${model.driver} layers yet`, { file: args.root });
    const chainIds = selectLayers(model, args.image ? resolveImage(model, args.image) : undefined);
    const total = chainIds.reduce((n, c) => n + (model.layers.get(c)?.size ?? 0), 0);
    const progress = createProgress('verify', total, !args.json);
    const results: LayerVerification[] = [];
    for (const [i, chainId] of chainIds.entries()) {
      progress.label(`layer ${i + 1}/${chainIds.length} ${shortHex(chainId)}`);
      results.push(await verifyLayer(model, driver, chainId, (n) => progress.add(n)));
    }
    progress.done();
    if (args.json) printJson(results);
    else {
      const rows = results.map((r) => [shortHex(r.chainId), r.diffId ? shortHex(r.diffId) : r.actual ? `${shortHex(r.actual)} (computed)` : '-', r.ok === true ? 'ok' : r.ok === false ? 'FAILED' : 'unchecked', humanSize(r.bytes), r.problem ?? '']);
      writeOut(table(['CHAIN ID', 'DIFF ID', 'RESULT', 'TAR SIZE', 'PROBLEM'], rows));
      const failed = results.filter((r) => r.ok === false).length;
      const unchecked = results.filter((r) => r.ok === null).length;
      writeOut(`\n${results.length - failed - unchecked} layers verified, ${failed} failed, ${unchecked} without a tar-split\n`);
    }
    if (results.some((r) => r.ok === false)) process.exitCode = 1;
    return model.warnings;
  });
}
