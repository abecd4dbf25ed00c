// strata inspect: docker inspect, offline. Docker's JSON array by default (and with --json), Go templates
// with --format, strata's readable view of an image (layers, directories, children) with --pretty.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { EMPTY_REFERENCE, nonEmpty } from '../unknown-options.js';
import { join } from 'node:path';
import type { StorageDriver } from '../../drivers/types.js';
import { isRecordedUp } from '../../inspect/containers-list.js';
import { daemonUsing } from '../../inspect/daemon-check.js';
import { MetadataReader } from '../../inspect/docker/files.js';
import { buildContainerInspect, buildImageInspect, containerLayers, dockerInspectText, findInspectTarget, goIndentedJson, type InspectTarget, type InspectType } from '../../inspect/docker-inspect.js';
import { inspectImage } from '../../inspect/inspect-image.js';
import type { Container, Image, StoreModel } from '../../inspect/model.js';
import type { Warning } from '../../inspect/warnings.js';
import { StrataError } from '../../native/errors.js';
import { executeTemplate, parseTemplate, TemplateError, type Template } from '../go-template.js';
import { humanSize, shortHex } from '../format.js';
import { formatOption } from '../options.js';
import { loadStore, printWarnings, runCommand, writeOut, type GlobalArgs } from '../output.js';
import { containerConfigName } from '../../inspect/v1/read-store.js';
import { computeV1DiffIds } from '../../inspect/v1/diff-ids.js';

interface InspectArgs extends GlobalArgs {
  refs: string[];
  type?: string;
  format?: string;
  pretty?: boolean;
  size?: boolean;
}

export const command = 'inspect <refs..>';
export const describe = 'Show images and containers as docker inspect does (Docker\'s JSON; --format; --pretty for a readable view)';

const TYPES: readonly InspectType[] = ['container', 'image'];
/** Kinds docker inspect knows that a data-root read offline does not answer for. */
const OTHER_DOCKER_TYPES = ['network', 'volume', 'service', 'task', 'node', 'plugin', 'secret', 'config'];

export function builder(y: Argv) {
  return y
    .positional('refs', { type: 'string', coerce: nonEmpty('NAME|ID', EMPTY_REFERENCE), array: true, demandOption: true, describe: 'Container name or id (prefix), image id (prefix), name[:tag] or name@digest' })
    .option('type', { type: 'string', requiresArg: true, describe: 'Only this kind of object: container or image (default: a container first, then an image)' })
    .option('format', formatOption("Go template over Docker's object, one line per object ('{{.Id}}', '{{json .Config}}')", 'inspect', 'f'))
    .option('size', { alias: 's', type: 'boolean', describe: 'Containers: add SizeRw and SizeRootFs' })
    .option('pretty', { type: 'boolean', describe: "strata's readable view: layers with their directories, parent, children, containers" })
    .conflicts({ pretty: ['format', 'json'], json: ['format'] })
    .example('$0 inspect app:1 c-running', "both objects in one JSON array, as docker inspect prints them")
    .example("$0 inspect -f '{{.Config.Env}} {{index .Config.Labels \"org.example.version\"}}' app:1", 'fields through a Go template')
    .example('$0 inspect --pretty 3f8f4f', 'an image by id prefix, for reading');
}

/** The --type value, or a StrataError in docker's words. */
function inspectType(value: string | undefined): InspectType | undefined {
  if (value === undefined || value === '') return undefined;
  if ((TYPES as readonly string[]).includes(value)) return value as InspectType;
  if (OTHER_DOCKER_TYPES.includes(value)) throw new StrataError(`--type ${value}: strata inspects images and containers only`);
  throw new StrataError(`"${value}" is not a valid value for --type`);
}

/** One object found, built into Docker's shape. */
interface Inspected {
  target: Extract<InspectTarget, { kind: 'container' | 'image' }>;
  json: Record<string, unknown>;
}

/** A container recorded as running while no dockerd runs on the root: docker would say the same, but it is history. */
function staleStateWarnings(model: StoreModel, found: Inspected[]): Warning[] {
  const recordedRunning = found.filter((f) => f.target.kind === 'container' && isRecordedUp(f.target.container.state));
  if (recordedRunning.length === 0 || daemonUsing(model.root) !== null) return [];
  return recordedRunning.map((f) => {
    const c = (f.target as { container: Container }).container;
    return { file: join(model.root, 'containers', c.id, containerConfigName(model.layout)), message: `container ${c.name} is recorded as ${c.state}, but no dockerd is running on ${model.root}: its State is what dockerd last wrote` };
  });
}

