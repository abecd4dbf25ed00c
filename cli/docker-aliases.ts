// Docker's management-command spellings (`docker system df`, `docker image inspect`, `docker container ls`)
// mapped to strata's commands, so that what a Docker user types works as typed.

/** [group, subcommand] → the strata command line that replaces them. */
const ALIASES: Record<string, Record<string, string[]>> = {
  // prune is a dry run unless --apply: `docker system prune` typed here shows what would go, containers included.
  system: { df: ['df'], prune: ['prune', '--containers'] },
  image: {
    ls: ['images'],
    list: ['images'],
    history: ['history'],
    inspect: ['inspect', '--type', 'image'],
    save: ['save'],
    load: ['load'],
    rm: ['rmi'],
    remove: ['rmi'],
    prune: ['prune'],
  },
  container: {
    ls: ['ps'],
    list: ['ps'],
    ps: ['ps'],
    inspect: ['inspect', '--type', 'container'],
    export: ['export'],
    // docker container diff lists a container's changes: strata changes (strata diff writes a tar).
    diff: ['changes'],
  },
};

/** Global options whose value is the next argument (--root DIR): that value names no command. */
export const GLOBAL_VALUE_OPTIONS = new Set(['--root', '--driver']);

/** Index of the first argument that is neither an option nor a global option's value, or -1. */
export function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return -1;
    if (GLOBAL_VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith('-')) return i;
  }
  return -1;
}

/** The arguments with a Docker management command (`system df`, `image inspect X`) spelled as strata's. */
export function withDockerAliases(argv: readonly string[]): string[] {
  const i = commandIndex(argv);
  const group = i >= 0 ? ALIASES[argv[i]] : undefined;
  const sub = group && i + 1 < argv.length ? group[argv[i + 1]] : undefined;
  if (!group || !sub || !Object.hasOwn(group, argv[i + 1])) return [...argv];
  return [...argv.slice(0, i), ...sub, ...argv.slice(i + 2)];
}
