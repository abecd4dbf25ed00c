// strata save: docker save, offline. (Being built for issue #13.)
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { StrataError } from '../../native/errors.js';
import { runCommand, type GlobalArgs } from '../output.js';

export const command = 'save';
export const describe = 'docker save, offline';

export function builder(y: Argv) {
  return y;
}

export async function handler(_args: ArgumentsCamelCase<GlobalArgs>): Promise<void> {
  await runCommand(async () => {
    throw new StrataError('not built yet');
  });
}
