// Runs the strata CLI from source as a user would, capturing stdout, stderr and the exit code.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));

export interface CliResult {
  stdout: string;
  stderr: string;
  status: number | null;
}

export function runCli(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, ['--import=tsx', CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 256 * 1024 * 1024,
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

export function cliJson<T = any>(args: string[], env: Record<string, string> = {}): T {
  const r = runCli([...args, '--json'], env);
  if (r.status !== 0) throw new Error(`strata ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
