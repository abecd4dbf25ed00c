// Docker's modern store layout (Docker ≥ 1.10): metadata under image/<driver>/, containers under
// containers/, layer contents in the driver's own directory. The first StoreLayout.
import { detectDockerDriver } from '../detect-driver.js';
import type { StoreLayout } from '../store-layout.js';
import { readStore, readStoreAsync } from './read-store.js';

export const dockerLayout: StoreLayout = {
  name: 'docker',
  detect: detectDockerDriver,
  read: readStore,
  readAsync: readStoreAsync,
};
