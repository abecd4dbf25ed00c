// Docker's containers (<root>/containers/<id>/config.v2.json), joined with their read-write layer records
// from layerdb/mounts. A container whose config cannot be read is recorded as unreadable: it still exists.
import { join } from 'node:path';
import type { Container, ContainerMount, ContainerMountPoint, ContainerState } from '../model.js';
import { HEX64, MetadataReader, Unread } from './files.js';

interface ContainerStateJson {
  Running?: boolean;
  Paused?: boolean;
  Restarting?: boolean;
  RemovalInProgress?: boolean;
  Dead?: boolean;
  StartedAt?: string;
  FinishedAt?: string;
  ExitCode?: number;
  Health?: { Status?: string } | null;
}

/** The state name docker reports (container/state.go StateString). */
export function containerStateOf(s: ContainerStateJson | undefined): ContainerState {
  if (!s) return 'created';
  if (s.Running) return s.Paused ? 'paused' : s.Restarting ? 'restarting' : 'running';
  if (s.RemovalInProgress) return 'removing';
  if (s.Dead) return 'dead';
  if (!s.StartedAt || s.StartedAt.startsWith('0001-01-01')) return 'created';
  return 'exited';
}

/** docker ps's COMMAND: the path, then the args, quoting those with spaces (daemon/list.go). */
export function commandOf(path: string, args: string[]): string {
  if (args.length === 0) return path;
  return `${path} ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
}

interface ContainerJson {
  ID?: string;
  Name?: string;
  Image?: string;
  Created?: string;
  Driver?: string;
  Path?: string;
  Args?: string[];
  State?: ContainerStateJson;
  Config?: { Image?: string; Labels?: Record<string, string> | null; [key: string]: unknown };
  MountPoints?: Record<string, MountPointJson> | null;
  NetworkSettings?: {
    Ports?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
    Networks?: Record<string, unknown> | null;
  } | null;
}

interface MountPointJson {
  Type?: string;
  Name?: string;
  Source?: string;
  Destination?: string;
  Driver?: string;
  RW?: boolean;
  /** docker keeps the mode ("z", "ro"…) of a mount point under this key on disk. */
  Relabel?: string;
  Mode?: string;
  Propagation?: string;
}

/** MountPoints as docker lists them: ordered by destination (daemon/inspect.go sorts them the same way). */
export function mountPointsOf(points: Record<string, MountPointJson> | null | undefined): ContainerMountPoint[] {
  if (!points || typeof points !== 'object') return [];
  return Object.values(points)
    .filter((m): m is MountPointJson => !!m && typeof m === 'object')
    .map((m) => ({
      type: m.Type ?? (m.Name ? 'volume' : 'bind'),
      name: m.Name ?? '',
      source: m.Source ?? '',
      destination: m.Destination ?? '',
      driver: m.Driver ?? '',
      rw: m.RW ?? true,
      mode: m.Relabel ?? m.Mode ?? '',
      propagation: m.Propagation ?? '',
    }))
    .sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0));
}

/** The networks a container is attached to (entries docker keeps as null are skipped, as its listing does). */
export function networksOf(networks: Record<string, unknown> | null | undefined): string[] {
  if (!networks || typeof networks !== 'object') return [];
  return Object.keys(networks).filter((k) => networks[k] !== null && typeof networks[k] === 'object').sort();
}

/** Where a layout keeps its containers' configs and their read-write layers (Docker's own by default). */
export interface ContainerSource {
  /** The config's file name in containers/<id>/. */
  configName: string;
  /** The image id a config's Image names, in the model's form. */
  imageIdOf(image: string): string;
  /** The container's read-write layer record, warning when it has none. */
  mountOf(id: string, imageId: string): ContainerMount | undefined;
}

export function readContainers(r: MetadataReader, root: string, layerDbDir: string, mounts: Map<string, ContainerMount>, source?: ContainerSource): Container[] {
  const from: ContainerSource = source ?? {
    configName: 'config.v2.json',
    imageIdOf: (image) => image,
    mountOf: (id) => {
      const mount = mounts.get(id);
      if (!mount) r.warn(join(layerDbDir, 'mounts', id, 'mount-id'), `missing — container ${id.slice(0, 12)} has no read-write layer record`);
      return mount;
    },
  };
  const containers: Container[] = [];
  const dir = join(root, 'containers');
  const ids = r.list(dir, true);
  if (ids instanceof Unread) {
    r.unreadable.parts.push({ part: 'containers', file: ids.file, reason: ids.reason });
    return containers;
  }
  for (const id of ids ?? []) {
    if (!HEX64.test(id)) continue;
    const file = join(dir, id, from.configName);
    const c = r.json<ContainerJson>(file);
    if (c instanceof Unread || c === null || typeof c !== 'object') {
      const reason = c instanceof Unread ? c.reason : 'not a container config';
      if (!(c instanceof Unread)) r.cannotRead(file, reason);
      r.unreadable.containers.push({ id, file, reason });
      continue;
    }
    const imageId = from.imageIdOf(typeof c.Image === 'string' ? c.Image : '');
    const mount = from.mountOf(id, imageId);
    containers.push({
      id: c.ID ?? id,
      name: (c.Name ?? '').replace(/^\//, ''),
      imageId,
      imageRef: c.Config?.Image ?? c.Image ?? '',
      state: containerStateOf(c.State),
      exitCode: c.State?.ExitCode ?? 0,
      startedAt: c.State?.StartedAt ?? '',
      finishedAt: c.State?.FinishedAt ?? '',
      created: c.Created ?? '',
      driver: c.Driver ?? null,
      command: commandOf(c.Path ?? '', c.Args ?? []),
      mountId: mount?.mountId ?? null,
      initId: mount?.initId ?? null,
      parentChainId: mount?.parentChainId ?? null,
      labels: c.Config?.Labels && typeof c.Config.Labels === 'object' ? c.Config.Labels : {},
      mountPoints: mountPointsOf(c.MountPoints),
      ports: c.NetworkSettings?.Ports && typeof c.NetworkSettings.Ports === 'object' ? c.NetworkSettings.Ports : {},
      config: c.Config && typeof c.Config === 'object' ? c.Config : {},
      networks: networksOf(c.NetworkSettings?.Networks),
      health: typeof c.State?.Health?.Status === 'string' ? c.State.Health.Status : null,
    });
  }
  return containers;
}
