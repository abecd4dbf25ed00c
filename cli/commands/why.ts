// strata why: what keeps an image or a layer alive, what each blocker pins, what removing it frees, and
// the docker commands that remove it (inspect/why.ts asks; this prints).
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { EMPTY_REFERENCE, nonEmpty } from '../unknown-options.js';
import { containerSizes } from '../../inspect/df.js';
import { hexOf } from '../../inspect/digest.js';
import type { Container, StoreModel } from '../../inspect/model.js';
import { hintPermissionOnce } from '../../inspect/unreadable.js';
import type { Warning } from '../../inspect/warnings.js';
import { why, type WhyContainer, type WhyImage, type WhyReport } from '../../inspect/why.js';
import type { StorageDriver } from '../../drivers/types.js';
import { humanSize, table } from '../format.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface WhyArgs extends GlobalArgs {
  ref: string;
  noSize?: boolean;
}

export const command = 'why <ref>';
export const describe = 'What keeps an image or layer alive, the bytes each blocker pins, and the docker commands that remove it';

export function builder(y: Argv) {
  return y
    .positional('ref', { type: 'string', coerce: nonEmpty('REF', EMPTY_REFERENCE), describe: 'Image (name:tag, id or id prefix) or layer (ChainID, DiffID or cache id, full or a unique prefix)' })
    .option('no-size', { type: 'boolean', describe: "Do not measure containers' read-write layers (metadata only)" })
    .example('$0 why app:1', 'tags, child images, containers and shared layers of app:1, and how to remove it')
    .example('$0 why 3f2a9c', 'an image or a layer by id prefix')
    .example('$0 why --json --no-size app:1', 'as JSON, without measuring read-write layers');
}

const short = (id: string) => hexOf(id).slice(0, 12);

function imageLabel(i: { id: string; repoTags: string[] }): string {
  return i.repoTags.length ? `${short(i.id)} (${i.repoTags.join(', ')})` : short(i.id);
}

const MATCHED: Record<string, string> = {
  id: 'its id',
  'id-prefix': 'an id prefix',
  reference: 'a reference',
  'chain-id': 'its ChainID',
  'diff-id': 'its DiffID',
  'cache-id': 'its driver cache id',
};

function section(title: string, body: string): string {
  return `\n${title}\n${body.replace(/^(?=.)/gm, '  ')}`;
}

function containerRows(list: WhyContainer[], model: StoreModel): string[][] {
  const imageName = (id: string | null) => {
    if (id === null) return '-';
    const img = model.images.get(id);
    return img?.repoTags[0] ?? short(id);
  };
  return list.map((c) => [c.leftOver ? c.id.slice(0, 12) : c.name, c.state, imageName(c.imageId), c.rwBytes === null ? '-' : humanSize(c.rwBytes), humanSize(c.pinnedBytes)]);
}

function imageRows(list: WhyImage[], extra: (i: WhyImage) => string[] = () => []): string[][] {
  return list.map((i) => [short(i.id), i.repoTags.join(', ') || '<none>', humanSize(i.uniqueBytes), ...extra(i)]);
}

