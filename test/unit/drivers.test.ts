import t from 'tap';
import { DRIVERS } from '../../drivers/index.js';
import { driverConformance } from '../drivers/conformance.js';
import { FIXTURES } from '../drivers/fixtures.js';

for (const factory of DRIVERS) {
  t.test(`${factory.name} passes the driver conformance suite`, async (t) => {
    const fixture = FIXTURES[factory.name];
    if (!fixture) {
      t.fail(`no fixture lays out layers for ${factory.name}: a driver is done when this suite passes on it`);
      return;
    }
    const root = t.testdir({});
    const built = fixture(root);
    await driverConformance(t, factory.open(root), built);
  });
}
