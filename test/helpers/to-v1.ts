// Converts a modern store (a real dockerd's overlay2 store) into a legacy v1 graph/ store of the aufs
// driver, following the documented formats (the shared FORMATS notes; moby's graph/ and aufs drivers of
// Docker 1.9): each layer of each image becomes a v1 image with a random-looking id whose parent is the
// layer below; its files go to aufs/diff/<id> (whiteouts as .wh. files, aufs' own .wh..wh.aufs file and
// .wh..wh.orph/.wh..wh.plnk directories beside them) with aufs/layers/<id> naming its ancestors; graph/<id>
// holds json, layersize and tar-data.json.gz (the tar-split recorded while applying); repositories-aufs
// names the tags. The layers must reassemble from tar-data to their original DiffIDs.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tarBytes } from '../../drivers/archive/chunks.js';
import { TarSplitWriter } from '../../drivers/archive/tar-split-writer.js';
import { openDriver } from '../../drivers/index.js';
import { layerStream, layerTargetOf } from '../../inspect/layer-export.js';
import { openStore } from '../../inspect/open-store.js';

export interface ConvertedV1 {
  /** Modern ChainID → its v1 id. */
  v1Of: Map<string, string>;
  /** Tag → the v1 id it names (the image's top layer). */
  tags: Map<string, string>;
}

/** Writes the v1 aufs store of the images of `source` (tagged ones and their chains) at `out`. */
export async function convertToV1(source: string, out: string): Promise<ConvertedV1> {
  const { model, driver } = await openStore({ root: source });
  if (!driver) throw new Error(`no driver for ${source}`);
  const aufs = openDriver('aufs', out)!;
  const v1Of = new Map<string, string>();
  const tags = new Map<string, string>();
  const repositories: Record<string, Record<string, string>> = {};
  const images = [...model.images.values()].filter((i) => i.repoTags.length > 0).sort((a, b) => a.chainIds.length - b.chainIds.length);
  for (const image of images) {
    const steps = (image.config.history ?? []).filter((h) => !h.empty_layer);
    for (const [i, chainId] of image.chainIds.entries()) {
      if (v1Of.has(chainId)) continue;
      const id = createHash('sha256').update(`v1 ${chainId}`).digest('hex');
      const parent = i > 0 ? v1Of.get(image.chainIds[i - 1])! : null;
      const tarSplit = new TarSplitWriter();
      const { size } = await aufs.apply({ cacheId: id, parentCacheId: parent }, tarBytes(layerStream(driver, layerTargetOf(model, chainId)).chunks), { tarSplit, allowDevices: true });
      // aufs' own entries in every branch (strata's apply makes them as aufs does): never part of a layer's tar.
      writeFileSync(join(out, 'aufs', 'diff', id, '.wh..wh.aufs'), '', { flag: 'a' });
      for (const d of ['.wh..wh.orph', '.wh..wh.plnk']) mkdirSync(join(out, 'aufs', 'diff', id, d), { recursive: true, mode: 0o700 });
      const dir = join(out, 'graph', id);
      mkdirSync(dir, { recursive: true });
      const step = steps[i] ?? {};
      const json = {
        id,
        ...(parent ? { parent } : {}),
        created: step.created ?? image.created,
        container_config: { Cmd: step.created_by ? [step.created_by] : null },
        docker_version: '1.9.1',
        config: i === image.chainIds.length - 1 ? image.config.config ?? null : null,
        architecture: image.config.architecture ?? 'amd64',
        os: image.config.os ?? 'linux',
        Size: size,
      };
      writeFileSync(join(dir, 'json'), JSON.stringify(json));
      writeFileSync(join(dir, 'layersize'), String(size));
      writeFileSync(join(dir, 'tar-data.json.gz'), tarSplit.finish());
      v1Of.set(chainId, id);
    }
    const top = v1Of.get(image.chainIds.at(-1)!)!;
    for (const tag of image.repoTags) {
      const colon = tag.lastIndexOf(':');
      (repositories[tag.slice(0, colon)] ??= {})[tag.slice(colon + 1)] = top;
      tags.set(tag, top);
    }
  }
  writeFileSync(join(out, 'repositories-aufs'), JSON.stringify({ Repositories: repositories }));
  return { v1Of, tags };
}
