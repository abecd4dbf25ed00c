// strata history on synthetic stores: steps newest first, ids along the recorded parent chain, per-layer
// sizes, empty steps 0B, and docker's columns and flags.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { historyFormat, historyRow } from '../../cli/commands/history.js';
import { dockerTimeRFC3339 } from '../../cli/docker-format.js';
import { readStore } from '../../inspect/docker/read-store.js';
import { imageHistory } from '../../inspect/history.js';
import type { Warning } from '../../inspect/warnings.js';
import { runCli } from '../helpers/run-cli.js';
import { StoreBuilder, type BuiltLayer } from '../helpers/synthetic-store.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

interface Step {
  created?: string;
  created_by?: string;
  empty_layer?: boolean;
  comment?: string;
}

/** Writes an image config with exactly these history steps; returns its id. */
function writeImage(b: StoreBuilder, layers: BuiltLayer[], history: Step[], opts: { parent?: string; tags?: string[] } = {}): string {
  const bytes = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: history[history.length - 1]?.created ?? '2024-01-01T00:00:00Z',
    config: { Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history,
  });
  const hex = sha(bytes);
  writeFileSync(join(b.meta, 'imagedb', 'content', 'sha256', hex), bytes);
  if (opts.parent) {
    mkdirSync(join(b.meta, 'imagedb', 'metadata', 'sha256', hex), { recursive: true });
    writeFileSync(join(b.meta, 'imagedb', 'metadata', 'sha256', hex, 'parent'), opts.parent);
  }
  for (const tag of opts.tags ?? []) b.tag(tag, `sha256:${hex}`);
  return `sha256:${hex}`;
}

/** A legacy-builder chain: base (1 layer), then a child per step, app:1 on top; plus a BuildKit-like image without parents. */
function buildStore(root: string) {
  const b = new StoreBuilder(root, 'overlay2');
  const l1 = b.layer(null, { 'bin/sh': 'x'.repeat(1234) });
  const l2 = b.layer(l1, { 'app/one': '12345' });
  const baseSteps: Step[] = [{ created: '2024-01-01T00:00:00.9Z', created_by: '', comment: 'imported' }];
  const base = writeImage(b, [l1], baseSteps, { tags: ['base:1'] });
  const s2: Step[] = [...baseSteps, { created: '2024-01-02T00:00:00Z', created_by: '/bin/sh -c #(nop)  ENV A=b', empty_layer: true }];
  const mid = writeImage(b, [l1], s2, { parent: base });
  const s3: Step[] = [...s2, { created: '2024-01-03T00:00:00Z', created_by: "/bin/sh -c echo one two three four five six seven eight\tnine > /app/one" }];
  const app = writeImage(b, [l1, l2], s3, { parent: mid, tags: ['app:1'] });
  // No parent recorded (BuildKit, pulled images): only the top step gets an id.
  const bk = writeImage(b, [l1, l2], s3.map((s) => ({ ...s, comment: 'buildkit.dockerfile.v0' })), { tags: ['bk:1'] });
  // The parent is recorded but gone: the walk stops there.
  const orphan = writeImage(b, [l1, l2], [...s3, { created: '2024-01-04T00:00:00Z', created_by: 'CMD ["sh"]', empty_layer: true }], { parent: `sha256:${'e'.repeat(64)}`, tags: ['orphan:1'] });
  return { b, base, mid, app, bk, orphan, l1, l2 };
}

t.test('history: steps newest first, ids along the parent chain, sizes per layer', async (t) => {
  const s = buildStore(t.testdir());
  const model = readStore({ root: s.b.root, driver: 'overlay2' });
  const warnings: Warning[] = [];
  const app = imageHistory(model, model.images.get(s.app)!, warnings);
  t.same(warnings, []);
  t.same(app.map((e) => e.id), [s.app, s.mid, s.base], 'each step carries the image of that step');
  t.same(app.map((e) => e.size), [5, 0, 1234], 'layerdb sizes; the empty step is 0');
  t.same(app.map((e) => e.emptyLayer), [false, true, false]);
  t.same(app[0].tags, ['app:1']);
  t.equal(app[2].comment, 'imported');
  t.equal(app[0].chainId, s.l2.chainId);

  const bk = imageHistory(model, model.images.get(s.bk)!);
  t.same(bk.map((e) => e.id), [s.bk, null, null], 'without recorded parents the older steps are <missing>');
  const orphan = imageHistory(model, model.images.get(s.orphan)!);
  t.same(orphan.map((e) => e.id), [s.orphan, null, null, null], 'a recorded parent that is gone ends the walk');
});

t.test('history: a step whose layer is not in layerdb has an unknown size and a warning', async (t) => {
  const root = t.testdir();
  const b = new StoreBuilder(root, 'overlay2');
  const l1 = b.layer(null, { a: 'a' });
  const fake = { ...l1, diffId: `sha256:${'d'.repeat(64)}` };
  const id = writeImage(b, [l1, fake], [{ created_by: 'one' }, { created_by: 'two' }, { created_by: 'three' }]);
  const model = readStore({ root, driver: 'overlay2' });
  const warnings: Warning[] = [];
  const h = imageHistory(model, model.images.get(id)!, warnings);
  t.same(h.map((e) => e.size), [null, null, 1]);
  t.equal(warnings.length, 2, 'one warning for the missing layer, one for the step beyond the rootfs');
  t.match(warnings.map((w) => w.message).join('\n'), /not in layerdb[\s\S]*more non-empty steps/);
});

