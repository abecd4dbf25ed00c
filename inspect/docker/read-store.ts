// Reads a Docker data-root's metadata (image/<driver>/ and containers/) into a StoreModel: layerdb and
// its mounts, imagedb, repositories.json and containers, each by its own reader, then joined and
// cross-checked. Reads only; every problem becomes a warning naming the file, and reading goes on.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { StrataError } from '../../native/errors.js';
import type { StoreModel } from '../model.js';
import { attachReferences, childrenByParent } from '../model-joins.js';
import type { LayerFields, ReadStoreOptions } from '../store-layout.js';
import { hintPermissionOnce } from '../unreadable.js';
import { checkConsistency } from './consistency.js';
import { readContainers } from './containers.js';
import { MetadataReader, type ReadLog } from './files.js';
import { readImages, readImagesAsync } from './imagedb.js';
import { interpretLayers, listLayerDb, logLayerFiles, readLayerFiles, readLayerFilesInBackground, readLayerFilesNatively, readMounts, type RawLayer } from './layerdb.js';
import { readReferences } from './references.js';

export class StoreReadError extends StrataError {
  override name = 'StoreReadError';
}

/** Without the native helpers, layer stores this large are read on a second thread (below, a worker costs more than it saves). */
const PARALLEL_LAYERS = 2000;

/** Reads the store on this thread. */
export function readStore(opts: ReadStoreOptions): StoreModel {
  const r = new MetadataReader();
  const { base, names } = listLayerDb(r, layerDbDir(opts));
  return finish(r, opts, readAllButLayers(r, opts), readLayerFiles(base, names, fields(opts)));
}

/**
 * Reads the store; layerdb on the native helpers' threads while this one reads everything else, or
 * without them, a large layerdb on a worker thread and then on both.
 */
export function readStoreAsync(opts: ReadStoreOptions): Promise<StoreModel> {
  return readStoreLogged(opts, null);
}

/** readStoreAsync, recording in `log` every path it reads or lists (the metadata index validates by their stats). */
export async function readStoreLogged(opts: ReadStoreOptions, log: ReadLog | null): Promise<StoreModel> {
  const r = new MetadataReader(log);
  const { base, names } = listLayerDb(r, layerDbDir(opts));
  logLayerFiles(r, base, names, fields(opts));
  const natively = readLayerFilesNatively(base, names, fields(opts));
  if (natively) {
    let others: Others | undefined;
    const images = await readImagesAsync(r, join(metaDir(opts), 'imagedb'), () => (others = readOthers(r, opts)));
    return finish(r, opts, { images, ...others! }, await natively);
  }
  if (names.length < (opts.parallelLayers ?? PARALLEL_LAYERS) || availableParallelism() < 2) {
    return finish(r, opts, readAllButLayers(r, opts), readLayerFiles(base, names, fields(opts)));
  }
  const layerdb = readLayerFilesInBackground(base, names, fields(opts));
  const partial = readAllButLayers(r, opts);
  layerdb.help();
  return finish(r, opts, partial, await layerdb.result);
}

const fields = (opts: ReadStoreOptions): LayerFields => opts.layerFields ?? 'all';
const metaDir = (opts: ReadStoreOptions): string => join(opts.root, 'image', opts.driver);
const layerDbDir = (opts: ReadStoreOptions): string => join(metaDir(opts), 'layerdb');

type Partial = Pick<StoreModel, 'images' | 'references' | 'containers' | 'mounts'>;

type Others = Omit<Partial, 'images'>;

/** imagedb, and the others while its files are read (readImagesAsync does the same, in the same order). */
function readAllButLayers(r: MetadataReader, opts: ReadStoreOptions): Partial {
  let others: Others | undefined;
  const images = readImages(r, join(metaDir(opts), 'imagedb'), () => (others = readOthers(r, opts)));
  return { images, ...others! };
}

/** Mounts, references and containers. */
function readOthers(r: MetadataReader, opts: ReadStoreOptions): Others {
  const mounts = readMounts(r, layerDbDir(opts));
  return {
    references: readReferences(r, join(metaDir(opts), 'repositories.json')),
    containers: readContainers(r, opts.root, layerDbDir(opts), mounts),
    mounts,
  };
}

function finish(r: MetadataReader, opts: ReadStoreOptions, partial: Partial, raw: RawLayer[]): StoreModel {
  const { images, references, containers, mounts } = partial;
  const layers = interpretLayers(r, join(layerDbDir(opts), 'sha256'), raw, fields(opts));
  attachReferences(images, references);
  const children = childrenByParent(images);
  const model: StoreModel = {
    root: opts.root,
    layout: 'docker',
    driver: opts.driver,
    images,
    layers,
    containers,
    mounts,
    references,
    children,
    unreadable: r.unreadable,
    warnings: r.warnings,
  };
  checkConsistency(r, model, join(metaDir(opts), 'imagedb'));
  return checkedRead(model, metaDir(opts));
}

/** Hints once at permissions; refuses a read that found nothing but problems (naming `dir` and the first). */
export function checkedRead(model: StoreModel, dir: string): StoreModel {
  hintPermissionOnce(model.warnings);
  const nothingRead = model.images.size === 0 && model.layers.size === 0 && model.containers.length === 0 && model.mounts.size === 0;
  if (nothingRead && model.warnings.length > 0) {
    const first = model.warnings[0];
    throw new StoreReadError(`nothing could be read (${model.warnings.length} problems, first: ${first.file}: ${first.message})`, { file: dir });
  }
  return model;
}
