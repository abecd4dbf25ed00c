// Docker's daily habits (#13) judged by a real dockerd on vfs (test/helpers/habits-runner.ts); a file of
// its own so that tap runs it beside the overlay2 one.
import t from 'tap';
import { runHabits } from '../helpers/habits-runner.js';

if (process.env.STRATA_HABITS_DRIVERS) t.pass('STRATA_HABITS_DRIVERS chooses the drivers of habits.test.ts');
else runHabits(['vfs']);
