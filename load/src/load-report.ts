import type { GeneratedLoad } from './load-generator.ts';
import type { Lane } from './load-plan.ts';
import { OPERATION_NAMES } from './operations.ts';
import type { PoolSample, PoolStatsSnapshot } from './pool-sampler.ts';
import type { Profile } from './profile.ts';
import type { SeededTenant } from './seed-format.ts';
import { percentile, round, summarize, type LatencySummary } from './stats.ts';

export interface GroupReport {
  requests: number;
  errors: number;
  /** Requests per second over the run. */
  throughput: number;
  latencyMs: LatencySummary;
}

export interface TenantReport extends GroupReport {
  index: number;
  slug: string;
  strategy: string;
}

export interface ThresholdResult {
  name: string;
  limit: number;
  actual: number;
  ok: boolean;
}

export interface PoolReport {
  samples: PoolSample[];
  budget: number;
  openMax: number;
  /** Client connections of the API in pg_stat_activity, most seen at once; only when the runner could look. */
  postgresConnectionsMax: number | undefined;
  /** Mean wait for a connection over the run (wait time / checkouts). */
  waitMsMean: number;
  /** Longest wait of any checkout, across pools. */
  waitMsMax: number;
  /**
   * The server keeps no wait-time histogram (only a sum and a max per pool and tenant), so a p99
   * of the waits themselves cannot be had: this is the p99 over tenants of each tenant's longest wait.
   */
  tenantWaitMsMaxP99: number;
  timeouts: number;
  shed: number;
  evictions: number;
}

export interface LoadReport {
  profile: string;
  description: string;
  startedAt: string;
  seconds: number;
  target: { origin: string; server: string };
  /** The autocannon instances the arrival model became (load-plan.ts). */
  lanes: Lane[];
  overall: GroupReport & { errorRate: number };
  errorsByCode: Record<string, number>;
  operations: Record<string, GroupReport>;
  strategies: Record<string, GroupReport>;
  /** Every tenant that was sent a request, by rank. */
  tenants: TenantReport[];
  timeline: { second: number; requests: number; errors: number; p50: number; p99: number }[];
  pool: PoolReport | undefined;
  server: { cpuMs: number; cpuMsPerRequest: number; rssMb: number } | undefined;
  thresholds: ThresholdResult[];
}

/** Tenants with fewer requests than this are left out of the per-tenant thresholds: their percentiles are noise. */
const MIN_REQUESTS_FOR_TENANT_THRESHOLD = 50;

export interface ReportInput {
  profile: Profile;
  startedAt: Date;
  target: { origin: string; server: string };
  lanes: Lane[];
  tenants: readonly SeededTenant[];
  load: GeneratedLoad;
  pool?: { samples: PoolSample[]; final: PoolStatsSnapshot | undefined; postgresConnectionsMax: number | undefined };
  server?: { cpuMs: number; rssBytes: number };
}

export function buildReport(input: ReportInput): LoadReport {
  const { samples, seconds } = input.load;
  const group = () => ({ latencies: [] as number[], requests: 0, errors: 0 });
  const overall = group();
  const byTenant = new Map<number, ReturnType<typeof group>>();
  const byOperation = new Map<string, ReturnType<typeof group>>();
  const byStrategy = new Map<string, ReturnType<typeof group>>();
  const bySecond = new Map<number, ReturnType<typeof group>>();
  const errorsByCode: Record<string, number> = {};
  const add = <K>(map: Map<K, ReturnType<typeof group>>, key: K) => {
    let entry = map.get(key);
    if (!entry) map.set(key, (entry = group()));
    return entry;
  };
  for (let i = 0; i < samples.size; i += 1) {
    const tenantIndex = samples.tenant[i]!;
    const failed = samples.code[i]! !== 0;
    if (failed) {
      const code = samples.codes[samples.code[i]!]!;
      errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
    }
    // A request lost with its connection has no latency to speak of; it counts as a request and an error.
    const answered = tenantIndex >= 0;
    const groups = [overall, add(bySecond, Math.floor(samples.at[i]! / 1000))];
    if (answered) {
      groups.push(
        add(byTenant, tenantIndex),
        add(byOperation, OPERATION_NAMES[samples.operation[i]!]!),
        add(byStrategy, input.tenants[tenantIndex]!.strategy),
      );
    }
    for (const entry of groups) {
      entry.requests += 1;
      if (failed) entry.errors += 1;
      if (answered) entry.latencies.push(samples.latencyMs[i]!);
    }
  }
  const report = (entry: ReturnType<typeof group>): GroupReport => ({
    requests: entry.requests,
    errors: entry.errors,
    throughput: round(entry.requests / seconds),
    latencyMs: summarize(entry.latencies),
  });
  const tenants = [...byTenant.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, entry]) => ({ index, slug: input.tenants[index]!.slug, strategy: input.tenants[index]!.strategy, ...report(entry) }));
  const overallReport = { ...report(overall), errorRate: overall.requests > 0 ? round(overall.errors / overall.requests, 5) : 0 };
  return {
    profile: input.profile.name,
    description: input.profile.description,
    startedAt: input.startedAt.toISOString(),
    seconds: round(seconds),
    target: input.target,
    lanes: input.lanes,
    overall: overallReport,
    errorsByCode,
    operations: Object.fromEntries([...byOperation].map(([name, entry]) => [name, report(entry)])),
    strategies: Object.fromEntries([...byStrategy].map(([name, entry]) => [name, report(entry)])),
    tenants,
    timeline: [...bySecond.entries()]
      .sort(([a], [b]) => a - b)
      .map(([second, entry]) => {
        const sorted = entry.latencies.sort((a, b) => a - b);
        return { second, requests: entry.requests, errors: entry.errors, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)) };
      }),
    pool: input.pool && poolReport(input.pool),
    server: input.server && {
      cpuMs: round(input.server.cpuMs),
      cpuMsPerRequest: overall.requests > 0 ? round(input.server.cpuMs / overall.requests, 3) : 0,
      rssMb: round(input.server.rssBytes / 2 ** 20, 1),
    },
    thresholds: thresholds(input.profile, overallReport, tenants),
  };
}

