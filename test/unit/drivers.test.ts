import { Readable } from 'node:stream';
import t from 'tap';
import { DRIVERS } from '../../drivers/index.js';
import { driverConformance } from '../drivers/conformance.js';
import { FIXTURES } from '../drivers/fixtures.js';
import { LAYERS, specLayerTar } from '../drivers/layer-spec.js';

for (const factory of DRIVERS) {
  t.test(`${factory.name}: layers it applied itself pass the conformance suite`, async (t) => {
    const root = t.testdir({});
    const driver = factory.open(root);
    if (!driver.capabilities.writable) {
      // A read-only driver (devicemapper) runs the read cases only, on layers laid out as dockerd left them.
      await t.rejects(driver.apply({ cacheId: 'x'.repeat(64), parentCacheId: null }, Readable.from([specLayerTar(0)])), { message: /read-only/ }, 'apply is refused in one line');
      return;
    }
    const cacheIds: string[] = [];
    for (let i = 0; i < LAYERS.length; i++) {
      const cacheId = `applied${i}`.padEnd(64, '0');
      await driver.apply({ cacheId, parentCacheId: cacheIds[i - 1] ?? null }, Readable.from([specLayerTar(i)]));
      cacheIds.push(cacheId);
    }
    await driverConformance(t, factory.open(root), { root, cacheIds });
  });

  t.test(`${factory.name}: and so they do on the JavaScript paths alone (STRATA_NATIVE=0)`, async (t) => {
    const fixture = FIXTURES[factory.name];
    if (!fixture) return t.pass('no fixture (reported above)');
    const root = t.testdir({});
    process.env.STRATA_NATIVE = '0';
    const driver = factory.open(root);
    try {
      await driverConformance(t, driver, fixture(root));
    } finally {
      driver.close();
      delete process.env.STRATA_NATIVE;
    }
  });

  t.test(`${factory.name}: layers laid out as dockerd leaves them pass the conformance suite`, async (t) => {
    const fixture = FIXTURES[factory.name];
    if (!fixture) {
      t.fail(`no fixture lays out layers for ${factory.name}: a driver is done when this suite passes on it`);
      return;
    }
    const root = t.testdir({});
    const driver = factory.open(root);
    try {
      await driverConformance(t, driver, fixture(root));
    } finally {
      driver.close();
    }
  });
}
