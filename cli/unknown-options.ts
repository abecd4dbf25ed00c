// Kept apart from cli/options.ts (which pulls in the template parser): cli/index.ts imports it at start-up.

/**
 * Options yargs parsed that no command declares. An unknown `--flag VALUE` takes the value as its own, so
 * yargs then complains of a missing argument (`rmi --dryrun app:1`); naming the unknown flag is the useful answer.
 */
/** yargs' camelCase twin of a dashed option name (dry-run → dryRun). */
const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function unknownOptions(parsed: Record<string, unknown>, known: readonly string[], aliases: Record<string, readonly string[]>): string[] {
  const names = new Set<string>(['_', '$0']);
  for (const k of [...known, ...Object.keys(aliases), ...Object.values(aliases).flat()]) names.add(k).add(camel(k));
  return Object.keys(parsed).filter((k) => !names.has(k));
}

/** yargs lists an unknown `--dry-rn` twice, as typed and camelCased (dryRn): only what the user typed is named. */
export function unknownArgumentsText(names: readonly string[]): string {
  const typed = names.filter((n) => !names.some((o) => o !== n && o.includes('-') && camel(o) === n));
  return `Unknown argument${typed.length > 1 ? 's' : ''}: ${typed.join(', ')}`;
}

/**
 * A coerce function refusing an empty argument ('' typed or left by an unset variable) as a usage error that
 * names it: `--root: empty path`, `IMAGE: empty reference (invalid reference format)`. A list is refused when
 * any of its values is empty; the value is otherwise returned as it is.
 */
export function nonEmpty(name: string, what: string): (value: unknown) => unknown {
  return (value) => {
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => v === '')) throw new Error(`${name}: ${what}`);
    return value;
  };
}

/** The reason given for an empty image/container/layer reference, with docker's words for it. */
export const EMPTY_REFERENCE = 'empty reference (invalid reference format)';