t.test('history rows as docker formats them', async (t) => {
  const entry = {
    id: `sha256:${'a'.repeat(64)}`,
    created: '2024-01-03T00:00:00.7Z',
    createdBy: '/bin/sh -c echo one two three four five six seven eight\tnine > /app/one',
    size: 1_234_567,
    emptyLayer: false,
    comment: 'c',
    chainId: null,
    tags: [],
  };
  const now = Date.parse('2024-01-03T02:00:00Z');
  const row = historyRow(entry, { trunc: true, human: true, now });
  t.equal(row.ID, 'aaaaaaaaaaaa');
  t.equal(row.CreatedBy, '/bin/sh -c echo one two three four five six …', '44 characters and an ellipsis');
  t.equal([...(row.CreatedBy as string)].length, 45);
  t.equal(row.Size, '1.23MB');
  t.equal(row.CreatedSince, '2 hours ago');
  t.equal(row.CreatedAt, dockerTimeRFC3339('2024-01-03T00:00:00Z'), 'whole seconds');
  const raw = historyRow({ ...entry, id: null }, { trunc: false, human: false, now });
  t.equal(raw.ID, '<missing>');
  t.equal(raw.Size, '1234567');
  t.equal(raw.CreatedSince, raw.CreatedAt, 'CreatedSince is the date when not human');
  t.equal(raw.CreatedBy, entry.createdBy.replace('\t', ' '), 'tabs become spaces, nothing cut');
  t.same(Object.keys(raw), ['Comment', 'CreatedAt', 'CreatedBy', 'CreatedSince', 'ID', 'Size'], "Docker's JSON key order");
  t.equal(historyRow({ ...entry, size: null }, { trunc: true, human: true, now }).Size, 'unknown');
});

t.test('historyFormat chooses the table as docker does', async (t) => {
  t.match(historyFormat(undefined, false, true), /CreatedSince/);
  t.match(historyFormat(undefined, false, false), /CreatedAt/);
  t.equal(historyFormat('table', true, true), '{{.ID}}');
  t.equal(historyFormat('{{.Size}}', true, true), '{{.Size}}', '-q does not override a custom format');
});

t.test('strata history on the command line', async (t) => {
  const s = buildStore(t.testdir());
  const root = s.b.root;
  const q = runCli(['history', '-q', 'bk:1', '--root', root]);
  t.equal(q.status, 0, q.stderr);
  t.equal(q.stdout, `${s.bk.slice(7, 19)}\n<missing>\n<missing>\n`);
  const table = runCli(['history', 'app:1', '--root', root]);
  t.equal(table.status, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  t.match(lines[0], /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
  t.equal(lines.length, 4);
  t.match(lines[1], new RegExp(`^${s.app.slice(7, 19)}\\s+\\S.* ago\\s+/bin/sh -c echo one two three four five six …\\s+5B\\s*$`));
  t.match(lines[2], /ENV A=b\s+0B/);
  t.match(lines[3], /1\.23kB\s+imported$/);
  const raw = runCli(['history', '--human=false', '--no-trunc', '--format', '{{.ID}}|{{.CreatedSince}}|{{.Size}}', 'app:1', '--root', root]);
  t.equal(raw.status, 0, raw.stderr);
  t.equal(raw.stdout.split('\n')[0], `${s.app}|${dockerTimeRFC3339('2024-01-03T00:00:00Z')}|5`);
  const nonHuman = runCli(['history', '-H=0', 'app:1', '--root', root]);
  t.match(nonHuman.stdout.split('\n')[0], /^IMAGE\s+CREATED AT\s+CREATED BY/);
  const json = JSON.parse(runCli(['history', '--json', 'bk:1', '--root', root]).stdout);
  t.same(json.map((e: { id: string | null }) => e.id), [s.bk, null, null]);
  t.same(Object.keys(json[0]).sort(), ['chainId', 'comment', 'created', 'createdBy', 'emptyLayer', 'id', 'size', 'tags']);
  const dj = runCli(['history', '--format', '{{json .}}', 'bk:1', '--root', root]);
  t.match(dj.stdout.split('\n')[1], /^\{"Comment":"buildkit.dockerfile.v0","CreatedAt":"[^"]+","CreatedBy":"[^"]*","CreatedSince":"[^"]+","ID":"\\u003cmissing\\u003e","Size":"0B"\}$/);
  const missing = runCli(['history', 'nope:1', '--root', root]);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /^strata: error: No such image: nope:1\n/);
  const badField = runCli(['history', '--format', '{{.Nope}}', 'app:1', '--root', root]);
  t.equal(badField.status, 1);
  t.match(badField.stderr, /can't evaluate field Nope/);
});
