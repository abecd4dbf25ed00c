// `docker inspect` as docker 20.10 answers it, from the store model and a container's own files: the
// image object (types.ImageInspect), the container object (types.ContainerJSON), how a ref names one of
// them, and the bytes docker prints. Docker builds these by unmarshalling what is on disk into its Go
// structs and marshalling them again, so every struct here lists its fields in Go's order with Go's
// omitempty rules, and maps come out with their keys sorted as Go sorts them (bytewise).
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { StorageDriver } from '../drivers/types.js';
import { StrataError } from '../native/errors.js';
import { containerStateOf } from './docker/containers.js';
import { readContainerFiles, readImageLastUpdated, type ContainerFiles } from './docker/container-config.js';
import { containerConfigName } from './v1/read-store.js';
import { MetadataReader, Unread } from './docker/files.js';
import { imageSize, sortReferences } from './images.js';
import type { Container, Image, StoreModel } from './model.js';
import { ImageReferenceError, invalidReferenceReason, resolveImageId } from './reference.js';

export { invalidReferenceReason };

type Json = Record<string, unknown>;


// ---------------------------------------------------------------------------------------------------
// Go's JSON, as docker prints inspect output: the daemon's json.Encoder (no HTML escaping), re-indented
// by the client with json.Indent(…, "", "    "), then a newline.

/** An object key JavaScript enumerates before the others (an array index); only Go maps can have one. */
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

/** Go sorts map keys bytewise (UTF-8), which is not JavaScript's UTF-16 order. */
export function compareGoStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * An object's keys in the order Go writes them. Structs and maps are built here in Go's order already;
 * only array-index keys (which JavaScript moves to the front) betray a map, whose keys Go sorts.
 */
function goKeys(obj: Json): string[] {
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
  return keys.some((k) => ARRAY_INDEX.test(k)) ? keys.sort(compareGoStrings) : keys;
}

/** A string as Go's encoder writes it without HTML escaping (U+2028/9 escaped, broken UTF-16 as U+FFFD). */
export function goQuote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c < 0x20) out += c === 0x0a ? '\\n' : c === 0x0d ? '\\r' : c === 0x09 ? '\\t' : `\\u00${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) {
      out += s[i] + s[i + 1];
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) out += '\ufffd';
    else out += s[i];
  }
  return out + '"';
}

function goNumber(n: number): string {
  if (!Number.isFinite(n)) return 'null';
  return String(n);
}

/** Go's JSON of `value`, indented as json.Indent(prefix "", indent "    ") does it (empty [] and {} stay closed). */
export function goIndentedJson(value: unknown, depth = 0): string {
  if (value === null || value === undefined) return 'null';
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return goIndentedJson((value as { toJSON(): unknown }).toJSON(), depth);
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'number') return goNumber(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const inner = '    '.repeat(depth + 1);
  const outer = '    '.repeat(depth);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + goIndentedJson(v, depth + 1)).join(',\n')}\n${outer}]`;
  }
  const obj = value as Json;
  const omit = new Set(goTypeOf(obj)?.omitEmpty ?? []);
  const keys = goKeys(obj).filter((k) => !(omit.has(k) && isEmptyGoValue(obj[k])));
  if (keys.length === 0) return '{}';
  return `{\n${keys.map((k) => `${inner}${goQuote(k)}: ${goIndentedJson(obj[k], depth + 1)}`).join(',\n')}\n${outer}}`;
}

/** encoding/json's isEmptyValue: false, 0, "", nil, an empty slice or map (never a struct or a time). */
function isEmptyGoValue(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v !== 'object') return false;
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return (v as { toJSON(): unknown }).toJSON() === null;
  return goTypeOf(v)?.kind !== 'struct' && Object.keys(v).length === 0;
}

/** What `docker inspect` prints without --format: the array of objects found, indented, and a newline. */
export function dockerInspectText(objects: unknown[]): string {
  return `${goIndentedJson(objects)}\n`;
}

// ---------------------------------------------------------------------------------------------------
// Values as Go's decoder leaves them.

const GO_ZERO_TIME = '0001-01-01T00:00:00Z';
const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A time as Go's time.Time prints it in JSON (RFC3339Nano): trailing zeros of the fraction dropped, a zero
 * offset as Z. Absent is Go's zero time; a text that is no RFC 3339 time is kept as it is.
 */
