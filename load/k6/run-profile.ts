/**
 * Runs a load profile with k6:
 *
 *   npm run load -- seed --profile zipf-1000 --database-url postgres://owner:…@host/db
 *   k6 run -e PROFILE=zipf-1000 -e BASE_URL=http://localhost:4000 load/k6/run-profile.ts
 *
 * Every request is tagged with its tenant, the tenant's strategy and the operation, so thresholds
 * and outputs can slice by them (`http_req_duration{tenant:zipf1000-t0}`).
 */
import { check, fail } from 'k6';
import http from 'k6/http';
import { Rate } from 'k6/metrics';
import type { Options } from 'k6/options';
import { OPERATION_NAMES, requestBody, tenantHeaders } from '../src/operations.ts';
import { tenantWeights, WeightedPicker, type Profile } from '../src/profile.ts';
import { parseSeedFile } from '../src/seed-format.ts';
import { loadConfig } from './lib/config.ts';
import { scenarioOf, thresholdsOf } from './lib/options.ts';

const config = loadConfig();
// open() belongs to the init context and resolves paths from this file.
const profile = JSON.parse(open(`../profiles/${config.profile}.json`)) as Profile;
const tenants = parseSeedFile(open(config.seedFile)).tenants.slice(0, profile.tenants.count);
if (tenants.length < profile.tenants.count) {
  throw new Error(`${config.seedFile} holds ${tenants.length} of the ${profile.tenants.count} tenants of ${profile.name}: run npm run load -- seed --profile ${profile.name}`);
}
const tenantPicker = new WeightedPicker(tenantWeights(profile.distribution, tenants.length));
const operationPicker = new WeightedPicker(OPERATION_NAMES.map((name) => profile.operations[name]));

/** Responses that are HTTP 200 yet carry GraphQL errors; http_req_failed does not see them. */
const graphqlErrors = new Rate('graphql_errors');

export const options: Options = {
  scenarios: { [profile.name]: scenarioOf(profile.arrival) },
  thresholds: thresholdsOf(profile, tenants),
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
};

/** Fails fast: no load against a server that is not ready. */
export function setup(): void {
  const response = http.get(`${config.baseUrl}/ready`, { tags: { name: 'ready' } });
  if (response.status !== 200) fail(`${config.baseUrl}/ready answered ${response.status}: the API is not ready, so no load was sent`);
}

export default function (): void {
  const tenant = tenants[tenantPicker.pick(Math.random())]!;
  const operation = OPERATION_NAMES[operationPicker.pick(Math.random())]!;
  const tags = { tenant: tenant.slug, strategy: tenant.strategy, operation, name: operation };
  const response = http.post(`${config.baseUrl}/graphql`, requestBody(operation, tenant, Math.random()), { headers: tenantHeaders(tenant), tags });
  const failed = response.status === 200 && String(response.body).includes('"errors"');
  graphqlErrors.add(failed, tags);
  check(response, { 'status is 200': (r) => r.status === 200, 'no GraphQL errors': () => !failed }, tags);
}
