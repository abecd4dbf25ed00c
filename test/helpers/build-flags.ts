// The stand-ins and defines of package.json's build script, for tests that bundle the CLI their own way:
// a bundle without them fails on packages an ES module bundle cannot carry (react-devtools-core, signal-exit 3).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function buildScriptFlags(repo: string): { alias: Record<string, string>; define: Record<string, string> } {
  const script: string = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).scripts.build;
  const alias: Record<string, string> = {};
  const define: Record<string, string> = {};
  for (const m of script.matchAll(/--alias:([^=\s]+)=(\S+)/g)) alias[m[1]] = join(repo, m[2]);
  // The shell removes one level of quotes: --define:K='"v"' reaches esbuild as K="v".
  for (const m of script.matchAll(/--define:([^=\s]+)=('[^']*'|\S+)/g)) define[m[1]] = m[2].replace(/^'(.*)'$/, '$1');
  return { alias, define };
}
