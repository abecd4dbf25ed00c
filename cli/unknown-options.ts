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
