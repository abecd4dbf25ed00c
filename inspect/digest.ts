// Content addressing: sha256 digests and Docker's ChainID rule (moby layer/layer.go CreateChainID).
import * as crypto from 'node:crypto';

export const SHA256_PREFIX = 'sha256:';

/** Node's one-shot hash (20.12 and later): a store's tens of thousands of tiny ChainID hashes take half createHash's time. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array) => string }).hash;

export function sha256Hex(data: string | Uint8Array): string {
  return oneShot ? oneShot('sha256', data) : crypto.createHash('sha256').update(data).digest('hex');
}

export function sha256Digest(data: string | Uint8Array): string {
  return SHA256_PREFIX + sha256Hex(data);
}

/** ChainID(1) = DiffID(1); ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n)). */
export function chainIdsOf(diffIds: readonly string[]): string[] {
  const chain: string[] = [];
  for (const diffId of diffIds) {
    const previous = chain[chain.length - 1];
    chain.push(previous === undefined ? diffId : sha256Digest(`${previous} ${diffId}`));
  }
  return chain;
}

export function chainIdOf(parentChainId: string | null, diffId: string): string {
  return parentChainId === null ? diffId : sha256Digest(`${parentChainId} ${diffId}`);
}

export function isSha256Digest(s: string): boolean {
  return /^sha256:[0-9a-f]{64}$/.test(s);
}

export function hexOf(id: string): string {
  return id.startsWith(SHA256_PREFIX) ? id.slice(SHA256_PREFIX.length) : id;
}

export function shortId(id: string): string {
  return hexOf(id).slice(0, 12);
}
