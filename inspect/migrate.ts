// `strata migrate --out DIR`: a store of any driver or era strata reads, rebuilt as a new data-root of
// another driver, keeping every image ID, tag, DiffID and tar-split (so dockerd exports the same bytes) and
// every container's changes, name and config. Each layer's exact tar (rebuilt from its tar-split) is applied
// by the target driver, its DiffID checked as it streams, and committed by one rename of its layerdb entry;
// the ids the migration makes (cache-ids, containers' mount-ids) are derived from the journal's id and the
// source's own ids, so a run killed at any moment and started again finishes with the same result. The
// journal (.strata-migrate/journal.json in DIR) names the source; it goes once everything is in place.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LinkUnavailableError } from '../drivers/archive/apply.js';
import { linkedFromTarSplit, nativeExactRebuild } from '../drivers/archive/assemble.js';
import { bytesOf, tarBytes, type TarPiece } from '../drivers/archive/chunks.js';
import { END_OF_ARCHIVE } from '../drivers/archive/tar-header.js';
import type { LayerTarPiece, StorageDriver } from '../drivers/types.js';
import type { LinkedContent, PieceRun } from '../drivers/archive/tar-reader.js';
import { nativeHelpers } from '../native/index.js';
import { errnoOf, fsError, StrataError } from '../native/errors.js';
import { tempName } from '../native/temp-names.js';
import { daemonUsing } from './daemon-check.js';
import { chainIdOf, hexOf, SHA256_PREFIX } from './digest.js';
import { digestStream, layerStream, layerTargetOf } from './layer-export.js';
import { makeDirectories } from './make-directories.js';
import { JOURNAL_FILE, MIGRATE_DIR, type MigrateJournal } from './migrate-journal.js';
import type { Container, StoreModel } from './model.js';
import type { WriteSession } from './open-for-write.js';
import { migrateV1Image, V1MigrationError, type MigratedHistoryStep } from './v1/migrated-config.js';
import { graphEntryDir, V1_LAYOUT } from './v1/read-store.js';
import type { Warning } from './warnings.js';
import { writeAtomically } from './write-store.js';

export class MigrateError extends StrataError {
  override name = 'MigrateError';
}

/** Drivers strata migrates to. */
export const MIGRATE_TARGETS = ['overlay2', 'vfs', 'aufs'] as const;

export interface MigrateProgress {
  add(n: number): void;
  label(text: string): void;
  done(): void;
}

export interface MigrateResult {
  out: string;
  to: string;
  layers: number;
  images: number;
  containers: number;
  /** Layers, images and containers a resumed run found done already. */
  resumed: number;
  /** v1 images whose migrated ID may differ from Docker 1.10's (written by Docker < 1.8.3). */
  approximate: string[];
  /** --in-place: what the old driver left, for the user to remove once dockerd runs on the new one. */
  leftBehind: string[];
  /** --skip-broken: what was not migrated, and why. */
  skipped: string[];
  /** Files of image layers hard-linked from the source rather than copied (none with --copy, or across filesystems). */
  linkedFiles: number;
  warnings: Warning[];
}

export interface MigrateOptions {
  /** Write every file anew: no image layer's file is hard-linked from the source. */
  copy?: boolean;
}

export interface MigrateJournalV1 extends MigrateJournal {
  /** The source data-root (its real path) and the migration's id, from which every id it makes is derived. */
  source: string;
  id: string;
  /** --in-place: the new driver is built beside the old one in the source's own root. */
  inPlace?: boolean;
  /** --copy: no file is hard-linked. Kept so that a resumed run makes the same kind of layers (absent from journals written before it was). */
  copy?: boolean;
}

/** The journal of a migration into `out`, if one is there and readable. */
export function readJournal(out: string): MigrateJournalV1 | null {
  try {
    return JSON.parse(readFileSync(join(out, MIGRATE_DIR, JOURNAL_FILE), 'utf8')) as MigrateJournalV1;
  } catch {
    return null;
  }
}

/** Where --in-place moves the old driver's image metadata once the new driver's is verified. */
export function retiredMetadataDir(root: string, from: string): string {
  return join(root, `image-${from}.pre-migrate`);
}

/** Something a migration cannot carry, naming the file; `layer`, `image` or `container` when it is one item alone. */
export interface MigrationBlocker {
  file: string;
  reason: string;
  layer?: string;
  image?: string;
  container?: string;
}