export function goTime(value: unknown): string {
  if (typeof value !== 'string') return GO_ZERO_TIME;
  const m = RFC3339.exec(value);
  if (!m) return value;
  const fraction = (m[3] ?? '').slice(0, 9).replace(/0+$/, '');
  const zone = /^[Zz]$|^[+-]00:00$/.test(m[4]) ? 'Z' : m[4];
  return `${m[1]}T${m[2]}${fraction ? `.${fraction}` : ''}${zone}`;
}

/** Go time.Time's String(): "2006-01-02 15:04:05.999999999 -0700 MST" (UTC for a zero offset). */
export function goTimeString(value: unknown): string {
  const t = goTime(value);
  const m = RFC3339.exec(t);
  if (!m) return t;
  const offset = m[4] === 'Z' ? '+0000' : m[4].replace(':', '');
  return `${m[1]} ${m[2]}${m[3] ? `.${m[3]}` : ''} ${offset} ${m[4] === 'Z' ? 'UTC' : ''}`.trimEnd();
}

function isObject(v: unknown): v is Json {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/**
 * A struct field as Go's decoder finds it: the exact key, else a key equal but for case; the last such key
 * of the object wins, as each one Go meets overwrites the field.
 */
export function goField(obj: Json, name: string): unknown {
  let found: unknown;
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key === name || key.toLowerCase() === lower) found = obj[key];
  return found;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const bool = (v: unknown): boolean => v === true;
const int = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 0);

/** []string: null stays null (nil), an array its strings. */
function stringList(v: unknown): string[] | null {
  return Array.isArray(v) ? v.map(str) : null;
}

/** strslice.StrSlice: an array, or one string taken as a one-element array. */
function strSlice(v: unknown): string[] | null {
  return typeof v === 'string' ? [v] : stringList(v);
}

/**
 * A nil map: JSON null, but empty for templates (`index` gives the zero value, it prints `map[]`), as a
 * nil map of a typed struct behaves in Go.
 */
function nilMap(): Json {
  const m: Json = {};
  Object.defineProperty(m, 'toJSON', { value: () => null, enumerable: false });
  return m;
}

/** A map with keys in Go's order, values converted by `value`; absent or null is a nil map. */
function goMap<T>(v: unknown, value: (x: unknown) => T): Record<string, T> {
  if (!isObject(v)) return nilMap() as Record<string, T>;
  const out: Record<string, T> = {};
  for (const k of Object.keys(v).sort(compareGoStrings)) out[k] = value(v[k]);
  return out;
}

const emptyStruct = (): Json => ({});

/** omitempty: undefined (left out) when empty. */
function omitEmpty<T>(v: T): T | undefined {
  if (v === null || v === undefined || v === '' || v === false || v === 0) return undefined;
  if (Array.isArray(v) && v.length === 0) return undefined;
  if (isObject(v) && Object.keys(v).length === 0) return undefined;
  return v;
}

// How a Go template sees these values (the marker cli/go-fmt.ts reads, shared through the global symbol
// registry): docker runs templates over its typed structs, where every field exists (an omitted one holds
// its zero value) and maps have a zero value for missing keys.
const GO_TYPE = Symbol.for('strata.goType');
const GO_STRINGER = Symbol.for('go.String');

interface GoType {
  kind: 'struct' | 'map';
  name: string;
  zero?: unknown;
  /** Fields left out of JSON when empty (json:",omitempty"). */
  omitEmpty?: string[];
  /** Go types of fields whose null is a typed nil: a nil slice prints [], a nil map map[], a pointer <nil>. */
  nilKinds?: Record<string, string>;
}

function goTypeOf(v: object): GoType | undefined {
  return (v as { [GO_TYPE]?: GoType })[GO_TYPE];
}

interface StructShape {
  /** omitempty fields with their Go zero value: one left undefined gets it (templates see every field), and JSON leaves it out. */
  zeros?: Record<string, unknown>;
  nilKinds?: Record<string, string>;
}

/** Marks `obj` as the Go struct `name` (see StructShape). */
function goStruct<T extends Json>(name: string, obj: T, shape: StructShape = {}): T {
  const omitEmpty: string[] = [];
  for (const [field, zero] of Object.entries(shape.zeros ?? {})) {
    if (obj[field] !== undefined) continue;
    (obj as Json)[field] = zero;
    omitEmpty.push(field);
  }
  const info: GoType = { kind: 'struct', name, omitEmpty, nilKinds: shape.nilKinds };
  Object.defineProperty(obj, GO_TYPE, { value: info, enumerable: false, configurable: true });
  return obj;
}

