import type { Options, Scenario } from 'k6/options';
import type { Arrival, Profile, Stage } from '../../src/profile.ts';
import { tenantWeights } from '../../src/profile.ts';
import type { SeededTenant } from '../../src/seed-format.ts';

/**
 * Tenants that get thresholds of their own: k6 keeps a sub-metric per tagged threshold, and five
 * thousand of them would cost more than the test. The busiest ones by the profile's distribution
 * (every tenant of a small profile; the noisy one and its neighbours) are the ones to watch; each
 * strategy gets thresholds too.
 */
const TENANT_THRESHOLDS = 20;

const stages = (list: Stage[]) => list.map((stage) => ({ duration: `${stage.durationSeconds}s`, target: stage.target }));

/** The k6 executor of a profile's arrival model. */
export function scenarioOf(arrival: Arrival): Scenario {
  switch (arrival.kind) {
    case 'constant-arrival-rate':
      return {
        executor: 'constant-arrival-rate',
        rate: arrival.rate,
        timeUnit: '1s',
        duration: `${arrival.durationSeconds}s`,
        preAllocatedVUs: arrival.vus,
        maxVUs: arrival.vus,
      };
    case 'ramping-vus':
      return { executor: 'ramping-vus', startVUs: arrival.startVUs, stages: stages(arrival.stages), gracefulRampDown: '5s' };
    case 'ramping-arrival-rate':
      return {
        executor: 'ramping-arrival-rate',
        startRate: arrival.startRate,
        timeUnit: '1s',
        preAllocatedVUs: arrival.vus,
        maxVUs: arrival.vus,
        stages: stages(arrival.stages),
      };
  }
}

/** p95/p99 overall, per strategy and per busiest tenant; error rates of HTTP and of GraphQL. */
export function thresholdsOf(profile: Profile, tenants: readonly SeededTenant[]): NonNullable<Options['thresholds']> {
  const { p95Ms, p99Ms, errorRate } = profile.thresholds;
  const latency = [`p(95)<${p95Ms}`, `p(99)<${p99Ms}`];
  const weights = tenantWeights(profile.distribution, tenants.length);
  const busiest = tenants
    .map((tenant, index) => ({ tenant, weight: weights[index]! }))
    .sort((a, b) => b.weight - a.weight)
    .slice(0, TENANT_THRESHOLDS);
  const thresholds: NonNullable<Options['thresholds']> = {
    http_req_duration: latency,
    http_req_failed: [`rate<=${errorRate}`],
    graphql_errors: [`rate<=${errorRate}`],
  };
  for (const strategy of new Set(tenants.map((tenant) => tenant.strategy))) thresholds[`http_req_duration{strategy:${strategy}}`] = latency;
  for (const { tenant } of busiest) thresholds[`http_req_duration{tenant:${tenant.slug}}`] = latency;
  return thresholds;
}
