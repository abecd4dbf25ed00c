// strata migrate: a store of any driver or era rebuilt as a new data-root of another driver, offline.
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { nonEmpty } from '../unknown-options.js';
import { journalFor, MigrateError, migrateStore, migrationBlockers, MIGRATE_TARGETS, readJournal, retiredMetadataDir, skipsFor, startJournal } from '../../inspect/migrate.js';
import { withWriteSession } from '../../inspect/open-for-write.js';
import { daemonUsing, realpathOr } from '../../inspect/daemon-check.js';
import { StrataError } from '../../native/errors.js';
import { loadStore, printJson, runCommand, writeOut, type GlobalArgs } from '../output.js';
import { createProgress } from '../progress.js';

interface MigrateArgs extends GlobalArgs {
  to: string;
  out?: string;
  inPlace?: boolean;
  skipBroken?: boolean;
  copy?: boolean;
}

export const command = 'migrate';
export const describe = 'Rebuild the store (any driver or era, the v1 graph/ layout too) as a new data-root of another driver, keeping every ID, tag, DiffID and tar-split';

export function builder(y: Argv) {
  return y
    .option('to', { type: 'string', choices: [...MIGRATE_TARGETS], demandOption: true, describe: 'The driver to migrate to' })
    .option('out', { type: 'string', coerce: nonEmpty('--out', 'empty path'), describe: 'The new data-root to write (a new or empty directory; the source is never written)' })
    .option('in-place', { type: 'boolean', describe: "Build the new driver beside the old one in this root; once every migrated layer verifies, the new driver's metadata is the store's only one (the old driver's directories stay for you to remove)" })
    .option('copy', { type: 'boolean', describe: "Write every file anew. By default an image layer's files are hard-linked from the source when both are on one filesystem (a migration then costs metadata, not bytes; a container's read-write layer is always copied)" })
    .option('skip-broken', { type: 'boolean', describe: 'Leave behind what cannot be carried (a layer without its tar-split or its files, an unreadable image or container) and everything built on it, listing each; by default nothing is written then' })
    .example('$0 --root /var/lib/docker migrate --to overlay2 --out /var/lib/docker-overlay2', 'an aufs (or v1 graph/) store as a new overlay2 data-root')
    .example('$0 --root /srv/docker --driver vfs migrate --to overlay2 --out /srv/docker2 --json', 'the vfs store of a root, reported as JSON')
    .example('$0 migrate --to overlay2 --in-place', 'the store of /var/lib/docker, in place');
}

export async function handler(args: ArgumentsCamelCase<MigrateArgs>): Promise<void> {
  await runCommand(async () => {
    const inPlace = args.inPlace === true;
    if (inPlace && args.out) throw new StrataError('--in-place and --out: choose one (--out writes a new data-root, --in-place builds the new driver in this one)', { file: args.root });
    if (!inPlace && !args.out) throw new StrataError('migrate needs --out DIR (a new data-root) or --in-place', { file: args.root });
    const out = inPlace ? resolve(args.root) : resolve(args.out!);
    if (!inPlace) {
      const [o, r] = [realpathOr(out), realpathOr(resolve(args.root))];
      if (o === r) throw new MigrateError('--out is the source itself (--out takes a new directory; --in-place migrates the root itself)', { file: out });
      if (o.startsWith(`${r}/`) || r.startsWith(`${o}/`)) throw new MigrateError(`--out and the source ${r} hold one another (--out takes a directory outside the source)`, { file: out });
    }
    // A migration in place that was stopped: the journal names the driver it migrates from (the root now
    // holds both drivers' metadata), and one stopped after its last step only has its journal to remove.
    const started = inPlace ? readJournal(out) : null;
    if (started?.inPlace && started.to === args.to && typeof started.from === 'string' && !existsSync(join(out, 'image', started.from)) && existsSync(retiredMetadataDir(out, started.from))) {
      rmSync(join(out, '.strata-migrate'), { recursive: true, force: true });
      writeOut(`The migration of ${out} from ${started.from} to ${args.to} was complete; its journal is removed\n`);
      return [];
    }
    const { model, driver } = await loadStore(started?.inPlace && typeof started.from === 'string' ? { ...args, driver: started.from } : args);
    if (inPlace && model.driver === args.to) throw new MigrateError(`is a ${args.to} store already`, { file: out });
    const blockers = migrationBlockers(model, driver);
    const skips = args.skipBroken && blockers.length > 0 ? skipsFor(model, blockers) : undefined;
    if (blockers.length > 0 && !skips) {
      const [first] = blockers;
      const skippable = args.skipBroken ? ' (--skip-broken leaves single items behind, not this)' : ' (--skip-broken leaves such items behind)';
      throw new MigrateError(`${first.reason}${blockers.length > 1 ? ` (and ${blockers.length - 1} more problems: strata verify and the warnings above name them)` : ''} — nothing was written${skippable}`, { file: first.file });
    }
    const busy = daemonUsing(model.root);
    if (busy) throw new MigrateError(`${busy}; stop it first (nothing was written)`, { file: model.root });
    const { journal } = journalFor(out, realpathOr(model.root), model.driver, args.to, inPlace, args.copy === true);
    startJournal(out, journal);
    const total = [...model.layers.values()].reduce((n, l) => n + (l.size ?? 0), 0);
    const progress = createProgress('migrate', total, !args.json);
    const result = await withWriteSession(out, { command: 'migrate', driver: args.to, besideOtherDriver: inPlace }, (session) => migrateStore(model, driver!, session, journal, progress, skips ?? undefined, { copy: journal.copy === true }));
    if (args.json) printJson(result);
    else {
      writeOut(`Migrated ${result.layers} layers, ${result.images} images and ${result.containers} containers from ${model.driver}${model.layout === 'v1' ? ' (v1 graph/)' : ''} to ${result.to} into ${result.out}${result.resumed ? ` (${result.resumed} found done by an earlier run)` : ''}\n`);
      if (result.linkedFiles > 0) writeOut(`${result.linkedFiles} files of image layers are hard links of the source's (strata verify reads them; --copy writes copies)\n`);
      if (inPlace) {
        writeOut(`Every migrated layer verified; the ${result.to} store is now the only image metadata of ${result.out}\n`);
        writeOut(`To run dockerd on it, set in /etc/docker/daemon.json: "storage-driver": ${JSON.stringify(result.to)}\n`);
        writeOut(`Once it runs, remove what the ${model.driver} driver left: rm -rf ${result.leftBehind.map(shellWord).join(' ')}\n`);
      } else writeOut(`To run dockerd on it, set in /etc/docker/daemon.json: "data-root": ${JSON.stringify(result.out)}, "storage-driver": ${JSON.stringify(result.to)}\n`);
    }
    const left = (skips?.lines ?? []).map((line) => ({ file: model.root, message: `--skip-broken: ${line}` }));
    const notes = result.approximate.map((id) => ({ file: `${model.root}/graph/${id.slice(7)}/json`, message: 'written by Docker < 1.8.3: its migrated ID may differ from the one Docker 1.10 gave it' }));
    return [...model.warnings, ...result.warnings, ...notes, ...left];
  });
}

/** A path as a shell word (quoted when it holds anything but plain characters). */
function shellWord(p: string): string {
  return /^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, "'\\''")}'`;
}
