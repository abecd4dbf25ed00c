// strata why: placeholder registered in cli/index.ts; its owner replaces this module.
import type { Argv } from 'yargs';

export const command = 'why';
export const describe = false as const;

export function builder(y: Argv) {
  return y;
}

export async function handler(): Promise<void> {
  process.stderr.write('strata: why is not built yet\n');
  process.exitCode = 1;
}
