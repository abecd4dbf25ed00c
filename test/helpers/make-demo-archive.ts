// Regenerates inspect/demo/demo-images.tar.b64, the sample images `strata demo` loads: built once with a
// real dockerd from text files only (no binaries), saved with `docker save`, kept base64-encoded so the
// repository holds text. Run: node --import=tsx test/helpers/make-demo-archive.ts
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startDockerd } from './dockerd.js';

const OUT = fileURLToPath(new URL('../../inspect/demo/demo-images.tar.b64', import.meta.url));

function files(dir: string, content: Record<string, string>): void {
  for (const [p, text] of Object.entries(content)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'strata-demo-'));
  const d = await startDockerd({ driver: 'overlay2' });
  try {
    const importTar = async (name: string, content: Record<string, string>) => {
      const dir = join(work, name.replace(/\W/g, '_'));
      files(dir, content);
      execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', dir, '-cf', `${dir}.tar`, '.']);
      await d.docker(['import', `${dir}.tar`, name]);
    };
    const build = async (tag: string, dockerfile: string, content: Record<string, string>) => {
      const ctx = join(work, `ctx-${tag.replace(/\W/g, '_')}`);
      files(ctx, { Dockerfile: dockerfile, ...content });
      await d.docker(['build', '-t', tag, ctx], { env: { DOCKER_BUILDKIT: '0' } });
    };
    await importTar('demo/base:1', { 'etc/os-release': 'NAME="strata demo base"\nVERSION=1\n', 'etc/motd': 'welcome to the strata demo\n', 'usr/share/doc/README': 'a tiny root filesystem made of text files\n' });
    await importTar('demo/other-base:1', { 'etc/os-release': 'NAME="another base"\n', 'srv/data.csv': 'a,b\n1,2\n' });
    await build('demo/app:1', 'FROM demo/base:1\nCOPY app /app\nCOPY config /etc/app\nLABEL demo=app\n', { 'app/main.txt': 'app v1 (first build)\n', 'config/app.conf': 'port=8080\n' });
    const oldApp = (await d.docker(['image', 'inspect', '--format', '{{.Id}}', 'demo/app:1'])).trim();
    await build('demo/app:1', 'FROM demo/base:1\nCOPY app /app\nCOPY config /etc/app\nLABEL demo=app\n', { 'app/main.txt': 'app v1 (rebuilt)\n', 'config/app.conf': 'port=8080\n' });
    await build('demo/app:2', 'FROM demo/app:1\nCOPY extra /app/extra\n', { 'extra/feature.txt': 'new in v2\n' });
    await build('demo/tools:1', 'FROM demo/base:1\nCOPY tools /usr/local/share/tools\n', { 'tools/list.txt': 'grep\nsed\nawk\n' });
    const tar = join(work, 'demo.tar');
    await d.docker(['save', '-o', tar, 'demo/base:1', 'demo/other-base:1', 'demo/app:1', 'demo/app:2', 'demo/tools:1', oldApp]);
    const b64 = readFileSync(tar).toString('base64').replace(/.{1,76}/g, '$&\n');
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, b64);
    console.log(`${OUT}: ${b64.length} bytes`);
  } finally {
    await d.remove();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
