// strata diff: a layer (or a container's read-write layer) as an uncompressed tar, byte-identical to what
// docker save exports where the layer's tar-split survives.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { canCopyInKernel, DigestMismatchError, diagnoseLayer, layerStream, resolveLayerTarget, writeFileAtomically, writeToFd } from '../../inspect/layer-export.js';
import { loadStore, runCommand, type GlobalArgs } from '../output.js';
import { createProgress } from '../progress.js';

interface DiffArgs extends GlobalArgs {
  ref: string;
  layer?: number;
  output?: string;
  fresh?: boolean;
}

export const command = 'diff <ref>';
export const describe = 'Export a layer as a tar: ChainID, DiffID, cache id, IMAGE --layer N, or a container';

export function builder(y: Argv) {
  return y
    .positional('ref', { type: 'string', demandOption: true, describe: 'ChainID, DiffID, cache id (or unique prefixes), image with --layer, container id or name' })
    .option('layer', { type: 'number', describe: "With an image: which of its layers (1 = base, -1 = top)" })
    .option('output', { alias: 'o', type: 'string', describe: 'Write to this file (written beside it, renamed into place)' })
    .option('fresh', { type: 'boolean', describe: 'Generate the tar from the driver even when a tar-split exists' })
    .example('$0 diff app:1 --layer -1 -o top.tar', "an image's top layer")
    .example('$0 diff sha256:0fd36c… | tar -t', 'by ChainID, to a pipe')
    .example('$0 diff my-container -o changes.tar', "a container's read-write layer");
}

export async function handler(args: ArgumentsCamelCase<DiffArgs>): Promise<void> {
  await runCommand(async () => {
    if (!args.output && process.stdout.isTTY) throw new Error('refusing to write a tar to a terminal: use -o FILE or a pipe');
    const { model, driver } = await loadStore(args);
    if (!driver) throw new Error(`strata cannot read ${model.driver} layers yet`);
    const target = resolveLayerTarget(model, args.ref, args.layer);
    const stream = layerStream(driver, target, { fresh: args.fresh, passFiles: canCopyInKernel() });
    const total = target.kind === 'layer' ? model.layers.get(target.chainId)?.size ?? null : null;
    const progress = createProgress('diff', total, !!args.output);
    // An exact rebuild is checked against the DiffID as a whole; only when that fails is it rebuilt again
    // with a CRC-64 check per file, to name the file that changed.
    const expectDigest = stream.exact ? stream.expectedDiffId : null;
    let result;
    try {
      result = args.output
        ? await writeFileAtomically(args.output, stream.chunks, { onBytes: (n) => progress.add(n), expectDigest })
        : await writeToFd(null, stream.chunks, { digest: !!expectDigest });
    } catch (err) {
      if (err instanceof DigestMismatchError) throw new Error(`${err.message}: ${await diagnoseLayer(driver, target)}`);
      throw err;
    } finally {
      progress.done();
    }
    if (expectDigest && result.digest !== expectDigest) {
      throw new Error(`the tar written hashes to ${result.digest}, not the layer's DiffID ${expectDigest}: ${await diagnoseLayer(driver, target)}`);
    }
    if (args.output) process.stderr.write(`${args.output}: ${result.bytes} bytes${stream.exact ? `, ${result.digest} (= DiffID)` : ' (fresh export)'}\n`);
    return model.warnings;
  });
}