/** A time.Time: JSON as RFC3339Nano, printed by a template as Go's Time.String(). */
export class GoTime {
  constructor(readonly text: string) {}
  toJSON(): string {
    return this.text;
  }
  [GO_STRINGER](): string {
    return goTimeString(this.text);
  }
}

/** Marks `obj` (unless null) as a Go map of type `name`, whose missing keys read as `zero`. */
function goMapType<T extends Json | null>(name: string, zero: unknown, obj: T): T {
  if (obj) Object.defineProperty(obj, GO_TYPE, { value: { kind: 'map', name, zero }, enumerable: false, configurable: true });
  return obj;
}

/** container.HealthConfig (its fields are all omitempty). */
function healthConfigOf(v: Json): Json {
  return goStruct('container.HealthConfig', {
    Test: omitEmpty(stringList(goField(v, 'Test'))),
    Interval: omitEmpty(int(goField(v, 'Interval'))),
    Timeout: omitEmpty(int(goField(v, 'Timeout'))),
    StartPeriod: omitEmpty(int(goField(v, 'StartPeriod'))),
    Retries: omitEmpty(int(goField(v, 'Retries'))),
  }, { zeros: { Test: null, Interval: 0, Timeout: 0, StartPeriod: 0, Retries: 0 }, nilKinds: { Test: '[]string' } });
}

const CONFIG_NILS: Record<string, string> = {
  ExposedPorts: 'map[nat.Port]struct {}',
  Env: '[]string',
  Cmd: '[]string',
  Healthcheck: '*container.HealthConfig',
  Volumes: 'map[string]struct {}',
  Entrypoint: '[]string',
  OnBuild: '[]string',
  Labels: 'map[string]string',
  StopTimeout: '*int',
  Shell: '[]string',
};

/**
 * container.Config as docker 20.10 marshals it after reading `raw` (an image config's config or
 * container_config, or a container's Config): Go's field order, omitempty fields left out when empty.
 */
export function containerConfigOf(raw: unknown): Json {
  const c = isObject(raw) ? raw : {};
  const f = (name: string) => goField(c, name);
  const health = f('Healthcheck');
  const stopTimeout = f('StopTimeout');
  return goStruct('container.Config', {
    Hostname: str(f('Hostname')),
    Domainname: str(f('Domainname')),
    User: str(f('User')),
    AttachStdin: bool(f('AttachStdin')),
    AttachStdout: bool(f('AttachStdout')),
    AttachStderr: bool(f('AttachStderr')),
    ExposedPorts: omitEmpty(goMapType('map[nat.Port]struct {}', {}, goMap(f('ExposedPorts'), emptyStruct))),
    Tty: bool(f('Tty')),
    OpenStdin: bool(f('OpenStdin')),
    StdinOnce: bool(f('StdinOnce')),
    Env: stringList(f('Env')),
    Cmd: strSlice(f('Cmd')),
    Healthcheck: isObject(health) ? healthConfigOf(health) : undefined,
    ArgsEscaped: omitEmpty(bool(f('ArgsEscaped'))),
    Image: str(f('Image')),
    Volumes: goMapType('map[string]struct {}', {}, goMap(f('Volumes'), emptyStruct)),
    WorkingDir: str(f('WorkingDir')),
    Entrypoint: strSlice(f('Entrypoint')),
    NetworkDisabled: omitEmpty(bool(f('NetworkDisabled'))),
    MacAddress: omitEmpty(str(f('MacAddress'))),
    OnBuild: stringList(f('OnBuild')),
    Labels: goMapType('map[string]string', '', goMap(f('Labels'), str)),
    StopSignal: omitEmpty(str(f('StopSignal'))),
    // A pointer: present (even 0) whenever recorded.
    StopTimeout: typeof stopTimeout === 'number' ? int(stopTimeout) : undefined,
    Shell: omitEmpty(strSlice(f('Shell'))),
  }, {
    zeros: { ExposedPorts: null, Healthcheck: null, ArgsEscaped: false, NetworkDisabled: false, MacAddress: '', StopSignal: '', StopTimeout: null, Shell: null },
    nilKinds: CONFIG_NILS,
  });
}

