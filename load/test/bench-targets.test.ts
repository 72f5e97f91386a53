import { expect, test } from 'vitest';
import { checkTargets, targetsSummary, type TargetFigures } from '../src/bench-targets.ts';

const onTarget: TargetFigures = {
  tenancyOverhead: 0.95,
  noisyNeighbour: 1.5,
  manyTenants: { errors: 0, postgresConnectionsMax: 40, budget: 40 },
};

test('a run exactly on every bound meets every target', () => {
  const targets = checkTargets(onTarget);
  expect(Object.values(targets).map((target) => target.met)).toEqual([true, true, true, true]);
  expect(targetsSummary(targets)).toBe('Targets: all 4 met.');
});

test('each figure past its bound misses its own target, and the summary names it with the figure it had', () => {
  const targets = checkTargets({
    tenancyOverhead: 0.949,
    noisyNeighbour: 1.51,
    manyTenants: { errors: 1, postgresConnectionsMax: 41, budget: 40 },
  });
  expect(Object.values(targets).map((target) => target.met)).toEqual([false, false, false, false]);
  expect(targetsSummary(targets)).toBe(
    'Targets missed: 4 of 4: item 1 tenancy overhead, shared / off 0.949 (wanted >= 0.95); ' +
      'item 4 noisy neighbour, quiet p99 with / without 1.51 (wanted <= 1.5); ' +
      'item 5 connections Postgres saw 41 (wanted <= 40); item 5 errors 1 (wanted = 0).',
  );
});

test('connections that Postgres was never seen to hold count as a missed target, not a met one', () => {
  const targets = checkTargets({ ...onTarget, manyTenants: { ...onTarget.manyTenants, postgresConnectionsMax: undefined } });
  expect(targets.manyTenantsConnections.met).toBe(false);
  expect(targetsSummary(targets)).toBe('Targets missed: 1 of 4: item 5 connections Postgres saw not measured (wanted <= 40).');
});
