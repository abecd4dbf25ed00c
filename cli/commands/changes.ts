// strata changes: what a container or a layer added (A), changed (C) and deleted (D), as docker diff lists it.
// Paths are bytes, printed as docker prints them: dockerd sends them through Go's encoding/json, which
// turns each byte that is not part of valid UTF-8 into U+FFFD. --json adds the exact bytes (pathRaw,
// base64) for such a path, as tar-split's name_raw does.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { EMPTY_REFERENCE, nonEmpty } from '../unknown-options.js';
import { resolveLayerTarget } from '../../inspect/layer-export.js';
import { displayPath, isUtf8 } from '../../native/names.js';
import { refineByContent, type Change } from '../../snapshots/tree.js';
import { StrataError } from '../../native/errors.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface ChangesArgs extends GlobalArgs {
  ref: string;
  layer?: number;
  content?: boolean;
}

export const command = 'changes <ref>';
export const describe = 'List added/changed/deleted paths of a container (like docker diff) or of a layer';

export function builder(y: Argv) {
  return y
    .positional('ref', { type: 'string', coerce: nonEmpty('REF', EMPTY_REFERENCE), demandOption: true, describe: 'Container id or name, layer ChainID/DiffID/cache id, or an image with --layer' })
    .option('layer', { type: 'number', describe: 'With an image: which of its layers (1 = base, -1 = top)' })
    .option('content', { type: 'boolean', describe: 'Compare contents (xxhash64) where only a file\'s time changed; docker diff does not' })
    .example('$0 changes my-container', 'what docker diff my-container shows')
    .example('$0 changes app:1 --layer -1 --json', "the top layer's changes as JSON")
    .example('$0 changes my-container --content', 'leave out files whose bytes did not change');
}

export async function handler(args: ArgumentsCamelCase<ChangesArgs>): Promise<void> {
  await runCommand(async () => {
    const { model, driver } = await loadStore(args);
    if (!driver) throw new StrataError(`strata cannot read ${model.driver} layers yet`, { file: args.root });
    const target = resolveLayerTarget(model, args.ref, args.layer);
    const changes = args.content ? await refineByContent(await driver.changes(target.ref), (path) => driver.openViewEntry(path)) : await driver.changes(target.ref);
    if (args.json) printJson(changes.map(changeJson));
    else writeOut(changes.map((c) => `${c.kind} ${displayPath(c.path)}\n`).join(''));
    return model.warnings;
  });
}

/** {kind, path} with the path as docker shows it, plus pathRaw (base64 of its bytes) when that is not UTF-8. */
export function changeJson(c: Change): { kind: Change['kind']; path: string; pathRaw?: string } {
  const path = displayPath(c.path);
  return isUtf8(c.path) ? { kind: c.kind, path } : { kind: c.kind, path, pathRaw: c.path.toString('base64') };
}