/**
 * Each object through the template, one line each as docker prints them: over docker's typed object, and
 * when that fails over its raw JSON; what fails both ways becomes docker's line.
 */
function renderTemplate(template: Template, found: Inspected[], errors: string[]): string {
  let out = '';
  for (const f of found) {
    try {
      out += `${executeTemplate(template, f.json)}\n`;
    } catch (typedError) {
      if (!(typedError instanceof TemplateError)) throw typedError;
      // As docker: once more over the raw JSON (maps only), where a missing key is an error.
      try {
        out += `${executeTemplate(template, JSON.parse(goIndentedJson(f.json)), { missingKey: 'error' })}\n`;
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        errors.push(`strata: error: template parsing error: ${err.message}`);
      }
    }
  }
  // docker prints an empty line when no object gave any output.
  return out === '' ? '\n' : out;
}

function prettyImage(model: StoreModel, driver: StorageDriver | null, image: Image): string {
  const info = inspectImage(model, driver, image);
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
  return lines.join('\n') + '\n';
}

function prettyContainer(model: StoreModel, driver: StorageDriver | null, c: Container, json: Record<string, unknown>): string {
  const image = model.images.get(c.imageId);
  const { mountId } = containerLayers(model, c);
  const mounts = (json.Mounts as Array<{ Type?: string; Name?: string; Source: string; Destination: string; RW: boolean }>) ?? [];
  const lines = [
    `ID:          ${c.id}`,
    `Name:        ${c.name}`,
    `Image:       ${c.imageRef}${image ? ` (${shortHex(image.id)})` : c.imageId ? ` (${shortHex(c.imageId)}, not in imagedb)` : ''}`,
    `Command:     ${c.command}`,
    `Created:     ${c.created}`,
    `State:       ${c.state}${c.state === 'exited' ? ` (${c.exitCode}) at ${c.finishedAt}` : ''}`,
    `Layer:       ${mountId ?? '?'}`,
    `      dir    ${driver && mountId ? driver.contentDir(mountId) : '?'}`,
    `Mounts:      ${mounts.map((m) => `${m.Type === 'volume' ? m.Name : m.Source} -> ${m.Destination}${m.RW ? '' : ' (ro)'}`).join(', ') || '<none>'}`,
  ];
  return lines.join('\n') + '\n';
}

export async function handler(args: ArgumentsCamelCase<InspectArgs>): Promise<void> {
  await runCommand(async () => {
    const type = inspectType(args.type);
    // A template that does not parse was refused while the options were read (cli/options.ts).
    const template: Template | null = args.format === undefined ? null : parseTemplate(args.format);
    const { model, driver } = await loadStore(args);
    const r = new MetadataReader();
    const found: Inspected[] = [];
    const errors: string[] = [];
    for (const ref of args.refs.map(String)) {
      const target = findInspectTarget(model, ref, type);
      if (target.kind === 'miss') {
        errors.push(target.message);
        continue;
      }
      if (target.kind === 'unreadable-container') {
        errors.push(`Error: container ${shortHex(target.id)} cannot be read: ${target.file}: ${target.reason}`);
        continue;
      }
      try {
        if (target.kind === 'container') found.push({ target, json: buildContainerInspect(model, driver, r, target.container, !!args.size) });
        else {
          if (args.size) process.stderr.write('WARNING: --size ignored for image\n');
          await computeV1DiffIds(model, driver, new Set(target.image.chainIds));
          found.push({ target, json: buildImageInspect(model, driver, r, target.image) });
        }
      } catch (err) {
        if (!(err instanceof StrataError)) throw err;
        errors.push(`Error: ${err.message}`);
      }
    }

    if (args.pretty) {
      writeOut(found.map((f) => (f.target.kind === 'image' ? prettyImage(model, driver, f.target.image) : prettyContainer(model, driver, f.target.container, f.json))).join('\n'));
    } else if (template) {
      writeOut(renderTemplate(template, found, errors));
    } else {
      writeOut(dockerInspectText(found.map((f) => f.json)));
    }
    printWarnings([...model.warnings, ...r.warnings, ...staleStateWarnings(model, found)]);
    for (const line of errors) process.stderr.write(`${line}\n`);
    if (errors.length) process.exitCode = 1;
  });
}
