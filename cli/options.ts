// Options several commands share, checked while yargs parses them: a mistake in one is a usage error
// (one line, exit 2) before any store is read, the same in every command.
import { parseFilterFlags, type FilterArgs } from '../inspect/filter-args.js';
import { dockerFinalFormat } from './docker-format.js';
import { parseTemplate, TemplateError } from './go-template.js';

/** `-f, --filter key=value` (repeatable), parsed as the docker CLI parses it; a flag without '=' is refused. */
export function filterOption(describe: string, short: 'f' | null = 'f') {
  return {
    alias: short ?? [],
    type: 'string',
    requiresArg: true,
    describe,
    // docker names the flag as its help spells it: "-f, --filter", or "--filter" where -f is --force (prune).
    coerce: (value: string | string[]): FilterArgs => parseFilterFlags(([] as string[]).concat(value), short ? '-f, --filter' : '--filter'),
  } as const;
}

/**
 * How a command's `--format` is read by docker, and the words docker puts before a parse error:
 * 'formatter' is docker's cli/command/formatter ("table" cut off, \t and \n made real; images, history,
 * system df); docker ps first parses the text as given, in its own words; inspect parses it as given.
 */
export type TemplateDialect = 'formatter' | 'ps' | 'inspect';

const PARSE_ERROR_WORDS: Record<TemplateDialect, string> = {
  formatter: 'template parsing error',
  ps: 'failed to parse template',
  inspect: 'template parsing error',
};

/** Throws docker's line for a --format that does not parse (a TemplateError); the format itself otherwise. */
export function checkTemplate(format: string, dialect: TemplateDialect): string {
  try {
    parseTemplate(dialect === 'formatter' ? dockerFinalFormat(format) : format);
  } catch (err) {
    if (err instanceof TemplateError) throw new TemplateError(`${PARSE_ERROR_WORDS[dialect]}: ${err.message}`);
    throw err;
  }
  return format;
}

/** `--format TEMPLATE`: a template that does not parse is refused as a usage error, in docker's words. */
export function formatOption(describe: string, dialect: TemplateDialect, alias?: string) {
  return {
    ...(alias ? { alias } : {}),
    type: 'string',
    requiresArg: true,
    describe,
    coerce: (value: string | string[]): string => checkTemplate(([] as string[]).concat(value).at(-1) ?? '', dialect),
  } as const;
}