/** What a migration of `model` cannot carry, each naming the file; checked before anything is written. */
export function migrationBlockers(model: StoreModel, driver: StorageDriver | null): MigrationBlocker[] {
  const out: MigrationBlocker[] = [];
  if (!driver) return [{ file: join(model.root, model.driver), reason: `strata cannot read ${model.driver} layer directories` }];
  for (const u of model.unreadable.images) out.push({ file: u.file, reason: `image ${hexOf(u.id).slice(0, 12)} cannot be read: ${u.reason}`, image: u.id });
  for (const u of model.unreadable.containers) out.push({ file: u.file, reason: `container ${u.id.slice(0, 12)} cannot be read: ${u.reason}`, container: u.id });
  for (const u of model.unreadable.layers) out.push({ file: u.file, reason: `layer ${hexOf(u.chainId).slice(0, 12)}: ${u.reason}`, layer: u.chainId });
  for (const p of model.unreadable.parts) out.push({ file: p.file, reason: `${p.part} cannot be read: ${p.reason}` });
  for (const m of model.unreadable.mounts) if (model.containers.some((c) => c.id === m.containerId)) out.push({ file: m.file, reason: `container ${m.containerId.slice(0, 12)}'s read-write layer record: ${m.reason}`, container: m.containerId });
  for (const layer of model.layers.values()) {
    let target;
    try {
      target = layerTargetOf(model, layer.chainId);
    } catch (err) {
      out.push({ file: model.layout === V1_LAYOUT ? graphEntryDir(model.root, layer.chainId) : model.root, reason: (err as Error).message, layer: layer.chainId });
      continue;
    }
    if (target.kind !== 'layer') continue;
    if (!target.tarSplit) out.push({ file: model.layout === V1_LAYOUT ? join(graphEntryDir(model.root, layer.chainId), 'tar-data.json.gz') : join(model.root, 'image', model.driver, 'layerdb', 'sha256', hexOf(layer.chainId), 'tar-split.json.gz'), reason: 'missing — without its tar-split the layer cannot be rebuilt with its DiffID', layer: layer.chainId });
    else if (driver.exists(target.ref.cacheId) === false) out.push({ file: driver.contentDir(target.ref.cacheId), reason: "missing — the layer's files are gone", layer: layer.chainId });
    else {
      const problem = driver.layerProblem?.(target.ref.cacheId);
      if (problem) out.push({ file: problem.file ?? driver.layerHome(target.ref.cacheId), reason: problem.reason, layer: layer.chainId });
    }
  }
  for (const layer of model.layers.values()) {
    if (layer.parent !== null && !model.layers.has(layer.parent)) out.push({ file: model.layout === V1_LAYOUT ? join(graphEntryDir(model.root, layer.chainId), 'json') : join(model.root, 'image', model.driver, 'layerdb', 'sha256', hexOf(layer.chainId), 'parent'), reason: `its parent ${hexOf(layer.parent).slice(0, 12)} is missing: the layer cannot be rebuilt on it`, layer: layer.chainId });
  }
  for (const c of model.containers) {
    const dir = join(model.root, 'containers', c.id);
    // The id names paths in both roots: only a container id, and the one its directory has.
    if (!/^[0-9a-f]{64}$/.test(c.id) || !existsSync(dir)) out.push({ file: join(model.root, 'containers'), reason: `a container config names the id ${JSON.stringify(c.id.slice(0, 80))}, which is not its directory's`, container: c.id });
    else if (!c.mountId) out.push({ file: dir, reason: `container ${c.id.slice(0, 12)} has no read-write layer record`, container: c.id });
    else if (driver.exists(c.mountId) === false) out.push({ file: driver.contentDir(c.mountId), reason: `missing — the read-write layer of container ${c.id.slice(0, 12)} is gone`, container: c.id });
    else if (c.initId && driver.exists(c.initId) === false) out.push({ file: driver.contentDir(c.initId), reason: `missing — the -init layer of container ${c.id.slice(0, 12)} is gone`, container: c.id });
    else {
      const problem = [c.mountId, c.initId].map((id) => (id ? driver.layerProblem?.(id) : null)).find(Boolean);
      if (problem) out.push({ file: problem.file ?? dir, reason: `container ${c.id.slice(0, 12)}: ${problem.reason}`, container: c.id });
    }
  }
  return out;
}

/** What --skip-broken leaves behind: broken items and everything built on them. */
export interface MigrationSkips {
  layers: Set<string>;
  images: Set<string>;
  containers: Set<string>;
  /** One line per item left behind, saying why. */
  lines: string[];
}

