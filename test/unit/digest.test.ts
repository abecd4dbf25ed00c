import { execFileSync } from 'node:child_process';
import t from 'tap';
import { chainIdOf, chainIdsOf, hexOf, shortId } from '../../inspect/digest.js';

// The expected values come from sha256sum, not from the code under test.
const sha256sum = (s: string) => 'sha256:' + execFileSync('sha256sum', { input: s }).toString().split(' ')[0];

t.test('ChainID of a base layer is its DiffID, then sha256(parent + " " + diff)', async (t) => {
  const d1 = 'sha256:' + 'a'.repeat(64);
  const d2 = 'sha256:' + 'b'.repeat(64);
  const d3 = 'sha256:' + 'c'.repeat(64);
  const c2 = sha256sum(`${d1} ${d2}`);
  const c3 = sha256sum(`${c2} ${d3}`);
  t.same(chainIdsOf([d1, d2, d3]), [d1, c2, c3]);
  t.equal(chainIdOf(null, d1), d1);
  t.equal(chainIdOf(c2, d3), c3);
  t.same(chainIdsOf([]), []);
});

t.test('id helpers', async (t) => {
  t.equal(hexOf('sha256:abc'), 'abc');
  t.equal(shortId('sha256:0123456789abcdef'), '0123456789ab');
});
