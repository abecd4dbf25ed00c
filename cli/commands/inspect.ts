// strata inspect: an image's config, layers with driver paths, parent, children and containers.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { inspectImage } from '../../inspect/inspect-image.js';
import { resolveImage } from '../../inspect/reference.js';
import { humanSize, shortHex } from '../format.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface InspectArgs extends GlobalArgs {
  ref: string;
}

export const command = 'inspect <ref>';
export const describe = 'Show one image: config, layers and their directories, parent, children, containers';

export function builder(y: Argv) {
  return y
    .positional('ref', { type: 'string', demandOption: true, describe: 'Image id, unique id prefix, name[:tag] or name@digest' })
    .example('$0 inspect busybox', 'busybox:latest')
    .example('$0 inspect 3f8f4f --json', 'by id prefix, as JSON');
}

export async function handler(args: ArgumentsCamelCase<InspectArgs>): Promise<void> {
  await runCommand(async () => {
    const { model, driver } = await loadStore(args);
    const info = inspectImage(model, driver, resolveImage(model, args.ref));
    if (args.json) {
      printJson(info);
      return model.warnings;
    }
    const cfg = (info.config.config ?? {}) as Record<string, unknown>;
    const lines = [
      `ID:          ${info.id}`,
      `Tags:        ${info.repoTags.join(', ') || '<none>'}`,
      ...(info.repoDigests.length ? [`Digests:     ${info.repoDigests.join(', ')}`] : []),
      `Created:     ${info.created}`,
      `Size:        ${humanSize(info.size)} (${info.size} bytes)`,
      `Dangling:    ${info.dangling ? 'yes' : 'no'}`,
      `Parent:      ${info.parent ?? '<none recorded>'}`,
      `Children:    ${info.children.map(shortHex).join(', ') || '<none>'}`,
      `Platform:    ${info.config.os ?? '?'}/${info.config.architecture ?? '?'}`,
      ...(cfg.Cmd ? [`Cmd:         ${JSON.stringify(cfg.Cmd)}`] : []),
      ...(cfg.Entrypoint ? [`Entrypoint:  ${JSON.stringify(cfg.Entrypoint)}`] : []),
      ...(Array.isArray(cfg.Env) && cfg.Env.length ? [`Env:         ${(cfg.Env as string[]).join(' ')}`] : []),
      `Layers:`,
      ...info.layers.map(
        (l, i) =>
          `  ${String(i + 1).padStart(2)}. ${l.chainId}  ${l.size === null ? '?' : humanSize(l.size)}\n      diff ${l.diffId ?? '?'}\n      dir  ${l.contentDir ?? '?'}${l.directoryExists === false ? '  (MISSING)' : ''}`,
      ),
      `Containers:  ${info.containers.map((c) => `${shortHex(c.id)} ${c.name} (${c.state})`).join(', ') || '<none>'}`,
    ];
    writeOut(lines.join('\n') + '\n');
    return model.warnings;
  });
}