/** The items left behind for `blockers`, or null when one of them is no single item (a whole part unread). */
export function skipsFor(model: StoreModel, blockers: MigrationBlocker[]): MigrationSkips | null {
  if (blockers.some((b) => !b.layer && !b.image && !b.container)) return null;
  const skips: MigrationSkips = { layers: new Set(), images: new Set(), containers: new Set(), lines: [] };
  const why = new Map<string, string>();
  for (const b of blockers) {
    const id = b.layer ?? b.image ?? b.container!;
    if (b.layer) skips.layers.add(id);
    if (b.image) skips.images.add(id);
    if (b.container) skips.containers.add(id);
    if (!why.has(id)) why.set(id, `${b.file}: ${b.reason}`);
  }
  // Layers on a broken layer, images with one in their chain, containers on such an image or layer.
  let grew = true;
  while (grew) {
    grew = false;
    for (const l of model.layers.values()) {
      if (!skips.layers.has(l.chainId) && l.parent && skips.layers.has(l.parent)) {
        skips.layers.add(l.chainId);
        why.set(l.chainId, `built on layer ${hexOf(l.parent).slice(0, 12)}, which is left behind`);
        grew = true;
      }
    }
  }
  for (const img of model.images.values()) {
    const broken = img.chainIds.find((c) => skips.layers.has(c));
    if (broken && !skips.images.has(img.id)) {
      skips.images.add(img.id);
      why.set(img.id, `its layer ${hexOf(broken).slice(0, 12)} is left behind`);
    }
  }
  for (const c of model.containers) {
    if (skips.containers.has(c.id)) continue;
    if ((c.parentChainId && skips.layers.has(c.parentChainId)) || skips.images.has(c.imageId)) {
      skips.containers.add(c.id);
      why.set(c.id, `its image ${hexOf(c.imageId).slice(0, 12)} is left behind`);
    }
  }
  for (const id of skips.images) skips.lines.push(`image ${hexOf(id).slice(0, 12)} left behind: ${why.get(id)}`);
  for (const id of skips.layers) skips.lines.push(`layer ${hexOf(id).slice(0, 12)} left behind: ${why.get(id)}`);
  for (const id of skips.containers) skips.lines.push(`container ${id.slice(0, 12)} left behind: ${why.get(id)}`);
  return skips;
}

/** A new id derived from the migration's id and what it stands for: the same in a resumed run. */
function derivedId(journalId: string, what: string): string {
  return createHash('sha256').update(`strata-migrate\0${journalId}\0${what}`).digest('hex');
}

/** overlay2's short link name for a derived id (base32, as dockerd's are): the same in a resumed run. */
function derivedLinkName(journalId: string, what: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return [...createHash('sha256').update(`strata-migrate link\0${journalId}\0${what}`).digest()].slice(0, 26).map((b) => alphabet[b & 31]).join('');
}

/**
 * The journal of the migration of `source` into `out`: the one there (when it is this migration's), or a
 * new one; refuses an `out` that holds anything else. Asked before anything is written.
 */
export function journalFor(out: string, source: string, from: string, to: string, inPlace = false, copy = false): { journal: MigrateJournalV1; resumed: boolean } {
  const file = join(out, MIGRATE_DIR, JOURNAL_FILE);
  if (existsSync(file)) {
    let j: MigrateJournalV1;
    try {
      j = JSON.parse(readFileSync(file, 'utf8')) as MigrateJournalV1;
    } catch (err) {
      throw new MigrateError(`corrupt journal (${(err as Error).message}): remove ${out} and start again`, { file });
    }
    if (j.command !== 'migrate' || j.source !== source || j.to !== to || typeof j.id !== 'string' || (j.inPlace ?? false) !== inPlace) {
      throw new MigrateError(`the journal is of another migration (from ${j.source ?? '?'} to ${j.to ?? '?'}), not of this one`, { file });
    }
    // A resumed run must make the layers the first one made: all copies, or hard links where they can be.
    // (A journal from before the choice was kept names none: either is taken.)
    if (j.copy !== undefined && j.copy !== copy) {
      throw new MigrateError(j.copy ? 'this migration was started with --copy: run it again with --copy, or remove it and start again' : 'this migration was started without --copy (hard links): run it again without --copy, or remove it and start again', { file });
    }
    return { journal: j, resumed: true };
  }
  let entries: string[] = [];
  try {
    entries = readdirSync(out);
  } catch (err) {
    // Absent: a new data-root. Anything else is said now, before anything is written.
    if (errnoOf(err) === 'ENOTDIR') throw new MigrateError('not a directory (--out takes a new directory)', { file: out });
    if (errnoOf(err) !== 'ENOENT') throw fsError(out, err);
  }
  // A run killed while it first wrote its journal leaves only the journal's directory: that is a new one.
  if (entries.length === 1 && entries[0] === MIGRATE_DIR) entries = [];
  if (!inPlace && entries.length > 0) throw new MigrateError('not empty, and no migration of this source was started there (--out takes a new directory)', { file: out });
  const directories = inPlace ? [to, join('image', to)] : [to, join('image', to), 'containers'];
  return {
    journal: { version: 1, command: 'migrate', started: new Date().toISOString(), from, to, source, id: createHash('sha256').update(`${from}\0${to}`).digest('hex').slice(0, 32), directories, ...(inPlace ? { inPlace: true } : {}), copy },
    resumed: false,
  };
}

