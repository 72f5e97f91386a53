import { expect, test } from 'vitest';
import { roundDifferences, type RunSummary } from '../src/bench-runs.ts';

function run(requests: number, cpuMsPerRequest: number, postgresCpuMsPerRequest?: number): RunSummary {
  return {
    requests,
    errors: 0,
    errorsByCode: {},
    throughput: 0,
    latencyMs: { p50: 0, p95: 0, p99: 0, max: 0, mean: 0 },
    cpuMsPerRequest,
    ...(postgresCpuMsPerRequest === undefined ? {} : { postgresCpuMsPerRequest }),
  };
}

test("a round's difference weighs each run by its requests, so a short run cannot pull it as far as a long one", () => {
  const shared: [RunSummary, RunSummary][] = [
    [run(300, 5, 2.5), run(100, 9, 4.5)],
    [run(200, 6, 2.4), run(200, 6, 2.4)],
  ];
  const off: [RunSummary, RunSummary][] = [
    [run(200, 5, 2), run(200, 5, 2)],
    [run(100, 5, 2), run(300, 5, 2)],
  ];
  // Round 1: shared (300 x 2.5 + 100 x 4.5) / 400 = 3.0 against 2.0; round 2: 2.4 against 2.0.
  expect(roundDifferences(shared, off, (r) => r.postgresCpuMsPerRequest)).toEqual({ median: 0.7, rounds: [1, 0.4] });
  // Round 1: (300 x 5 + 100 x 9) / 400 = 6 against 5; round 2: 6 against 5.
  expect(roundDifferences(shared, off, (r) => r.cpuMsPerRequest)).toEqual({ median: 1, rounds: [1, 1] });
});
