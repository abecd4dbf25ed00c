import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Overlay2Driver } from '../../drivers/overlay2.js';

// layerPaths reads the link file itself (fewer calls than readStoreFileNoFollow): what it gives for each
// shape a layer directory can have.
t.test('overlay2 layerPaths: the directory, and l/<link> only when it points at ../<id>/diff', async (t) => {
  const root = t.testdir({});
  const home = join(root, 'overlay2');
  mkdirSync(join(home, 'l'), { recursive: true });
  const layer = (id: string, link: string | null, target = `../${id}/diff`) => {
    mkdirSync(join(home, id, 'diff'), { recursive: true });
    if (link !== null) writeFileSync(join(home, id, 'link'), link);
    return join(home, id);
  };
  const d = new Overlay2Driver(root);

  const ok = layer('a'.repeat(64), 'AAAAAAAAAAAAAAAAAAAAAAAAAA\n');
  symlinkSync(`../${'a'.repeat(64)}/diff`, join(home, 'l', 'AAAAAAAAAAAAAAAAAAAAAAAAAA'));
  t.same(d.layerPaths('a'.repeat(64)), [join(home, 'l', 'AAAAAAAAAAAAAAAAAAAAAAAAAA'), ok], 'link and directory');

  const wrong = layer('b'.repeat(64), 'BBBBBBBBBBBBBBBBBBBBBBBBBB');
  symlinkSync(`../${'a'.repeat(64)}/diff`, join(home, 'l', 'BBBBBBBBBBBBBBBBBBBBBBBBBB'));
  t.same(d.layerPaths('b'.repeat(64)), [wrong], 'a link pointing at another layer is not this one’s');

  t.same(d.layerPaths('c'.repeat(64)), [], 'no directory: nothing');
  const noLink = layer('d'.repeat(64), null);
  t.same(d.layerPaths('d'.repeat(64)), [noLink], 'no link file: the directory alone');

  const linkIsSymlink = layer('e'.repeat(64), null);
  writeFileSync(join(root, 'planted'), 'AAAAAAAAAAAAAAAAAAAAAAAAAA');
  symlinkSync(join(root, 'planted'), join(linkIsSymlink, 'link'));
  t.same(d.layerPaths('e'.repeat(64)), [linkIsSymlink], 'a link file that is a symlink is not followed');

  const linkIsDir = layer('f'.repeat(64), null);
  mkdirSync(join(linkIsDir, 'link'));
  t.same(d.layerPaths('f'.repeat(64)), [linkIsDir], 'a link that is a directory is not read');

  const empty = layer('g'.repeat(64), '');
  t.same(d.layerPaths('g'.repeat(64)), [empty], 'an empty link file names no link');

  writeFileSync(join(home, 'h'.repeat(64)), 'not a directory');
  t.same(d.layerPaths('h'.repeat(64)), [join(home, 'h'.repeat(64))], 'a file in the directory’s place is still that path');

  const long = layer('i'.repeat(64), `${' '.repeat(20000)}IIIIIIIIIIIIIIIIIIIIIIIIII${' '.repeat(20000)}`);
  symlinkSync(`../${'i'.repeat(64)}/diff`, join(home, 'l', 'IIIIIIIIIIIIIIIIIIIIIIIIII'));
  t.same(d.layerPaths('i'.repeat(64)), [join(home, 'l', 'IIIIIIIIIIIIIIIIIIIIIIIIII'), long], 'a long link file is read whole');
});

t.test('overlay2 layerPathsOf: what layerPaths gives, for every layer it answers', async (t) => {
  const root = t.testdir({});
  const home = join(root, 'overlay2');
  mkdirSync(join(home, 'l'), { recursive: true });
  const ids: string[] = [];
  const layer = (c: string, link: string | null) => {
    const id = c.repeat(64);
    ids.push(id);
    mkdirSync(join(home, id, 'diff'), { recursive: true });
    if (link !== null) writeFileSync(join(home, id, 'link'), link);
    return id;
  };
  const short = (c: string) => c.toUpperCase().repeat(26);
  const a = layer('a', `${short('a')}\n`);
  symlinkSync(`../${a}/diff`, join(home, 'l', short('a')));
  layer('b', short('b'));
  symlinkSync(`../${a}/diff`, join(home, 'l', short('b')));
  layer('c', short('c')); // its l/ entry is missing
  layer('d', short('d'));
  writeFileSync(join(home, 'l', short('d')), 'a file, not a link');
  layer('e', ''); // an empty link file
  layer('f', 'not/mountable');
  const noLink = layer('g', null);
  const linkIsDir = layer('h', null);
  mkdirSync(join(home, linkIsDir, 'link'));
  const long = layer('i', `${' '.repeat(9000)}${short('i')}${' '.repeat(9000)}`);
  symlinkSync(`../${long}/diff`, join(home, 'l', short('i')));
  ids.push('z'.repeat(64)); // no directory at all
  const d = new Overlay2Driver(root);
  const many = await d.layerPathsOf(ids);
  if (many.size === 0) return t.pass('no native helpers: every layer is left to layerPaths');
  for (const [id, paths] of many) t.same(paths, d.layerPaths(id), `${id.slice(0, 1)}: as layerPaths`);
  t.same([...many.keys()].map((id) => id[0]).sort(), ['a', 'b', 'c', 'd', 'e', 'f', 'i'], 'layers whose link file is a regular file are answered; the rest are left out');
  t.same(many.get(a), [join(home, 'l', short('a')), join(home, a)], 'link and directory');
  t.notOk(many.has(noLink) || many.has(linkIsDir), 'no link file, or a directory in its place: asked one by one');
});

t.test('overlay2 layerPathsOf: an l/ that is not a directory leaves the layers it would name to layerPaths', async (t) => {
  const root = t.testdir({});
  const home = join(root, 'overlay2');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'l'), 'not a directory');
  const id = 'a'.repeat(64);
  mkdirSync(join(home, id, 'diff'), { recursive: true });
  writeFileSync(join(home, id, 'link'), 'A'.repeat(26));
  const d = new Overlay2Driver(root);
  const many = await d.layerPathsOf([id]);
  t.notOk(many.has(id), 'not answered (and nothing thrown)');
  t.same(d.layerPaths(id), [join(home, id)], 'layerPaths: the directory alone');
});