function poolReport(pool: NonNullable<ReportInput['pool']>): PoolReport | undefined {
  const { samples, final } = pool;
  if (samples.length === 0 && !final) return undefined;
  const first = samples[0];
  const acquired = final ? final.pools.reduce((sum, entry) => sum + entry.acquired, 0) : 0;
  const waited = final ? final.pools.reduce((sum, entry) => sum + entry.waitMsSum, 0) : 0;
  // Pools evicted during the run take their counters with them, so the mean uses what is left.
  const deltaAcquired = acquired - (first?.acquired ?? 0);
  const deltaWaited = waited - (first?.waitMsSum ?? 0);
  const tenantMaxima = (final?.tenants ?? []).map((tenant) => tenant.waitMsMax).sort((a, b) => a - b);
  return {
    samples,
    budget: Math.max(0, ...samples.map((sample) => sample.budget), ...(final?.hosts.map((host) => host.budget) ?? [])),
    openMax: Math.max(0, ...samples.map((sample) => sample.open)),
    postgresConnectionsMax: pool.postgresConnectionsMax,
    waitMsMean: deltaAcquired > 0 && deltaWaited >= 0 ? round(deltaWaited / deltaAcquired, 3) : 0,
    waitMsMax: round(Math.max(0, ...(final?.pools.map((entry) => entry.waitMsMax) ?? []))),
    tenantWaitMsMaxP99: round(percentile(tenantMaxima, 99)),
    timeouts: (final?.tenants ?? []).reduce((sum, tenant) => sum + tenant.timeouts, 0),
    shed: (final?.tenants ?? []).reduce((sum, tenant) => sum + tenant.shed, 0),
    evictions: final?.hosts.reduce((sum, host) => sum + host.evictions, 0) ?? 0,
  };
}

/** The profile's thresholds, as k6 would judge them: overall, and for every tenant with enough requests (if any). */
function thresholds(profile: Profile, overall: LoadReport['overall'], tenants: TenantReport[]): ThresholdResult[] {
  const limits = profile.thresholds;
  const judged = tenants.filter((tenant) => tenant.requests >= MIN_REQUESTS_FOR_TENANT_THRESHOLD);
  const worst = (key: 'p95' | 'p99') => Math.max(0, ...judged.map((tenant) => tenant.latencyMs[key]));
  const results = [
    { name: 'http_req_duration p(95) ms', limit: limits.p95Ms, actual: overall.latencyMs.p95, ok: overall.latencyMs.p95 < limits.p95Ms },
    { name: 'http_req_duration p(99) ms', limit: limits.p99Ms, actual: overall.latencyMs.p99, ok: overall.latencyMs.p99 < limits.p99Ms },
    { name: 'errors rate', limit: limits.errorRate, actual: overall.errorRate, ok: overall.errorRate <= limits.errorRate },
  ];
  if (judged.length === 0) return results;
  const among = `${judged.length} tenants with ≥ ${MIN_REQUESTS_FOR_TENANT_THRESHOLD} requests`;
  return [
    ...results,
    { name: `worst tenant p(95) ms (${among})`, limit: limits.p95Ms, actual: worst('p95'), ok: worst('p95') < limits.p95Ms },
    { name: `worst tenant p(99) ms (${among})`, limit: limits.p99Ms, actual: worst('p99'), ok: worst('p99') < limits.p99Ms },
  ];
}