// ---------------------------------------------------------------------------------------------------
// GraphDriver.Data: what the driver's GetMetadata tells about a layer directory.

/** The data-root as dockerd names it in paths: absolute, symlinks resolved. */
export function daemonRootPath(root: string): string {
  try {
    return realpathSync(root);
  } catch {
    return root;
  }
}

/**
 * overlay2 names a layer's directories (LowerDir only when it has lower layers, nearest first; a
 * container's includes its -init layer); vfs and aufs report nothing (null). Throws a StrataError naming
 * the file when a lower link cannot be followed, as docker's inspect of that object fails then too.
 */
export function graphDriverData(driver: StorageDriver | null, root: string, cacheId: string | null): Record<string, string> | null {
  if (!driver || driver.name !== 'overlay2' || !cacheId) return null;
  const home = join(daemonRootPath(root), 'overlay2');
  const lowers = (driver as StorageDriver & { lowerDirs(id: string): string[] }).lowerDirs(cacheId);
  const data: Record<string, string> = {};
  if (lowers.length) data.LowerDir = lowers.map((dir) => join(home, dir.slice(driver.home.length))).join(':');
  data.MergedDir = join(home, cacheId, 'merged');
  data.UpperDir = join(home, cacheId, 'diff');
  data.WorkDir = join(home, cacheId, 'work');
  return data;
}

// ---------------------------------------------------------------------------------------------------
// Images (types.ImageInspect).

export interface ImageInspectSources {
  /** imagedb's lastUpdated for the image, as recorded; null when never tagged. */
  lastTagTime: string | null;
  /** GraphDriver.Data of the image's top layer (graphDriverData). */
  graphData: Record<string, string> | null;
}

function graphDriverJson(data: Record<string, string> | null, name: string): Json {
  return goStruct('types.GraphDriverData', { Data: goMapType('map[string]string', '', data), Name: name }, { nilKinds: { Data: 'map[string]string' } });
}

/** `docker image inspect` of one image. */
export function imageInspectObject(model: StoreModel, image: Image, sources: ImageInspectSources): Json {
  const cfg = image.config as Json;
  const f = (name: string) => goField(cfg, name);
  const rootfs = f('rootfs');
  const layers = isObject(rootfs) ? stringList(goField(rootfs, 'diff_ids')) : null;
  const config = f('config');
  const size = imageSize(model, image);
  const history = f('history');
  const lastStep = Array.isArray(history) && isObject(history.at(-1)) ? (history.at(-1) as Json) : {};
  return goStruct('types.ImageInspect', {
    Id: image.id,
    RepoTags: sortReferences(image.repoTags),
    RepoDigests: sortReferences(image.repoDigests),
    Parent: image.parent ?? '',
    // An image without a comment of its own (BuildKit's) shows its last history step's.
    Comment: str(f('comment')) || str(goField(lastStep, 'comment')),
    Created: goTime(f('created')),
    Container: str(f('container')),
    ContainerConfig: containerConfigOf(f('container_config')),
    DockerVersion: str(f('docker_version')),
    Author: str(f('author')),
    Config: isObject(config) ? containerConfigOf(config) : null,
    Architecture: str(f('architecture')),
    Variant: omitEmpty(str(f('variant'))),
    // Go's runtime.GOOS stands in for an image that names no OS.
    Os: str(f('os')) || 'linux',
    OsVersion: omitEmpty(str(f('os.version'))),
    Size: size,
    VirtualSize: size,
    GraphDriver: graphDriverJson(sources.graphData, model.driver),
    RootFS: goStruct('types.RootFS', {
      Type: isObject(rootfs) ? str(goField(rootfs, 'type')) : '',
      Layers: omitEmpty(layers),
      BaseLayer: isObject(rootfs) ? omitEmpty(str(goField(rootfs, 'base_layer'))) : undefined,
    }, { zeros: { Layers: null, BaseLayer: '' }, nilKinds: { Layers: '[]string' } }),
    Metadata: goStruct('types.ImageMetadata', { LastTagTime: new GoTime(goTime(sources.lastTagTime ?? undefined)) }),
  }, { zeros: { Variant: '', OsVersion: '' }, nilKinds: { RepoTags: '[]string', RepoDigests: '[]string', Config: '*container.Config' } });
}

// ---------------------------------------------------------------------------------------------------
// Containers (types.ContainerJSON).

