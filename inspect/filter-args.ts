// docker's filters.Args as both listings (images, ps) read them: `-f name=value` flags parsed as the docker
// CLI parses them, the daemon's check of the keys it accepts, and the label match both daemons' lists use.
import { StrataError } from '../native/errors.js';

/** A filter the daemon refuses, in its words (docker prints them after "Error response from daemon: "). */
export class FilterError extends StrataError {
  override name = 'FilterError';
}

/** Filter values by key, in the order given, each value once (docker keeps them as a set). */
export type FilterArgs = Map<string, string[]>;

export function addFilter(args: FilterArgs, key: string, value: string): FilterArgs {
  const values = args.get(key) ?? [];
  if (!values.includes(value)) values.push(value);
  args.set(key, values);
  return args;
}

/** The docker CLI's words for a -f flag without '=' (opts.FilterOpt): a usage error. */
export function badFilterFormat(flag: string, spelled = '-f, --filter'): string {
  return `invalid argument ${JSON.stringify(flag)} for "${spelled}" flag: bad format of filter (expected name=value)`;
}

/**
 * `-f name=value` flags as the docker CLI reads them: the name lowercased, both sides trimmed, an empty
 * flag ignored. Throws the CLI's message for a flag without '='.
 */
export function parseFilterFlags(flags: readonly string[], spelled?: string): FilterArgs {
  const args: FilterArgs = new Map();
  for (const flag of flags) {
    if (flag === '') continue;
    const eq = flag.indexOf('=');
    if (eq < 0) throw new FilterError(badFilterFormat(flag, spelled));
    addFilter(args, flag.slice(0, eq).trim().toLowerCase(), flag.slice(eq + 1).trim());
  }
  return args;
}

/** The daemon's check (filters.Args.Validate): every key one it accepts, else `Invalid filter 'key'`. */
export function checkFilterKeys(args: FilterArgs, accepted: readonly string[]): void {
  for (const key of args.keys()) {
    if (!accepted.includes(key)) throw new FilterError(`Invalid filter '${key}'`);
  }
}

/** moby's MatchKVList: every `k` must be a label, every `k=v` a label with that value. */
export function labelsMatch(wanted: readonly string[] | undefined, labels: Record<string, string> | null): boolean {
  if (!wanted || wanted.length === 0) return true;
  if (!labels || Object.keys(labels).length === 0) return false;
  for (const w of wanted) {
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    if (!Object.prototype.hasOwnProperty.call(labels, key)) return false;
    if (eq >= 0 && String(labels[key]) !== w.slice(eq + 1)) return false;
  }
  return true;
}
