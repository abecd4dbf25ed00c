// One synthetic overlay2/vfs store shared by the unit tests: built images with recorded parents,
// a dangling rebuild, pulled images sharing base layers, a digest-only image, three containers,
// a leaked layer and an orphaned driver directory. Sizes are chosen so every sum is distinct.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreBuilder, type BuiltLayer, type DriverName } from './synthetic-store.js';

const bytes = (n: number, ch = 'x') => ch.repeat(n);

export interface SampleStore {
  root: string;
  builder: StoreBuilder;
  layers: Record<'L1' | 'L2' | 'L3' | 'L4' | 'M1' | 'L5' | 'L6' | 'L7' | 'K1' | 'Z', BuiltLayer>;
  images: Record<'base' | 'i1' | 'i2' | 'app' | 'old' | 'p1' | 'p2' | 'p3' | 'x', string>;
  containers: Record<'c1' | 'c2' | 'c3', string>;
  orphanDir: string;
}

export function buildSampleStore(root: string, driver: DriverName = 'overlay2'): SampleStore {
  const b = new StoreBuilder(root, driver);
  const L1 = b.layer(null, { 'bin/sh': bytes(1000) }, 'L1');
  const L2 = b.layer(L1, { 'etc/app.conf': bytes(200) }, 'L2');
  const L3 = b.layer(L2, { 'app/v2': bytes(30) }, 'L3');
  const L4 = b.layer(L2, { 'app/v1': bytes(4) }, 'L4');
  const M1 = b.layer(null, { 'usr/lib/libc': bytes(5000) }, 'M1');
  const L5 = b.layer(M1, { 'usr/bin/python': bytes(600) }, 'L5');
  const L6 = b.layer(L5, { 'usr/lib/extra': bytes(70) }, 'L6');
  const L7 = b.layer(M1, { 'usr/bin/ruby': bytes(8) }, 'L7');
  const K1 = b.layer(null, { 'k': bytes(9) }, 'K1');
  const Z = b.layer(null, { 'z': bytes(77) }, 'Z');

  const base = b.image({ layers: [L1], tags: ['base:1', 'base:latest'], created: '2024-01-01T00:00:00Z' });
  const i1 = b.image({ layers: [L1, L2], parent: base, created: '2024-01-02T00:00:00Z' });
  const i2 = b.image({ layers: [L1, L2], parent: i1, created: '2024-01-02T00:00:01Z', comment: 'ENV step' });
  const old = b.image({ layers: [L1, L2, L4], parent: i2, created: '2024-01-03T00:00:00Z' });
  const app = b.image({ layers: [L1, L2, L3], parent: i2, tags: ['app:1', 'example.com/team/app:v1'], created: '2024-01-04T00:00:00Z' });
  const p1 = b.image({ layers: [M1, L5], tags: ['python:3'], created: '2023-06-01T00:00:00Z' });
  const p2 = b.image({ layers: [M1, L5, L6], tags: ['python:3-full'], created: '2023-06-02T00:00:00Z' });
  const p3 = b.image({ layers: [M1, L7], tags: ['ruby:3'], created: '2023-06-03T00:00:00Z' });
  const x = b.image({ layers: [K1], digests: [`tool@sha256:${'d'.repeat(64)}`], created: '2023-01-01T00:00:00Z' });

  const c1 = b.container({ image: app, name: 'web', state: 'running', files: { 'tmp/a': bytes(10) }, imageRef: 'app:1' });
  const c2 = b.container({ image: old, name: 'old-job', state: 'exited', files: { 'tmp/b': bytes(100) }, imageRef: 'app:1' });
  const c3 = b.container({ image: base, name: 'idle', state: 'created', imageRef: 'base' });

  const orphanDir = driver === 'overlay2' ? join(root, 'overlay2', 'f'.repeat(64)) : join(root, 'vfs', 'dir', 'f'.repeat(64));
  mkdirSync(join(orphanDir, driver === 'overlay2' ? 'diff' : ''), { recursive: true });
  writeFileSync(join(orphanDir, driver === 'overlay2' ? 'diff/leftover' : 'leftover'), bytes(50));

  return {
    root,
    builder: b,
    layers: { L1, L2, L3, L4, M1, L5, L6, L7, K1, Z },
    images: { base, i1, i2, app, old, p1, p2, p3, x },
    containers: { c1, c2, c3 },
    orphanDir,
  };
}