/**
 * Writes the journal into `out` (made if need be) before anything else is: a run killed at any later
 * moment leaves a directory the next run knows as this migration's.
 */
export function startJournal(out: string, journal: MigrateJournalV1): void {
  const busy = daemonUsing(out);
  if (busy) throw new MigrateError(`${busy}; stop it first`, { file: out });
  makeDirectories(join(out, MIGRATE_DIR), { mode: 0o700, parentMode: 0o710, notDirectory: (p) => new MigrateError('not a directory (--out takes a new directory)', { file: p }) });
  writeAtomically(join(out, MIGRATE_DIR, JOURNAL_FILE), JSON.stringify(journal));
}

/** A layerdb's cache-ids → ChainIDs (what a resumed run finds done). */
function committedLayers(meta: string): Map<string, string> {
  const done = new Map<string, string>();
  const dir = join(meta, 'layerdb', 'sha256');
  for (const hex of existsSync(dir) ? readdirSync(dir) : []) {
    try {
      done.set(readFileSync(join(dir, hex, 'cache-id'), 'utf8').trim(), SHA256_PREFIX + hex);
    } catch {
      // a half-written entry is no committed layer
    }
  }
  return done;
}

/** Source layers, each after its parent. */
function parentsFirst(model: StoreModel): string[] {
  const depth = new Map<string, number>();
  const depthOf = (id: string, seen = new Set<string>()): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    const parent = model.layers.get(id)?.parent ?? null;
    const d = parent && model.layers.has(parent) && !seen.has(parent) ? depthOf(parent, seen.add(id)) + 1 : 0;
    depth.set(id, d);
    return d;
  };
  return [...model.layers.keys()].sort((a, b) => depthOf(a) - depthOf(b) || (a < b ? -1 : a > b ? 1 : 0));
}

async function* hashed(pieces: AsyncIterable<TarPiece>, hash: ReturnType<typeof createHash>, progress: MigrateProgress): AsyncGenerator<Buffer> {
  for await (const piece of pieces) {
    for (const b of bytesOf(piece)) {
      hash.update(b);
      progress.add(b.length);
      yield b;
    }
  }
}

/** Pieces passed on, their bytes counted for the progress bar (a linked file by its size). */
async function* counted(pieces: AsyncIterable<LayerTarPiece>, progress: MigrateProgress): AsyncGenerator<LayerTarPiece> {
  const bytesOf = (piece: Buffer | LinkedContent) => (Buffer.isBuffer(piece) ? piece.length : piece.size);
  for await (const piece of pieces) {
    if (Array.isArray(piece)) {
      let n = 0;
      for (const p of piece as PieceRun) n += bytesOf(p);
      progress.add(n);
    } else progress.add(bytesOf(piece as Buffer | LinkedContent));
    yield piece;
  }
}

/**
 * Whether an image layer's files can be hard-linked into the target: a directory driver's layer, the
 * native helpers there to link what was opened and checked, and the target on the same filesystem (else
 * the kernel refuses each link and every file would be read anyway: copied and hashed instead).
 */
function linksCanReach(source: StorageDriver, cacheId: string, target: StorageDriver): boolean {
  if (!source.capabilities.layerDirectories || !nativeHelpers()?.linkFd) return false;
  try {
    return statSync(source.contentDir(cacheId)).dev === statSync(existingAncestor(target.home)).dev;
  } catch {
    return false;
  }
}