export interface ContainerInspectSources {
  files: ContainerFiles;
  /** GraphDriver.Data of the container's read-write layer (graphDriverData of its mount id). */
  graphData: Record<string, string> | null;
  /** With --size: SizeRw and SizeRootFs. */
  size?: { rw: number; rootFs: number };
}

/** The state docker reports (types.ContainerState), Status as container/state.go names it. */
function containerStateJson(raw: unknown): Json {
  const s = isObject(raw) ? raw : {};
  const health = s.Health;
  return goStruct('types.ContainerState', {
    Status: containerStateOf(s as Parameters<typeof containerStateOf>[0]),
    Running: bool(s.Running),
    Paused: bool(s.Paused),
    Restarting: bool(s.Restarting),
    OOMKilled: bool(s.OOMKilled),
    Dead: bool(s.Dead),
    Pid: int(s.Pid),
    ExitCode: int(s.ExitCode),
    Error: str(s.Error),
    StartedAt: goTime(s.StartedAt),
    FinishedAt: goTime(s.FinishedAt),
    Health: isObject(health) ? healthJson(health) : undefined,
  }, { zeros: { Health: null }, nilKinds: { Health: '*types.Health' } });
}

/** types.Health; a status never set reads as unhealthy (container/health.go Status()). */
function healthJson(h: Json): Json {
  const log = Array.isArray(h.Log) ? h.Log : [];
  return goStruct('types.Health', {
    Status: str(h.Status) || 'unhealthy',
    FailingStreak: int(h.FailingStreak),
    Log: log.filter(isObject).map((r) => goStruct('types.HealthcheckResult', { Start: new GoTime(goTime(r.Start)), End: new GoTime(goTime(r.End)), ExitCode: int(r.ExitCode), Output: str(r.Output) })),
  });
}

/** types.MountPoint of each MountPoints entry; a local volume's Source is its _data directory. */
function mountsJson(raw: unknown, rootPath: string): Json[] {
  if (!isObject(raw)) return [];
  return Object.values(raw)
    .filter(isObject)
    .map((m) => {
      const type = str(m.Type);
      const name = str(m.Name);
      const driver = str(m.Driver);
      let source = str(m.Source);
      if (type === 'volume' && name && driver === 'local') source = join(rootPath, 'volumes', name, '_data');
      return goStruct('types.MountPoint', {
        Type: omitEmpty(type),
        Name: omitEmpty(name),
        Source: source,
        Destination: str(m.Destination),
        Driver: omitEmpty(driver),
        // MountPoint keeps its Mode under the JSON name Relabel.
        Mode: str(m.Relabel),
        RW: bool(m.RW),
        Propagation: str(m.Propagation),
      }, { zeros: { Type: '', Name: '', Driver: '' } });
    })
    .sort((a, b) => compareGoStrings(a.Destination, b.Destination));
}

/** network.EndpointSettings (what is stored beside it, IPAMOperational, is not shown). */
function endpointJson(e: Json): Json {
  const ipam = e.IPAMConfig;
  return goStruct('network.EndpointSettings', {
    IPAMConfig: isObject(ipam)
      ? goStruct(
          '*network.EndpointIPAMConfig',
          { IPv4Address: omitEmpty(str(ipam.IPv4Address)), IPv6Address: omitEmpty(str(ipam.IPv6Address)), LinkLocalIPs: omitEmpty(stringList(ipam.LinkLocalIPs)) },
          { zeros: { IPv4Address: '', IPv6Address: '', LinkLocalIPs: null }, nilKinds: { LinkLocalIPs: '[]string' } },
        )
      : null,
    Links: stringList(e.Links),
    Aliases: stringList(e.Aliases),
    NetworkID: str(e.NetworkID),
    EndpointID: str(e.EndpointID),
    Gateway: str(e.Gateway),
    IPAddress: str(e.IPAddress),
    IPPrefixLen: int(e.IPPrefixLen),
    IPv6Gateway: str(e.IPv6Gateway),
    GlobalIPv6Address: str(e.GlobalIPv6Address),
    GlobalIPv6PrefixLen: int(e.GlobalIPv6PrefixLen),
    MacAddress: str(e.MacAddress),
    DriverOpts: goMapType('map[string]string', '', goMap(e.DriverOpts, str)),
  }, { nilKinds: { IPAMConfig: '*network.EndpointIPAMConfig', Links: '[]string', Aliases: '[]string', DriverOpts: 'map[string]string' } });
}

