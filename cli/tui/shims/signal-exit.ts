// Stands in for signal-exit 3 inside the bundle (esbuild --alias in package.json's build): ink and
// restore-cursor import that CommonJS version, whose require('assert') an ES module bundle cannot make.
// signal-exit 4, an ES module, has the same call (a callback and { alwaysLast }, returning the remover).
import { onExit } from '../../../node_modules/signal-exit/dist/mjs/index.js';

export default onExit;
