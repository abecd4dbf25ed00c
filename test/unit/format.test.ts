import t from 'tap';
import { containerStatus, goFormatG, humanDuration, humanSize, humanSizeSpaced, table } from '../../cli/format.js';

t.test('sizes like docker images (decimal units, 3 significant digits, Go %g)', async (t) => {
  t.equal(humanSize(0), '0B');
  t.equal(humanSize(999), '999B');
  t.equal(humanSize(1982319), '1.98MB', 'what docker printed for the busybox import');
  t.equal(humanSize(1_000_000), '1MB');
  t.equal(humanSize(999_999), '1e+03kB', "Go's %.3g switches to an exponent, and so does docker");
  t.equal(humanSize(5_300_000_000), '5.3GB');
  t.equal(humanSize(1982319, 4), '1.982MB');
  t.equal(humanSizeSpaced(1982319), '1.982 MB');
  t.equal(goFormatG(0.0001234, 3), '0.000123');
  t.equal(goFormatG(123.456, 4), '123.5');
});

t.test('durations like docker', async (t) => {
  t.equal(humanDuration(500), 'Less than a second');
  t.equal(humanDuration(1000), '1 second');
  t.equal(humanDuration(59_000), '59 seconds');
  t.equal(humanDuration(61_000), 'About a minute');
  t.equal(humanDuration(45 * 60_000), '45 minutes');
  t.equal(humanDuration(80 * 60_000), 'About an hour');
  t.equal(humanDuration(5 * 3_600_000), '5 hours');
  t.equal(humanDuration(3 * 86_400_000), '3 days');
  t.equal(humanDuration(20 * 86_400_000), '2 weeks');
  t.equal(humanDuration(90 * 86_400_000), '3 months');
  t.equal(humanDuration(800 * 86_400_000), '2 years');
});

t.test('status column', async (t) => {
  const now = Date.parse('2024-02-01T12:00:00Z');
  t.equal(containerStatus({ state: 'created', exitCode: 0, startedAt: '0001-01-01T00:00:00Z', finishedAt: '0001-01-01T00:00:00Z' }, now), 'Created');
  t.equal(containerStatus({ state: 'exited', exitCode: 3, startedAt: '2024-02-01T10:00:00Z', finishedAt: '2024-02-01T11:00:00Z' }, now), 'Exited (3) About an hour ago');
  t.equal(containerStatus({ state: 'running', exitCode: 0, startedAt: '2024-02-01T11:58:00Z', finishedAt: '' }, now), 'Up 2 minutes');
});

t.test('tabwriter columns: min width 10, padding 3', async (t) => {
  t.equal(table(['A', 'LONGER HEADER'], [['x', 'y'], ['abcdefghijkl', 'z']]), 'A              LONGER HEADER\nx              y\nabcdefghijkl   z\n');
});
