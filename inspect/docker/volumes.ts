// Docker's local volumes (<root>/volumes), as docker 20.10's `system df` lists them (moby
// volume/service LocalVolumesSize): every directory of the local driver, except volumes created with
// mount options (their data is elsewhere); the size of its _data as pkg/directory.Size counts it
// (non-directories, each inode once); labels and options from the volume store's metadata.db (bucket
// "volumes": name → JSON {Name, Driver, Labels, Options}); and how many containers' MountPoints name it.
import { lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf, fsError, StrataError } from '../../native/errors.js';
import { measureTree } from '../../snapshots/measure.js';
import { openBolt } from '../bbolt.js';
import type { Container, Unreadable } from '../model.js';
import type { Warning } from '../warnings.js';
import { errorMessage } from '../warnings.js';

export interface LocalVolume {
  name: string;
  driver: 'local';
  /** <root>/volumes/<name>/_data */
  mountpoint: string;
  /** ctime of _data (when docker made it), RFC 3339 in this machine's zone, as the API. */
  createdAt: string | null;
  /** From metadata.db; null when it records none (as the API's null). */
  labels: Record<string, string> | null;
  options: Record<string, string> | null;
  scope: 'local';
  /** Bytes of _data as docker counts them; null when it could not be measured (docker: -1). */
  size: number | null;
  /** Containers whose MountPoints use it (docker's LINKS). */
  refCount: number;
  /** Names of those containers. */
  usedBy: string[];
}

interface VolumeMetadata {
  Name?: string;
  Driver?: string;
  Labels?: Record<string, string> | null;
  Options?: Record<string, string> | null;
}

/** Go's time.Format(time.RFC3339) of a moment, in the local zone ("2026-12-01T23:59:34Z", "…+02:00"). */
export function rfc3339Local(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const offset = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + offset * 60_000).toISOString().slice(0, 19);
  if (offset === 0) return `${local}Z`;
  const abs = Math.abs(offset);
  return `${local}${offset < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** metadata.db's volumes bucket by name; null when the file does not exist. */
function readVolumeMetadata(file: string): Map<string, VolumeMetadata> | null {
  try {
    lstatSync(file);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return null;
    throw fsError(file, err);
  }
  const out = new Map<string, VolumeMetadata>();
  openBolt(file)
    .bucket('volumes')
    ?.forEach((k, v) => {
      if (v === null || v.length === 0) return;
      try {
        const meta = JSON.parse(v.toString('utf8')) as VolumeMetadata;
        if (meta && typeof meta === 'object') out.set(k.toString('utf8'), meta);
      } catch {
        throw new StrataError(`volume ${k.toString('utf8')}: its record is not JSON`, { file });
      }
    });
  return out;
}

/** The local driver's mount options from opts.json (none: null); such a volume is not in docker system df. */
function mountOptions(file: string): Record<string, unknown> | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return null;
    throw fsError(file, err);
  }
  try {
    const opts = JSON.parse(text) as Record<string, unknown>;
    const set = Object.entries(opts ?? {}).filter(([, v]) => v !== '' && v !== null && !(typeof v === 'object' && Object.values(v as object).every((x) => !x)));
    return set.length > 0 ? Object.fromEntries(set) : null;
  } catch {
    throw new StrataError('not JSON (the volume options of the local driver)', { file });
  }
}

/** Containers using each volume, by volume name (MountPoints of type volume). */
export function volumeUsers(containers: Container[]): Map<string, string[]> {
  const users = new Map<string, string[]>();
  for (const c of containers) {
    const names = new Set(c.mountPoints.filter((m) => m.name && (m.type === 'volume' || m.type === '')).map((m) => m.name));
    for (const n of names) users.set(n, [...(users.get(n) ?? []), c.name]);
  }
  return users;
}

export interface VolumesRead {
  volumes: LocalVolume[];
  unreadable: Unreadable[];
}

/**
 * The local volumes docker system df lists, sorted by name (docker's own order is its map's, random).
 * An unreadable metadata.db or volume is a warning; what could be read is still listed.
 */
export function readLocalVolumes(root: string, containers: Container[], warnings: Warning[]): VolumesRead {
  const dir = join(root, 'volumes');
  const unreadable: Unreadable[] = [];
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return { volumes: [], unreadable };
    const e = fsError(dir, err);
    unreadable.push({ file: dir, reason: e.reason });
    warnings.push({ file: dir, message: `${e.reason} — volumes not listed` });
    return { volumes: [], unreadable };
  }
  const metaFile = join(dir, 'metadata.db');
  let meta: Map<string, VolumeMetadata> | null = null;
  let metaUnreadable = false;
  try {
    meta = readVolumeMetadata(metaFile);
  } catch (err) {
    if (!(err instanceof StrataError)) throw err;
    metaUnreadable = true;
    unreadable.push({ file: err.file ?? metaFile, reason: err.reason });
    warnings.push({ file: err.file ?? metaFile, message: `${err.reason} — volume labels and options unknown` });
  }
  const users = volumeUsers(containers);
  const volumes: LocalVolume[] = [];
  for (const name of names) {
    const m = meta?.get(name);
    // A volume the store records with another driver is not the local driver's (docker skips it).
    if (m?.Driver && m.Driver !== 'local') continue;
    if (m?.Options && Object.keys(m.Options).length > 0) continue;
    // docker goes by the store's options; without metadata.db, the local driver's own opts.json tells.
    if (metaUnreadable) {
      try {
        if (mountOptions(join(dir, name, 'opts.json'))) continue;
      } catch (err) {
        if (!(err instanceof StrataError)) throw err;
        warnings.push({ file: err.file ?? name, message: err.reason });
      }
    }
    const data = join(dir, name, '_data');
    let size: number | null = null;
    let createdAt: string | null = null;
    try {
      const st = statSync(data);
      createdAt = rfc3339Local(st.ctimeMs);
      const problems: string[] = [];
      size = measureTree(data, { onError: (p, e) => problems.push(`${p}: ${errorMessage(e)}`) }).contentBytes;
      if (problems.length > 0) {
        warnings.push({ file: data, message: `volume ${name}: size unknown: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}` });
        size = null;
      }
    } catch (err) {
      warnings.push({ file: data, message: `volume ${name}: size unknown: ${fsError(data, err).reason}` });
    }
    volumes.push({
      name,
      driver: 'local',
      mountpoint: data,
      createdAt,
      labels: m ? m.Labels ?? null : null,
      options: m ? m.Options ?? null : null,
      scope: 'local',
      size,
      refCount: users.get(name)?.length ?? 0,
      usedBy: users.get(name) ?? [],
    });
  }
  return { volumes, unreadable };
}
