// strata diff: a layer (or a container's read-write layer) as an uncompressed tar, byte-identical to what
// docker save exports where the layer's tar-split survives.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { EMPTY_REFERENCE, nonEmpty } from '../unknown-options.js';
import { canCopyInKernel, DigestMismatchError, diagnoseLayer, layerStream, resolveLayerTarget, writeToOutput } from '../../inspect/layer-export.js';
import { openOutput, OutputError } from '../../inspect/output-file.js';
import { StrataError } from '../../native/errors.js';
import { loadStore, runCommand, type GlobalArgs } from '../output.js';
import { createProgress } from '../progress.js';

interface DiffArgs extends GlobalArgs {
  ref: string;
  layer?: number;
  output?: string;
  follow?: boolean;
  fresh?: boolean;
}

export const command = 'diff <ref>';
export const describe = 'Export a layer as a tar: ChainID, DiffID, cache id, IMAGE --layer N, or a container';

export function builder(y: Argv) {
  return y
    .positional('ref', { type: 'string', coerce: nonEmpty('REF', EMPTY_REFERENCE), demandOption: true, describe: 'ChainID, DiffID, cache id (or unique prefixes), image with --layer, container id or name' })
    .option('layer', { type: 'number', describe: "With an image: which of its layers (1 = base, -1 = top)" })
    .option('output', { alias: 'o', type: 'string', coerce: nonEmpty('-o', 'empty path'), describe: 'Write to FILE (a regular file is replaced only once the tar is complete and checked; a FIFO or device is written through; - is stdout)' })
    .option('follow', { type: 'boolean', describe: 'With -o: write where a symbolic link points (refused otherwise)' })
    .option('fresh', { type: 'boolean', describe: 'Generate the tar from the driver even when a tar-split exists' })
    .example('$0 diff app:1 --layer -1 -o top.tar', "an image's top layer")
    .example('$0 diff sha256:0fd36c… | tar -t', 'by ChainID, to a pipe')
    .example('$0 diff my-container -o changes.tar', "a container's read-write layer")
    .example('$0 changes my-container', 'what changed, as docker diff lists it');
}

function terminalRefusal(name: string, ref: string, layer: number | undefined): OutputError {
  const changes = `strata changes ${ref}${layer === undefined ? '' : ` --layer ${layer}`}`;
  return new OutputError(`is a terminal: strata diff writes the layer as a tar (use -o FILE or a pipe); ${changes} lists what changed, as docker diff does`, { file: name });
}

export async function handler(args: ArgumentsCamelCase<DiffArgs>): Promise<void> {
  await runCommand(async () => {
    const output = args.output ?? '-';
    if (output === '-' && process.stdout.isTTY) throw terminalRefusal('stdout', args.ref, args.layer);
    const { model, driver } = await loadStore(args);
    if (!driver) throw new StrataError(`strata cannot read ${model.driver} layers yet`, { file: args.root });
    const target = resolveLayerTarget(model, args.ref, args.layer);
    const out = await openOutput(output, { follow: args.follow });
    if (out.isTerminal) {
      out.abort();
      throw terminalRefusal(out.name, args.ref, args.layer);
    }
    let stream;
    try {
      stream = layerStream(driver, target, { fresh: args.fresh, passFiles: canCopyInKernel() });
    } catch (err) {
      out.abort();
      throw err;
    }
    const total = target.kind === 'layer' ? model.layers.get(target.chainId)?.size ?? null : null;
    const progress = createProgress('diff', total, out.kind !== 'stdout');
    // An exact rebuild is checked against the DiffID as a whole; only when that fails is it rebuilt again
    // with a CRC-64 check per file, to name the file that changed.
    const expectDigest = stream.exact ? stream.expectedDiffId : null;
    let result;
    try {
      result = await writeToOutput(out, stream.chunks, { onBytes: (n) => progress.add(n), expectDigest });
    } catch (err) {
      if (err instanceof DigestMismatchError) throw new DigestMismatchError(`${err.reason}: ${await diagnoseLayer(driver, target)}`, { file: err.file, cause: err });
      throw err;
    } finally {
      progress.done();
    }
    if (out.kind !== 'stdout') process.stderr.write(`${output}: ${result.bytes} bytes${stream.exact ? `, ${result.digest} (= DiffID)` : ' (fresh export)'}\n`);
    return model.warnings;
  });
}