/** []network.Address */
function addresses(v: unknown): Json[] | null {
  return Array.isArray(v) ? v.filter(isObject).map((a) => goStruct('network.Address', { Addr: str(a.Addr), PrefixLen: int(a.PrefixLen) })) : null;
}

/** types.NetworkSettings: the base fields, the default (bridge) network's, and each network's endpoint. */
function networkSettingsJson(raw: unknown): Json {
  const n = isObject(raw) ? raw : {};
  // dockerd makes both maps afresh for inspect: never nil.
  const networks = goMapType('map[string]*network.EndpointSettings', null, isObject(n.Networks) ? goMap(n.Networks, (e) => (isObject(e) ? endpointJson(e) : null)) : {});
  const bridge = isObject(networks.bridge) ? networks.bridge : {};
  const ports = !isObject(n.Ports) ? {} : goMap(n.Ports, (bindings) =>
    Array.isArray(bindings) ? bindings.filter(isObject).map((b) => goStruct('nat.PortBinding', { HostIp: str(b.HostIp), HostPort: str(b.HostPort) })) : null,
  );
  return goStruct('types.NetworkSettings', {
    Bridge: str(n.Bridge),
    SandboxID: str(n.SandboxID),
    HairpinMode: bool(n.HairpinMode),
    LinkLocalIPv6Address: str(n.LinkLocalIPv6Address),
    LinkLocalIPv6PrefixLen: int(n.LinkLocalIPv6PrefixLen),
    Ports: goMapType('nat.PortMap', null, ports),
    SandboxKey: str(n.SandboxKey),
    SecondaryIPAddresses: addresses(n.SecondaryIPAddresses),
    SecondaryIPv6Addresses: addresses(n.SecondaryIPv6Addresses),
    EndpointID: str(bridge.EndpointID),
    Gateway: str(bridge.Gateway),
    GlobalIPv6Address: str(bridge.GlobalIPv6Address),
    GlobalIPv6PrefixLen: int(bridge.GlobalIPv6PrefixLen),
    IPAddress: str(bridge.IPAddress),
    IPPrefixLen: int(bridge.IPPrefixLen),
    IPv6Gateway: str(bridge.IPv6Gateway),
    MacAddress: str(bridge.MacAddress),
    Networks: networks,
  }, { nilKinds: { SecondaryIPAddresses: '[]network.Address', SecondaryIPv6Addresses: '[]network.Address' } });
}

/** Fields of container.HostConfig that are structs; its other object fields are maps. */
const HOST_CONFIG_STRUCTS: Record<string, string> = { LogConfig: 'container.LogConfig', RestartPolicy: 'container.RestartPolicy' };

