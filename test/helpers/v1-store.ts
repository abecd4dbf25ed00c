// Legacy v1 graph/ stores (Docker < 1.10), made at run time as that era's daemon left them: each layer's
// tar applied by the real driver (aufs/diff/<id> with aufs/layers/<id>, or vfs/dir/<id>) under a random
// v1 id, graph/<id>/{json,layersize,tar-data.json.gz}, and tags in repositories-<driver>.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { TarSplitWriter } from '../../drivers/archive/tar-split-writer.js';
import { openDriver } from '../../drivers/index.js';
import { layerTar, type TarSpec } from './layer-store.js';

export interface V1ImageSpec {
  /** Key of the parent image in the same spec list (earlier in it), or null for a base. */
  parent: string | null;
  files: TarSpec[];
  created: string;
  /** The JSON's container_config.Cmd (history's created_by). */
  cmd?: string[];
  tags?: string[];
  /** Extra fields of the v1 JSON (author, config, docker_version…). */
  extra?: Record<string, unknown>;
}

export interface BuiltV1Image {
  key: string;
  id: string;
  parent: string | null;
  /** sha256 of the layer's tar: what its DiffID is. */
  diffId: string;
  tar: Buffer;
  size: number;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Builds the store; images are made in the order given (a parent before its children). */
export async function makeV1Store(root: string, driverName: 'aufs' | 'vfs', specs: Array<[string, V1ImageSpec]>): Promise<Map<string, BuiltV1Image>> {
  const driver = openDriver(driverName, root)!;
  const built = new Map<string, BuiltV1Image>();
  const repositories: Record<string, Record<string, string>> = {};
  for (const [key, spec] of specs) {
    const id = randomBytes(32).toString('hex');
    const parent = spec.parent === null ? null : built.get(spec.parent)!.id;
    const tar = layerTar(spec.files);
    const tarSplit = new TarSplitWriter();
    const { size } = await driver.apply({ cacheId: id, parentCacheId: parent }, Readable.from([tar]), { tarSplit });
    const dir = join(root, 'graph', id);
    mkdirSync(dir, { recursive: true });
    const json: Record<string, unknown> = {
      id,
      ...(parent ? { parent } : {}),
      created: spec.created,
      container: randomBytes(32).toString('hex'),
      container_config: { Hostname: 'b1', Cmd: spec.cmd ?? ['/bin/sh', '-c', `#(nop) ADD file:${key}`], Image: parent ?? '' },
      docker_version: '1.9.1',
      config: { Hostname: 'b1', Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin:/bin'] },
      architecture: 'amd64',
      os: 'linux',
      Size: size,
      ...spec.extra,
    };
    writeFileSync(join(dir, 'json'), JSON.stringify(json));
    writeFileSync(join(dir, 'layersize'), String(size));
    writeFileSync(join(dir, 'tar-data.json.gz'), tarSplit.finish());
    for (const tag of spec.tags ?? []) {
      const colon = tag.lastIndexOf(':');
      (repositories[tag.slice(0, colon)] ??= {})[tag.slice(colon + 1)] = id;
    }
    built.set(key, { key, id, parent, diffId: `sha256:${sha(tar)}`, tar, size });
  }
  writeFileSync(join(root, `repositories-${driverName}`), JSON.stringify({ Repositories: repositories }));
  return built;
}
