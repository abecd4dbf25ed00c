// strata ps: docker ps, offline. (Being built for issue #13.)
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { StrataError } from '../../native/errors.js';
import { runCommand, type GlobalArgs } from '../output.js';

export const command = 'ps';
export const describe = 'docker ps, offline';

export function builder(y: Argv) {
  return y;
}

export async function handler(_args: ArgumentsCamelCase<GlobalArgs>): Promise<void> {
  await runCommand(async () => {
    throw new StrataError('not built yet');
  });
}