/** container.HostConfig's fields whose null is a typed nil (slices, maps, pointers). */
const HOST_CONFIG_NILS: Record<string, string> = {
  ...Object.fromEntries(
    ['Binds', 'VolumesFrom', 'CapAdd', 'CapDrop', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'GroupAdd', 'Links', 'SecurityOpt', 'DeviceCgroupRules', 'MaskedPaths', 'ReadonlyPaths'].map((f) => [f, '[]string']),
  ),
  ...Object.fromEntries(['PortBindings', 'Sysctls', 'StorageOpt', 'Tmpfs', 'Annotations'].map((f) => [f, 'map[string]string'])),
  ...Object.fromEntries(['BlkioWeightDevice', 'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'Devices', 'DeviceRequests', 'Ulimits', 'Mounts'].map((f) => [f, '[]struct {}'])),
  ...Object.fromEntries(['MemorySwappiness', 'OomKillDisable', 'PidsLimit', 'Init'].map((f) => [f, '*int64'])),
};

/** The struct types of container.HostConfig's lists of structs, by field. */
const HOST_CONFIG_LISTS: Record<string, string> = {
  Ulimits: '*units.Ulimit',
  Devices: 'container.DeviceMapping',
  DeviceRequests: 'container.DeviceRequest',
  BlkioWeightDevice: '*blkiodev.WeightDevice',
  BlkioDeviceReadBps: '*blkiodev.ThrottleDevice',
  BlkioDeviceWriteBps: '*blkiodev.ThrottleDevice',
  BlkioDeviceReadIOps: '*blkiodev.ThrottleDevice',
  BlkioDeviceWriteIOps: '*blkiodev.ThrottleDevice',
  Mounts: 'mount.Mount',
};

/**
 * hostconfig.json as dockerd wrote it (a marshalling of the very struct inspect shows), marked for
 * templates: the struct fields as structs, the elements of its lists as structs, other objects as maps.
 */
function hostConfigTyped(host: Json): Json {
  for (const [key, value] of Object.entries(host)) {
    if (Array.isArray(value)) value.forEach((e) => isObject(e) && goStruct(HOST_CONFIG_LISTS[key] ?? 'struct {}', e));
    else if (isObject(value)) {
      if (HOST_CONFIG_STRUCTS[key]) goStruct(HOST_CONFIG_STRUCTS[key], value);
      else goMapType('map[string]string', '', value);
    }
  }
  if (isObject(host.LogConfig) && isObject(host.LogConfig.Config)) goMapType('map[string]string', '', host.LogConfig.Config);
  return goStruct('container.HostConfig', host, { nilKinds: HOST_CONFIG_NILS });
}

/**
 * `docker container inspect` of one container, from its config.v2.json and hostconfig.json as recorded.
 * HostConfig is the file as dockerd wrote it (its own marshalling of the same struct); null when unread.
 */
export function containerInspectObject(model: StoreModel, container: Container, sources: ContainerInspectSources): Json {
  const c = sources.files.config;
  const rootPath = daemonRootPath(model.root);
  const host = sources.files.hostConfig;
  return goStruct('types.ContainerJSON', {
    Id: str(c.ID) || container.id,
    Created: goTime(c.Created),
    Path: str(c.Path),
    Args: stringList(c.Args),
    State: containerStateJson(c.State),
    Image: str(c.Image),
    ResolvConfPath: str(c.ResolvConfPath),
    HostnamePath: str(c.HostnamePath),
    HostsPath: str(c.HostsPath),
    LogPath: str(c.LogPath),
    Name: str(c.Name),
    RestartCount: int(c.RestartCount),
    Driver: str(c.Driver),
    Platform: str(c.OS),
    MountLabel: str(c.MountLabel),
    ProcessLabel: str(c.ProcessLabel),
    AppArmorProfile: str(c.AppArmorProfile),
    // Exec sessions live in the daemon's memory only.
    ExecIDs: null,
    Node: undefined,
    HostConfig: host instanceof Unread ? null : hostConfigTyped(host),
    GraphDriver: graphDriverJson(sources.graphData, str(c.Driver)),
    SizeRw: sources.size?.rw,
    SizeRootFs: sources.size?.rootFs,
    Mounts: mountsJson(c.MountPoints, rootPath),
    Config: containerConfigOf(c.Config),
    NetworkSettings: networkSettingsJson(c.NetworkSettings),
  }, {
    zeros: { Node: null, SizeRw: null, SizeRootFs: null },
    nilKinds: { Args: '[]string', ExecIDs: '[]string', HostConfig: '*container.HostConfig', Node: '*types.ContainerNode', SizeRw: '*int64', SizeRootFs: '*int64' },
  });
}

/** Bytes of the layers of a chain, from `chainId` down (a container's SizeRootFs counts its image's). */
export function chainSize(model: StoreModel, chainId: string | null): number {
  let size = 0;
  const seen = new Set<string>();
  for (let id = chainId; id && !seen.has(id); id = model.layers.get(id)?.parent ?? null) {
    seen.add(id);
    size += model.layers.get(id)?.size ?? 0;
  }
  return size;
}

// ---------------------------------------------------------------------------------------------------
// Building the objects from the store: the files read for them, the driver's paths.

/** The read-write layer's driver id of a container, and the layer its changes are taken against. */
export function containerLayers(model: StoreModel, c: Container): { mountId: string | null; base: string | null } {
  const mount = model.mounts.get(c.id);
  const mountId = mount?.mountId ?? c.mountId;
  const parentCache = mount?.parentChainId ? (model.layers.get(mount.parentChainId)?.cacheId ?? null) : null;
  return { mountId, base: mount?.initId ?? c.initId ?? parentCache };
}

/**
 * `docker container inspect` of `c`: its files read through `r` (a config that cannot be read is a
 * StrataError naming it), the driver's paths for its read-write layer, with --size its sizes.
 * (GraphDriver.Data is null when the layer record is missing or unread; the model's warnings say so.)
 */
export function buildContainerInspect(model: StoreModel, driver: StorageDriver | null, r: MetadataReader, c: Container, withSize: boolean): Record<string, unknown> {
  const files = readContainerFiles(r, model.root, c.id, containerConfigName(model.layout));
  if (files instanceof Unread) throw new StrataError(files.reason, { file: files.file });
  const { mountId, base } = containerLayers(model, c);
  let size: { rw: number; rootFs: number } | undefined;
  if (withSize) {
    const rw = driver && mountId ? driver.diffSize({ cacheId: mountId, parentCacheId: base }) : 0;
    const parentChainId = model.mounts.get(c.id)?.parentChainId ?? c.parentChainId;
    size = { rw, rootFs: rw + chainSize(model, parentChainId) };
  }
  return containerInspectObject(model, c, { files, graphData: graphDriverData(driver, model.root, mountId), size });
}

/** `docker image inspect` of `image`: the model's image with its lastUpdated and its top layer's paths. */
export function buildImageInspect(model: StoreModel, driver: StorageDriver | null, r: MetadataReader, image: Image): Record<string, unknown> {
  const imageDb = join(model.root, 'image', model.driver, 'imagedb');
  const lastUpdated = readImageLastUpdated(r, imageDb, image.id);
  const top = image.chainIds.at(-1);
  const cacheId = top ? (model.layers.get(top)?.cacheId ?? null) : null;
  return imageInspectObject(model, image, {
    lastTagTime: lastUpdated instanceof Unread ? null : lastUpdated,
    graphData: graphDriverData(driver, model.root, cacheId),
  });
}

// ---------------------------------------------------------------------------------------------------
// Which object a ref names.

export type InspectType = 'container' | 'image';

export type InspectTarget = { kind: 'container'; container: Container } | { kind: 'unreadable-container'; id: string; file: string; reason: string } | { kind: 'image'; image: Image };

/** A ref that names nothing, with the line docker prints for it. */
export interface InspectMiss {
  kind: 'miss';
  message: string;
}

/** A container by full id, by name (with or without its slash), then by unique id prefix, as dockerd looks. */
function findContainer(model: StoreModel, ref: string): InspectTarget | InspectMiss | null {
  if (ref === '') return null;
  const byId = model.containers.find((c) => c.id === ref);
  if (byId) return { kind: 'container', container: byId };
  const name = ref.replace(/^\//, '');
  const byName = model.containers.find((c) => c.name === name);
  if (byName) return { kind: 'container', container: byName };
  if (ref.includes(' ')) return null;
  const ids = [...model.containers.map((c) => c.id), ...model.unreadable.containers.map((u) => u.id)];
  const matches = [...new Set(ids.filter((id) => id.startsWith(ref)))];
  if (matches.length > 1) return { kind: 'miss', message: `Error response from daemon: Multiple IDs found with provided prefix: ${ref}` };
  if (matches.length === 0) return null;
  const found = model.containers.find((c) => c.id === matches[0]);
  if (found) return { kind: 'container', container: found };
  const unread = model.unreadable.containers.find((u) => u.id === matches[0])!;
  return { kind: 'unreadable-container', id: unread.id, file: unread.file, reason: unread.reason };
}

function findImage(model: StoreModel, ref: string): InspectTarget | null {
  if (ref === '') return null;
  try {
    return { kind: 'image', image: model.images.get(resolveImageId(model, ref))! };
  } catch (err) {
    if (err instanceof ImageReferenceError) return null;
    throw err;
  }
}

/**
 * The object `ref` names, in docker inspect's order: a container first, then an image (`type` limits it
 * to one kind). A miss carries docker's line ("Error: No such object: x").
 */
export function findInspectTarget(model: StoreModel, ref: string, type?: InspectType): InspectTarget | InspectMiss {
  if (type !== 'image') {
    const container = findContainer(model, ref);
    if (container) return container;
    if (type === 'container') return { kind: 'miss', message: `Error: No such container: ${ref}` };
  }
  const image = findImage(model, ref);
  if (image) return image;
  if (type === 'image') {
    const invalid = invalidReferenceReason(ref);
    return { kind: 'miss', message: invalid ? `Error response from daemon: no such image: ${ref}: ${invalid}` : `Error: No such image: ${ref}` };
  }
  return { kind: 'miss', message: `Error: No such object: ${ref}` };
}
