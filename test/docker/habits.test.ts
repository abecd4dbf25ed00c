// Docker's daily habits (#13) judged by a real dockerd on overlay2 (test/helpers/habits-runner.ts).
import { runHabits } from '../helpers/habits-runner.js';
import type { StorageDriverName } from '../helpers/dockerd.js';

runHabits((process.env.STRATA_HABITS_DRIVERS?.split(',').filter(Boolean) ?? ['overlay2']) as StorageDriverName[]);
