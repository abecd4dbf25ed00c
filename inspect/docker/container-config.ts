// The files `docker inspect` answers from that the store model does not keep whole: a container's
// config.v2.json and hostconfig.json, and an image's lastUpdated (imagedb/metadata). Read on demand, only
// for the objects asked about. What cannot be read comes back as Unread, with a warning naming the file.
import { join } from 'node:path';
import { MetadataReader, Unread } from './files.js';

/** A container's two files, parsed. The config is needed; the host config may be unread (its warning says why). */
export interface ContainerFiles {
  config: Record<string, unknown>;
  hostConfig: Record<string, unknown> | Unread;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** containers/<id>/config.v2.json and hostconfig.json; Unread when the config itself cannot be read. */
export function readContainerFiles(r: MetadataReader, root: string, id: string, configName = 'config.v2.json'): ContainerFiles | Unread {
  const dir = join(root, 'containers', id);
  const configFile = join(dir, configName);
  const config = r.json<unknown>(configFile);
  if (config instanceof Unread) return config;
  if (!isObject(config)) return r.cannotRead(configFile, 'not a container config (no JSON object)');
  const hostFile = join(dir, 'hostconfig.json');
  const host = r.json<unknown>(hostFile, true);
  const hostConfig = host instanceof Unread ? host : isObject(host) ? host : r.cannotRead(hostFile, host === null ? 'missing' : 'not a host config (no JSON object)');
  return { config, hostConfig };
}

/** When the image was last tagged (imagedb/metadata/sha256/<hex>/lastUpdated); null when never recorded. */
export function readImageLastUpdated(r: MetadataReader, imageDbDir: string, imageId: string): string | null | Unread {
  const hex = imageId.replace(/^sha256:/, '');
  return r.text(join(imageDbDir, 'metadata', 'sha256', hex, 'lastUpdated'), true);
}