export function whyText(r: WhyReport, model: StoreModel): string {
  const t = r.target;
  const out: string[] = [];
  if (t.kind === 'image') {
    out.push(`image ${t.id}\n  matched ${t.input} as ${MATCHED[t.matched]}; ${humanSize(t.size)} in ${t.chainIds.length} layer(s)\n`);
    out.push(section('Tags:', r.tags.length ? r.tags.map((x) => `${x}\n`).join('') : 'none\n'));
    if (r.children.length) out.push(section(`Child images (${r.children.length}, removed before it):`, table(['IMAGE', 'TAGS', 'UNIQUE', 'PARENT'], imageRows(r.children, (i) => [i.parent ? short(i.parent) : '-']))));
  } else {
    const leaked = t.leaked === true ? 'leaked (nothing holds it)' : t.leaked === null ? 'unknown whether leaked (something could not be read)' : 'in use';
    out.push(`layer ${t.id}\n  matched ${t.input} as ${MATCHED[t.matched]}; ${humanSize(t.size)}; diff ${t.diffId ?? '-'}; cache id ${t.cacheId ?? '-'}; ${leaked}\n`);
    out.push(section(`Images whose chain holds it (${r.images.length}):`, r.images.length ? table(['IMAGE', 'TAGS', 'UNIQUE', 'TOP LAYER'], imageRows(r.images, (i) => [i.top ? 'yes' : 'no'])) : 'none\n'));
    out.push(section(`Layers above it: ${r.layersAbove.length}`, r.layersAbove.slice(0, 10).map((id) => `${id}\n`).join('') + (r.layersAbove.length > 10 ? `… and ${r.layersAbove.length - 10} more\n` : '')));
  }
  if (r.containers.length) out.push(section(`Containers (${r.containers.length}):`, table(['NAME', 'STATE', 'IMAGE', 'RW', 'PINNED'], containerRows(r.containers, model))));
  if (r.sharedWith.length) {
    const rows = r.sharedWith.map((s) => [imageLabel(s), `${s.layers.length} of ${t.chainIds.length}`, humanSize(s.bytes)]);
    out.push(section(`Shares layers with (${r.sharedWith.length} image(s); shared layers stay):`, table(['IMAGE', 'LAYERS', 'SHARED'], rows)));
  }
  if (r.unknown.length) out.push(section('Unknown (could not be read; may keep it alive):', r.unknown.map((u) => `${u.kind}${u.id ? ` ${u.id.slice(0, 12)}` : ''}: ${u.file}: ${u.reason}\n`).join('')));
  if (r.pinned.length) out.push(section('Pinned by each (overlapping: what would stay were it alone left):', table(['KIND', 'NAME', 'BYTES'], r.pinned.map((p) => [p.kind, p.name, humanSize(p.bytes)]))));
  const f = r.freedIfRemoved;
  const parts = [`${f.layers.length} layer(s) ${humanSize(f.layerBytes)}`, `${f.images.length} image(s)`, `${f.containers.length} container(s)${f.rwBytes ? ` ${humanSize(f.rwBytes)} read-write` : ''}`];
  out.push(section('Freed if it all went:', `${humanSize(f.bytes)} (${parts.join(', ')})\n${r.alsoRemoved.length ? `with untagged parent image(s) rmi deletes too: ${r.alsoRemoved.map(short).join(', ')}\n` : ''}`));
  out.push(section('To remove it:', r.commands.length ? `${r.commands.join(' && ')}\n` : 'no docker command removes it\n'));
  if (r.notes.length) out.push(section('Notes:', r.notes.map((n) => `${n}\n`).join('')));
  return out.join('');
}

/** A container's read-write bytes through the driver (df's SizeRw), a warning when it cannot be measured. */
function rwSizer(model: StoreModel, driver: StorageDriver | null, warnings: Warning[]): (c: Container) => number | null {
  return (c) => containerSizes(model, driver, c, warnings).sizeRw;
}

export async function handler(args: ArgumentsCamelCase<WhyArgs>): Promise<void> {
  await runCommand(async () => {
    // Only an argument that may be a layer id needs the DiffIDs (a layer by DiffID); an image needs sizes, cache ids and parents.
    const mayBeLayer = /^(?:sha256:)?[0-9a-f]+$/.test(args.ref.trim());
    const { model, driver } = await loadStore(args, mayBeLayer ? 'all' : 'usage');
    const warnings: Warning[] = [...model.warnings];
    const report = why(model, args.ref, { rwSize: args.noSize ? undefined : rwSizer(model, driver, warnings) });
    hintPermissionOnce(warnings);
    if (args.json) printJson(report);
    else writeOut(whyText(report, model));
    return warnings;
  });
}