/** `path`, or its nearest ancestor that exists. */
function existingAncestor(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

async function* emptyTar(): AsyncGenerator<Buffer> {
  yield Buffer.from(END_OF_ARCHIVE);
}

/**
 * The paths a container's config records under the data-root dockerd ran on (its resolv.conf, hostname,
 * hosts and log file, its volumes' sources) moved to `out`. That root is read off the config itself (it
 * may not be the path strata read the store at: a copy, a disk mounted elsewhere).
 */
export function moveRootPaths(config: Record<string, unknown>, id: string, out: string): void {
  const suffix = `/containers/${id}/`;
  const recorded = [config.ResolvConfPath, config.HostnamePath, config.HostsPath, config.LogPath].find((p): p is string => typeof p === 'string' && p.includes(suffix));
  if (!recorded) return;
  const oldRoot = recorded.slice(0, recorded.indexOf(suffix));
  const moved = (p: unknown) => (typeof p === 'string' && (p === oldRoot || p.startsWith(`${oldRoot}/`)) ? out + p.slice(oldRoot.length) : p);
  for (const key of ['ResolvConfPath', 'HostnamePath', 'HostsPath', 'LogPath']) if (key in config) config[key] = moved(config[key]);
  const points = config.MountPoints;
  if (points && typeof points === 'object') {
    for (const mp of Object.values(points as Record<string, Record<string, unknown> | null>)) {
      if (mp && typeof mp === 'object' && mp.Type === 'volume' && typeof mp.Source === 'string' && mp.Source.startsWith(`${oldRoot}/volumes/`)) mp.Source = moved(mp.Source);
    }
  }
}

/** `cp -a`: owners, modes, times, xattrs and hardlinks kept (Node's copy keeps neither owners nor links). */
function copyTree(from: string, to: string): void {
  // The contents of `from` (a symlinked `from`, such as volumes/ moved to another disk, is followed once):
  // `to` is always a directory of its own, never a link back into the source.
  mkdirSync(to, { recursive: true, mode: 0o700 });
  const r = spawnSync('cp', ['-a', '--', `${from}/.`, to], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new MigrateError(`cannot copy it to ${to}: ${(r.stderr || String(r.error)).trim().split('\n')[0]}`, { file: from });
}

/** Writes a directory's files through a temp sibling renamed into place (a committed record, or none). */
function writeDirAtomically(dir: string, files: Record<string, string>, tempDir: string): void {
  // Built in layerdb/tmp, where a writer removes what a killed one left.
  const temp = join(tempDir, tempName('migrate'));
  mkdirSync(join(dir, '..'), { recursive: true, mode: 0o700 });
  mkdirSync(temp, { recursive: true, mode: 0o700 });
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(temp, name), text, { mode: 0o644 });
    rmSync(dir, { recursive: true, force: true });
    renameSync(temp, dir);
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Migrates `model` (read through `source`) into the session's new data-root. The caller has checked
 * migrationBlockers and that no dockerd uses the source; the session refuses a target a dockerd uses.
 */
export async function migrateStore(model: StoreModel, source: StorageDriver, session: WriteSession, journal: MigrateJournalV1, progress: MigrateProgress, skips?: MigrationSkips, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const out = session.root;
  const target = session.driver;
  const writer = session.writer;
  // From here on, what is written stays: a run stopped halfway is finished by the next, never undone.
  session.commit();
  const result: MigrateResult = { out, to: target.name, layers: 0, images: 0, containers: 0, resumed: 0, approximate: [], leftBehind: [], skipped: skips?.lines ?? [], linkedFiles: 0, warnings: [] };

  // Layers, each after its parent.
  const done = committedLayers(writer.meta);
  const modern = new Map<string, { chainId: string; diffId: string; cacheId: string }>();
  const order = parentsFirst(model).filter((k) => !skips?.layers.has(k));
  let linking = !opts.copy;
  let n = 0;
  for (const key of order) {
    n++;
    progress.label(`layer ${n}/${order.length}`);
    const layer = model.layers.get(key)!;
    const cacheId = derivedId(journal.id, `layer ${key}`);
    const parent = layer.parent ? modern.get(layer.parent) ?? null : null;
    const committed = done.get(cacheId);
    if (committed) {
      const diffId = readFileSync(join(writer.layerDir(committed), 'diff'), 'utf8').trim();
      modern.set(key, { chainId: committed, diffId, cacheId });
      result.resumed++;
      progress.add(layer.size ?? 0);
      continue;
    }
    // A layer applied but not recorded when a run stopped: applied again, from nothing.
    if (target.exists(cacheId) !== false) target.remove(cacheId);
    const t = layerTargetOf(model, key);
    if (t.kind !== 'layer' || !t.tarSplit) throw new MigrateError('has no tar-split: its exact tar cannot be rebuilt', { file: graphEntryDir(model.root, key) });
    const ref = { cacheId, parentCacheId: parent?.cacheId ?? null };
    const applyOpts = { allowDevices: true, impliedTimes: true, linkName: derivedLinkName(journal.id, `layer ${key}`), ...(layer.size !== null ? { size: layer.size } : {}) };
    let applied: { size: number; linked?: number } | null = null;
    let diffId = '';
    if (layer.diffId !== null && linking && linksCanReach(source, t.ref.cacheId, target)) {
      // Hard-linked: the source's files themselves, nothing of them read or written (strata verify reads them).
      const files = source.openLayer(t.ref.cacheId);
      try {
        applied = await target.apply(ref, counted(linkedFromTarSplit(t.tarSplit, files), progress), { ...applyOpts, linkFiles: true });
        diffId = layer.diffId;
        result.linkedFiles += applied.linked ?? 0;
      } catch (err) {
        // The kernel links nothing here after all (a bind mount of the same filesystem): copied from now on.
        if (!(err instanceof LinkUnavailableError)) throw err;
        linking = false;
        if (target.exists(cacheId) !== false) target.remove(cacheId);
      } finally {
        files.close();
      }
    }
    if (applied === null && source.capabilities.layerDirectories && nativeHelpers()?.linkFiles) {
      // Copied file by file by the native helpers, while the exact rebuild of the same files is hashed
      // beside it (a second read, from the page cache): the DiffID proves the bytes the copies came from.
      const digest = nativeExactRebuild(t.tarSplit, () => source.openLayer(t.ref.cacheId));
      if (digest) {
        const giveUp = new AbortController();
        const digesting = digest(-1, undefined, giveUp.signal);
        digesting.catch(() => {}); // awaited below, or given up with the apply
        const files = source.openLayer(t.ref.cacheId);
        try {
          applied = await target.apply(ref, counted(linkedFromTarSplit(t.tarSplit, files), progress), { ...applyOpts, copyFiles: true });
        } catch (err) {
          // The hash of a layer that will not be kept is not waited for (its batch in flight ends first).
          giveUp.abort();
          await digesting.catch(() => {});
          throw err;
        } finally {
          files.close();
        }
        try {
          diffId = (await digesting).digest;
        } catch (err) {
          // Its bytes were not proved: the layer does not stay.
          target.remove(cacheId);
          throw err;
        }
      }
    }
    if (applied === null) {
      const hash = createHash('sha256');
      applied = await target.apply(ref, hashed(layerStream(source, t).chunks, hash, progress), applyOpts);
      diffId = SHA256_PREFIX + hash.digest('hex');
    }
    if (layer.diffId !== null && diffId !== layer.diffId) {
      target.remove(cacheId);
      throw new MigrateError(`layer ${hexOf(key).slice(0, 12)} rebuilds to ${diffId}, not its DiffID ${layer.diffId} (strata verify names the file that changed)`, { file: t.tarSplit });
    }
    const chainId = chainIdOf(parent?.chainId ?? null, diffId);
    if (writer.hasLayer(chainId)) {
      // Another source layer made the same layer (v1 ids are random: two empty layers on one parent share
      // a ChainID): it is one layer in the target, as in Docker 1.10's layer store.
      target.remove(cacheId);
      const existing = readFileSync(join(writer.layerDir(chainId), 'cache-id'), 'utf8').trim();
      modern.set(key, { chainId, diffId, cacheId: existing });
      continue;
    }
    // The source's tar-split, byte for byte: the target then exports exactly the source's tar.
    writer.writeLayer({ chainId, diffId, parent: parent?.chainId ?? null, size: layer.size ?? applied.size, cacheId, tarSplit: readFileSync(t.tarSplit) });
    modern.set(key, { chainId, diffId, cacheId });
    result.layers++;
  }

  // Images: configs byte for byte (a v1 image's as Docker 1.10's migration makes it), parents, tags.
  const imageIds = new Map<string, string>();
  if (model.layout === V1_LAYOUT) migrateV1Images(model, writer, modern, imageIds, result);
  else {
    for (const image of model.images.values()) {
      if (skips?.images.has(image.id)) continue;
      const hex = hexOf(image.id);
      const config = readFileSync(join(model.root, 'image', model.driver, 'imagedb', 'content', 'sha256', hex));
      imageIds.set(image.id, writer.writeImageConfig(config));
      const lastUpdated = join(model.root, 'image', model.driver, 'imagedb', 'metadata', 'sha256', hex, 'lastUpdated');
      if (existsSync(lastUpdated)) {
        mkdirSync(join(writer.meta, 'imagedb', 'metadata', 'sha256', hex), { recursive: true, mode: 0o700 });
        writeAtomically(join(writer.meta, 'imagedb', 'metadata', 'sha256', hex, 'lastUpdated'), readFileSync(lastUpdated));
      }
      result.images++;
    }
  }
  for (const image of model.images.values()) {
    const id = imageIds.get(image.id);
    const parent = image.parent ? imageIds.get(image.parent) : undefined;
    if (id && parent) writer.writeImageParent(id, parent);
  }
  writeReferences(model, writer.meta, imageIds, skips !== undefined && skips.images.size > 0);
  const distribution = join(model.root, 'image', model.driver, 'distribution');
  if (model.layout !== V1_LAYOUT && existsSync(distribution)) {
    rmSync(join(writer.meta, 'distribution'), { recursive: true, force: true });
    copyTree(distribution, join(writer.meta, 'distribution'));
  }

  // Volumes (a new data-root only): the local driver's data and metadata, owners and all.
  // The daemon's other state too: user-defined networks (network/files/local-kv.db), plugins, swarm, trust.
  for (const part of journal.inPlace ? [] : ['volumes', 'network', 'plugins', 'swarm', 'trust']) {
    const from = join(model.root, part);
    const copied = join(out, MIGRATE_DIR, `${part}.copied`);
    if (!existsSync(from) || existsSync(copied)) continue;
    progress.label(part);
    rmSync(join(out, part), { recursive: true, force: true });
    copyTree(from, join(out, part));
    writeFileSync(copied, '');
  }

  // Containers: their changes applied on a new -init and read-write layer, their directory copied.
  for (const c of model.containers) {
    if (skips?.containers.has(c.id)) continue;
    if (!imageIds.has(c.imageId) && model.images.has(c.imageId)) {
      result.warnings.push({ file: join(model.root, 'containers', c.id), message: `container ${c.name} not migrated: its image ${hexOf(c.imageId).slice(0, 12)} was not` });
      continue;
    }
    progress.label(`container ${c.name}`);
    if (existsSync(join(writer.meta, 'layerdb', 'mounts', c.id, 'mount-id'))) {
      result.resumed++;
      continue;
    }
    await migrateContainerLayers(model, source, target, writer.meta, out, c, journal.id, modern, imageIds, journal.inPlace === true);
    result.containers++;
  }
  if (journal.inPlace) {
    progress.label('verifying');
    await verifyMigrated(target, writer.meta, modern);
    finishInPlace(model, out, target.name, imageIds, result, writer.meta);
  }
  progress.done();
  rmSync(join(out, MIGRATE_DIR), { recursive: true, force: true });
  return result;
}

/** Every migrated layer's tar rebuilt from the target (its tar-split and its files) must hash to its DiffID. */
async function verifyMigrated(target: StorageDriver, meta: string, modern: Map<string, { chainId: string; diffId: string; cacheId: string }>): Promise<void> {
  const cacheOf = new Map([...modern.values()].map((m) => [m.chainId, m.cacheId]));
  for (const m of modern.values()) {
    const entry = join(meta, 'layerdb', 'sha256', hexOf(m.chainId));
    const parentFile = join(entry, 'parent');
    const parent = existsSync(parentFile) ? readFileSync(parentFile, 'utf8').trim() : null;
    const t = { kind: 'layer' as const, chainId: m.chainId, diffId: m.diffId, ref: { cacheId: m.cacheId, parentCacheId: parent ? cacheOf.get(parent) ?? null : null }, tarSplit: join(entry, 'tar-split.json.gz') };
    const got = await digestStream(layerStream(target, t).chunks);
    if (got.digest !== m.diffId) throw new MigrateError(`the migrated layer rebuilds to ${got.digest}, not its DiffID ${m.diffId}: the old driver stays the store's (run strata migrate again, or strata --driver ${target.name} verify)`, { file: target.contentDir(m.cacheId) });
  }
}

/**
 * --in-place, once every layer is verified: containers' configs name the new driver, and the old driver's
 * image metadata is moved out of image/ (dockerd then reads only the new one). The old driver's own
 * directories stay for the user to remove.
 */
function finishInPlace(model: StoreModel, root: string, to: string, imageIds: Map<string, string>, result: MigrateResult, meta: string): void {
  const v1 = model.layout === V1_LAYOUT;
  for (const c of model.containers) {
    // Only containers migrated (left behind by --skip-broken or for their image: their configs stay the old driver's).
    if (!existsSync(join(meta, 'layerdb', 'mounts', c.id, 'mount-id'))) continue;
    const dir = join(root, 'containers', c.id);
    const config = JSON.parse(readFileSync(join(dir, v1 ? 'config.json' : 'config.v2.json'), 'utf8')) as Record<string, unknown>;
    config.Driver = to;
    if (v1) config.Image = imageIds.get(c.imageId) ?? c.imageId;
    // A root moved or copied since dockerd ran on it: its containers' files are this root's.
    moveRootPaths(config, c.id, root);
    writeAtomically(join(dir, 'config.v2.json'), JSON.stringify(config));
  }
  if (v1) result.leftBehind.push(join(root, 'graph'), join(root, `repositories-${model.driver}`), join(root, model.driver));
  else {
    const retired = retiredMetadataDir(root, model.driver);
    renameSync(join(root, 'image', model.driver), retired);
    result.leftBehind.push(join(root, model.driver), retired);
  }
}

function migrateV1Images(model: StoreModel, writer: WriteSession['writer'], modern: Map<string, { diffId: string }>, imageIds: Map<string, string>, result: MigrateResult): void {
  const migrated = new Map<string, { diffIds: string[]; history: MigratedHistoryStep[] }>();
  const images = [...model.images.values()].sort((a, b) => a.chainIds.length - b.chainIds.length);
  for (const image of images) {
    const top = image.chainIds.at(-1);
    const diffId = top ? modern.get(top)?.diffId : undefined;
    if (!diffId) continue;
    const file = join(graphEntryDir(model.root, image.id), 'json');
    if (image.parent && !migrated.has(image.parent)) {
      // Built on an image that could not be migrated: Docker 1.10 left it out too.
      result.warnings.push({ file, message: `not migrated: its parent ${hexOf(image.parent).slice(0, 12)} was not` });
      continue;
    }
    const parent = image.parent ? migrated.get(image.parent) ?? null : null;
    let m;
    try {
      m = migrateV1Image(readFileSync(file), parent, diffId);
    } catch (err) {
      if (!(err instanceof V1MigrationError)) throw err;
      // Docker 1.10 left such an image out as well (its migration failed for it, and for its children).
      result.warnings.push({ file, message: `not migrated: ${err.message}` });
      continue;
    }
    if (m.approximate) result.approximate.push(image.id);
    migrated.set(image.id, { diffIds: m.diffIds, history: m.history });
    imageIds.set(image.id, writer.writeImageConfig(m.config));
    result.images++;
  }
}

/** repositories.json: the source's own bytes (Docker's layout), or the v1 tags under the migrated ids. */
function writeReferences(model: StoreModel, meta: string, imageIds: Map<string, string>, someLeft: boolean): void {
  const file = join(meta, 'repositories.json');
  const own = join(model.root, 'image', model.driver, 'repositories.json');
  if (model.layout !== V1_LAYOUT && !someLeft) {
    if (existsSync(own)) writeAtomically(file, readFileSync(own));
    return;
  }
  const repos: Record<string, Record<string, string>> = {};
  for (const ref of model.references) {
    const id = imageIds.get(ref.imageId);
    if (id) (repos[ref.name] ??= {})[ref.ref] = id;
  }
  writeAtomically(file, JSON.stringify({ Repositories: repos }));
}

type Modern = Map<string, { chainId: string; cacheId: string }>;

async function migrateContainerLayers(model: StoreModel, source: StorageDriver, target: StorageDriver, meta: string, out: string, c: Container, journalId: string, modern: Modern, imageIds: Map<string, string>, inPlace: boolean): Promise<void> {
  const mountId = derivedId(journalId, `container ${c.id}`);
  const initId = `${mountId}-init`;
  for (const id of [mountId, initId]) if (target.exists(id) !== false) target.remove(id);
  const top = c.parentChainId ? modern.get(c.parentChainId) ?? null : null;
  const sourceTop = c.parentChainId ? model.layers.get(c.parentChainId)?.cacheId ?? null : null;
  const initTar = c.initId ? tarBytes(source.diff({ cacheId: c.initId, parentCacheId: sourceTop })) : emptyTar();
  await target.apply({ cacheId: initId, parentCacheId: top?.cacheId ?? null }, initTar, { allowDevices: true, impliedTimes: true, linkName: derivedLinkName(journalId, `init ${c.id}`) });
  await target.apply({ cacheId: mountId, parentCacheId: initId }, tarBytes(source.diff({ cacheId: c.mountId!, parentCacheId: c.initId ?? sourceTop })), { allowDevices: true, impliedTimes: true, linkName: derivedLinkName(journalId, `container ${c.id}`) });
  // In place, the container's directory is its own: its config is rewritten once every layer is verified.
  if (inPlace) {
    writeDirAtomically(join(meta, 'layerdb', 'mounts', c.id), { 'mount-id': mountId, 'init-id': initId, ...(top ? { parent: top.chainId } : {}) }, join(meta, 'layerdb', 'tmp'));
    return;
  }
  // The container's directory, its config naming the new driver (and, from a v1 store, the migrated image).
  const from = join(model.root, 'containers', c.id);
  const to = join(out, 'containers', c.id);
  rmSync(to, { recursive: true, force: true });
  mkdirSync(join(out, 'containers'), { recursive: true, mode: 0o710 });
  copyTree(from, to);
  const v1 = model.layout === V1_LAYOUT;
  const configFile = join(to, v1 ? 'config.json' : 'config.v2.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  config.Driver = target.name;
  if (v1) config.Image = imageIds.get(c.imageId) ?? c.imageId;
  moveRootPaths(config, c.id, out);
  writeAtomically(join(to, 'config.v2.json'), JSON.stringify(config));
  // Committed last: a record a resumed run finds means the container is done.
  writeDirAtomically(join(meta, 'layerdb', 'mounts', c.id), { 'mount-id': mountId, 'init-id': initId, ...(top ? { parent: top.chainId } : {}) }, join(meta, 'layerdb', 'tmp'));
}

