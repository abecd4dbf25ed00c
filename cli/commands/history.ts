// strata history: docker history, offline (docker/cli cli/command/image/history.go and its formatter).
import { EMPTY_REFERENCE, nonEmpty } from '../unknown-options.js';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { imageHistory, type HistoryEntry } from '../../inspect/history.js';
import { resolveImage } from '../../inspect/reference.js';
import type { Warning } from '../../inspect/warnings.js';
import { dockerEllipsis, dockerHumanDuration, dockerHumanSize, dockerTimeRFC3339, renderFormat, truncateId } from '../docker-format.js';
import { formatOption } from '../options.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';

interface HistoryArgs extends GlobalArgs {
  image: string;
  human?: boolean;
  quiet?: boolean;
  noTrunc?: boolean;
  format?: string;
}

export const command = 'history <image>';
export const describe = 'Show the history of an image (like docker history)';

export function builder(y: Argv) {
  return y
    .positional('image', { type: 'string', coerce: nonEmpty('IMAGE', EMPTY_REFERENCE), describe: 'Image name, name:tag or id (prefix)' })
    .option('human', {
      alias: 'H',
      type: 'boolean',
      default: true,
      describe: 'Print sizes and dates in human readable format (--human=false for bytes and RFC 3339 dates)',
    })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Only show image IDs' })
    .option('no-trunc', { type: 'boolean', describe: "Don't truncate output" })
    .option('format', formatOption("Pretty-print with a Go template (fields: ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment), or table", 'formatter'))
    .conflicts({ json: ['format'] })
    .example('$0 history app:1', 'every step of app:1, newest first')
    .example("$0 history --no-trunc --human=false --format '{{.ID}} {{.Size}} {{.CreatedBy}}' app:1", 'ids, byte sizes and whole commands');
}

const DEFAULT_TABLE = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
const NON_HUMAN_TABLE = 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
const QUIET = '{{.ID}}';

export const HISTORY_HEADERS: Record<string, string> = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

/** The template docker uses: --format as given, else a table chosen by -q and --human (NewHistoryFormat). */
export function historyFormat(format: string | undefined, quiet: boolean, human: boolean): string {
  const source = format || 'table';
  if (source !== 'table') return source;
  return quiet ? QUIET : human ? DEFAULT_TABLE : NON_HUMAN_TABLE;
}

/** Whole seconds since the epoch, as the API hands history times to the CLI (0 when none is recorded). */
function unixSeconds(iso: string | null): number {
  const ms = iso === null ? NaN : Date.parse(iso);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

/** One history step as docker's formatter shows it (historyContext); keys in the order of Docker's JSON. */
export function historyRow(e: HistoryEntry, opts: { trunc: boolean; human: boolean; now: number }): Record<string, string> {
  const seconds = unixSeconds(e.created);
  const createdAt = dockerTimeRFC3339(new Date(seconds * 1000).toISOString());
  const id = e.id === null ? '<missing>' : opts.trunc ? truncateId(e.id) : e.id;
  const createdBy = e.createdBy.replace(/\t/g, ' ');
  const size = e.size === null ? 'unknown' : opts.human ? dockerHumanSize(e.size, 3) : String(e.size);
  return {
    Comment: e.comment,
    CreatedAt: createdAt,
    CreatedBy: opts.trunc ? dockerEllipsis(createdBy, 45) : createdBy,
    CreatedSince: opts.human ? `${dockerHumanDuration(opts.now - seconds * 1000)} ago` : createdAt,
    ID: id,
    Size: size,
  };
}

export async function handler(args: ArgumentsCamelCase<HistoryArgs>): Promise<void> {
  await runCommand(async () => {
    const { model } = await loadStore(args, 'sizes');
    const image = resolveImage(model, args.image);
    const warnings: Warning[] = [...model.warnings];
    const entries = imageHistory(model, image, warnings);
    if (args.json) {
      printJson(entries);
      return warnings;
    }
    const human = args.human !== false;
    const format = historyFormat(args.format, !!args.quiet, human);
    const now = Date.now();
    const rows = entries.map((e) => historyRow(e, { trunc: !args.noTrunc, human, now }));
    writeOut(renderFormat(format, rows, HISTORY_HEADERS, { typeName: '*image.historyContext' }));
    return warnings;
  });
}
