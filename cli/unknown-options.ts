// Kept apart from cli/options.ts (which pulls in the template parser): cli/index.ts imports it at start-up.

/**
 * Options yargs parsed that no command declares. An unknown `--flag VALUE` takes the value as its own, so
 * yargs then complains of a missing argument (`rmi --dryrun app:1`); naming the unknown flag is the useful answer.
 */
export function unknownOptions(parsed: Record<string, unknown>, known: readonly string[], aliases: Record<string, readonly string[]>): string[] {
  const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const names = new Set<string>(['_', '$0']);
  for (const k of [...known, ...Object.keys(aliases), ...Object.values(aliases).flat()]) names.add(k).add(camel(k));
  return Object.keys(parsed).filter((k) => !names.has(k));
}
