/**
 * The measurements of `npm run bench`, one function per item of the benchmark (see bench.ts).
 */
import { startRoundTripProxy } from '@tenant-app/db/testing';
import { latenciesOf, measuredRun, mirroredRounds, NESTED_READ_ONLY, roundDifferences, roundRatios, timedRequest, type RunSummary } from './bench-runs.ts';
import type { BenchCluster } from './bench-cluster.ts';
import { generateLoad } from './load-generator.ts';
import { steadyLanes } from './load-plan.ts';
import { NESTED_READ, LIST } from './operations.ts';
import { readPoolStats, startPoolSampler } from './pool-sampler.ts';
import type { SeededTenant } from './seed-format.ts';
import type { ServerProcessConfig } from './server-process.ts';
import { startServerChild, type ServerChild } from './server-child.ts';
import { startOtlpSink } from './otlp-sink.ts';
import { median, percentile, round, summarize } from './stats.ts';

export interface BenchSettings {
  /** A/B rounds (`mirroredRounds`). */
  rounds: number;
  /** A variant's measured time in an A/B round; the noisy neighbour's window. */
  seconds: number;
  /** Requests in flight in the closed-model runs. */
  connections: number;
  logDir: string;
  log: (line: string) => void;
}

export type Variant = 'off' | 'shared' | 'schema' | 'database';
const VARIANTS: readonly Variant[] = ['off', 'shared', 'schema', 'database'];

/** The benchmark's server: the defaults of `npm start` (pool 10, budget 40, acquire timeout 5 s, tenant cache 5 s). */
export function serverConfig(cluster: BenchCluster, overrides: Partial<ServerProcessConfig> = {}): ServerProcessConfig {
  return {
    runtimeUrl: cluster.postgres.runtimeUrl,
    ownerUrl: cluster.postgres.ownerUrl,
    poolMax: 10,
    budget: 40,
    acquireTimeoutMs: 5_000,
    registryTtlMs: 5_000,
    tenancyOff: { slugPrefix: 'bench-off-', schema: cluster.tenancyOffSchema },
    logLevel: 'warn',
    ...overrides,
  };
}

function variantTenants(cluster: BenchCluster, variant: Variant): SeededTenant[] {
  return { off: cluster.tenants['bench-off'], shared: cluster.tenants['bench-shared'], schema: cluster.tenants['bench-schema'], database: cluster.tenants['bench-db'] }[variant];
}

export interface ThroughputResult {
  /** Per variant, each round's two runs. */
  runs: Record<Variant, [RunSummary, RunSummary][]>;
  /** Median over rounds of the per-round ratio, and every round's ratio. */
  ratios: Record<'sharedVsOff' | 'schemaVsShared' | 'databaseVsShared', { median: number; rounds: number[] }>;
  /**
   * What the tenancy itself costs, in CPU ms per nested read, shared minus off, per round: item 1's
   * ratio falls whenever the rest of a request gets cheaper, this does not.
   */
  tenancyCost: Record<'postgresCpuMs' | 'serverCpuMs', { median: number; rounds: number[] }>;
  /** Medians over every run of the variant. */
  medians: Record<Variant, { throughput: number; p99: number; cpuMsPerRequest: number; postgresCpuMsPerRequest: number }>;
}

/**
 * Items 1–3 (CPU): the nested read at full speed (closed model) on each variant, ten tenants each,
 * on one server process. Every variant is warmed up first; then the variants run side by side in
 * mirrored rounds (`mirroredRounds`), and a ratio is taken within each round, then the median over
 * rounds.
 */
export async function throughputItems(server: ServerChild, cluster: BenchCluster, settings: BenchSettings): Promise<ThroughputResult> {
  for (const variant of VARIANTS) {
    settings.log(`warming up ${variant}`);
    await measuredRun(server, { tenants: variantTenants(cluster, variant), lanes: steadyLanes(3, settings.connections) });
  }
  const runs = await mirroredRounds(
    VARIANTS,
    settings.rounds,
    (variant, seconds) =>
      measuredRun(server, {
        tenants: variantTenants(cluster, variant),
        lanes: steadyLanes(seconds, settings.connections),
        postgresDataDir: cluster.postgres.dataDir,
      }),
    settings.seconds,
    settings.log,
  );
  const medianOf = (variant: Variant, figure: (run: RunSummary) => number) => round(median(runs[variant].flat().map(figure)), 3);
  const medians = Object.fromEntries(
    VARIANTS.map((variant) => [
      variant,
      {
        throughput: medianOf(variant, (run) => run.throughput),
        p99: medianOf(variant, (run) => run.latencyMs.p99),
        cpuMsPerRequest: medianOf(variant, (run) => run.cpuMsPerRequest),
        postgresCpuMsPerRequest: medianOf(variant, (run) => run.postgresCpuMsPerRequest ?? 0),
      },
    ]),
  ) as ThroughputResult['medians'];
  return {
    runs,
    ratios: {
      sharedVsOff: roundRatios(runs.shared, runs.off),
      schemaVsShared: roundRatios(runs.schema, runs.shared),
      databaseVsShared: roundRatios(runs.database, runs.shared),
    },
    tenancyCost: {
      postgresCpuMs: roundDifferences(runs.shared, runs.off, (run) => run.postgresCpuMsPerRequest),
      serverCpuMs: roundDifferences(runs.shared, runs.off, (run) => run.cpuMsPerRequest),
    },
    medians,
  };
}

export interface RoundTripResult {
  /** Per variant: client round trips and SQL statements per nested read, tenant binding included. */
  perRequest: Record<Variant, { roundTrips: number; statements: number; statementTexts: string[] }>;
}

/**
 * Item 3: round trips and statements of one nested read, counted by a TCP proxy between the
 * server and Postgres (the test suite's, from '@tenant-app/db/testing'), on a server of its own so
 * that the proxy never slows the throughput runs. Every pool, database tenants' too, goes through it.
 */
export async function roundTripItem(cluster: BenchCluster, settings: BenchSettings): Promise<RoundTripResult> {
  // Latency on every answer makes statements that are sent without waiting land in one turn however
  // a busy machine schedules the writes (as in dataloader-batching.test.ts); it slows only this probe.
  const proxy = await startRoundTripProxy(cluster.postgres.runtimeUrl, { latencyMs: 10 });
  // A tenant cache that outlives the measurement, so that no control-plane lookup falls into it.
  const server = await startServerChild(serverConfig(cluster, { proxyPort: Number(new URL(proxy.url).port), registryTtlMs: 600_000 }), {
    logFile: `${settings.logDir}/bench-round-trips-server.log`,
  });
  const body = JSON.stringify({ query: NESTED_READ });
  const perRequest = {} as RoundTripResult['perRequest'];
  const requests = 5;
  try {
    for (const variant of VARIANTS) {
      const tenant = variantTenants(cluster, variant)[0]!;
      // The first requests resolve the tenant and open connections; neither belongs to a request's cost.
      for (let i = 0; i < 2; i += 1) await timedRequest(server.origin, tenant, body);
      proxy.reset();
      for (let i = 0; i < requests; i += 1) await timedRequest(server.origin, tenant, body);
      const turns = proxy.tenantTurns();
      const statements = turns.flat();
      perRequest[variant] = {
        roundTrips: round(turns.length / requests, 2),
        statements: round(statements.length / requests, 2),
        statementTexts: statements.slice(0, statements.length / requests),
      };
      settings.log(`round trips ${variant}: ${perRequest[variant].roundTrips} round trips, ${perRequest[variant].statements} statements per request`);
    }
  } finally {
    await server.close();
    await proxy.close();
  }
  return { perRequest };
}

export interface NoisyResult {
  quietRatePerTenant: number;
  noisyRate: number;
  /** The load with the noisy tenant as a share of the capacity measured in item 1 (aimed at 0.5). */
  offeredShareOfCapacity: number;
  /** Seconds of each window; the noisy tenant is off, then on, `pairs` times. */
  windowSeconds: number;
  pairs: number;
  /** The quiet tenants' requests in the windows without / with the noisy tenant, all pairs pooled. */
  quietWithout: { p50: number; p99: number };
  quietWith: { p50: number; p99: number };
  /** Median over pairs of windows of (p99 with / p99 without), as item 1 takes the median over rounds. */
  ratio: number;
  /** quietWith.p99 / quietWithout.p99: one hiccup of the machine in one window moves it. */
  pooledRatio: number;
  /** The ratio of each off/on pair of windows. */
  pairRatios: number[];
  /** The noisy tenant's own answered requests: fair waiting makes it queue behind the others. */
  noisy: { requests: number; p99: number; errors: number; errorsByCode: Record<string, number> };
  quietErrors: number;
}

/** Requests that end this soon after a window starts are left out: lanes start and stop staggered over a second. */
const WINDOW_MARGIN_SECONDS = 1;

/**
 * Item 4: nine quiet shared tenants at a steady rate throughout; a tenth tenant sends ten times a
 * quiet tenant's rate (to within a request per second) in every other window (off, on, off, on,
 * …). Comparing windows that alternate every few seconds, rather than whole runs one after the
 * other, keeps a change in the machine's background load from passing for the neighbour's effect. The ratio is the median over pairs of
 * windows: a p99 is made of a handful of requests, and on a shared machine one stall of a few
 * hundred milliseconds in one window decided the pooled figure: four runs of the same code, 8 pairs
 * each, gave pooled ratios of 0.28, 1.97, 0.41 and 1.21, and pair medians of 1.37, 1.39, 1.18 and
 * 1.25. It runs twice as many pairs as `rounds`. The rates are set from the capacity
 * measured in item 1, so that with the noisy tenant the server is offered half of it: the question
 * is what a neighbour does to others' latency, not what happens past saturation (the spike profile
 * asks that).
 */
export async function noisyNeighbourItem(
  server: ServerChild,
  cluster: BenchCluster,
  capacity: number,
  settings: BenchSettings,
): Promise<NoisyResult> {
  const [noisy, ...quiet] = cluster.tenants['bench-shared'];
  // Whole requests per second for the nine quiet tenants together and for the noisy one, not per
  // quiet tenant: a quiet tenant's rate rounded to a whole number and multiplied by 19 put the
  // offered load anywhere between 0.44 and 0.55 of capacity, and this item moves with it.
  const quietRate = Math.max(1, Math.round((0.5 * capacity * 9) / 19));
  const noisyRate = Math.max(1, Math.round((0.5 * capacity * 10) / 19));
  const window = settings.seconds;
  const pairs = 2 * settings.rounds;
  const noisyLanes = Array.from({ length: pairs }, (_, pair) =>
    steadyLanes(window, 32, noisyRate).map((lane) => ({ ...lane, start: lane.start + (2 * pair + 1) * window })),
  ).flat();
  const [quietLoad, noisyLoad] = await Promise.all([
    generateLoad({ origin: server.origin, tenants: quiet, operations: NESTED_READ_ONLY, lanes: steadyLanes(2 * window * pairs, 32, quietRate) }),
    generateLoad({ origin: server.origin, tenants: [noisy!], operations: NESTED_READ_ONLY, lanes: noisyLanes }),
  ]);
  const without: number[][] = Array.from({ length: pairs }, () => []);
  const withNoisy: number[][] = Array.from({ length: pairs }, () => []);
  let quietErrors = 0;
  const { samples } = quietLoad;
  for (let i = 0; i < samples.size; i += 1) {
    if (samples.code[i] !== 0) quietErrors += 1;
    if (samples.tenant[i]! < 0) continue;
    const seconds = samples.at[i]! / 1000;
    const index = Math.floor(seconds / window);
    if (index >= 2 * pairs || seconds - index * window < WINDOW_MARGIN_SECONDS) continue;
    (index % 2 === 0 ? without : withNoisy)[Math.floor(index / 2)]!.push(samples.latencyMs[i]!);
  }
  const pairRatios = without.map((off, pair) => round(summarize(withNoisy[pair]!).p99 / summarize(off).p99, 3));
  const quietWithout = summarize(without.flat());
  const quietWith = summarize(withNoisy.flat());
  const noisyErrors: Record<string, number> = {};
  for (let i = 0; i < noisyLoad.samples.size; i += 1) {
    if (noisyLoad.samples.code[i] === 0) continue;
    const code = noisyLoad.samples.codes[noisyLoad.samples.code[i]!]!;
    noisyErrors[code] = (noisyErrors[code] ?? 0) + 1;
  }
  const noisyLatencies = latenciesOf(noisyLoad, () => true);
  const result = {
    quietRatePerTenant: round(quietRate / quiet.length, 2),
    noisyRate,
    offeredShareOfCapacity: round((quietRate + noisyRate) / capacity, 2),
    windowSeconds: window,
    pairs,
    quietWithout: { p50: quietWithout.p50, p99: quietWithout.p99 },
    quietWith: { p50: quietWith.p50, p99: quietWith.p99 },
    ratio: round(median(pairRatios), 3),
    pooledRatio: round(quietWith.p99 / quietWithout.p99, 3),
    pairRatios,
    noisy: {
      requests: noisyLatencies.length,
      p99: summarize(noisyLatencies).p99,
      errors: Object.values(noisyErrors).reduce((sum, count) => sum + count, 0),
      errorsByCode: noisyErrors,
    },
    quietErrors,
  };
  settings.log(
    `noisy neighbour: quiet p99 ${quietWithout.p99} ms without, ${quietWith.p99} ms with the noisy tenant (pooled x${result.pooledRatio}; median of pairs x${result.ratio}: ${pairRatios.join(', ')})`,
  );
  return result;
}

export interface ManyTenantsResult {
  tenants: number;
  schemaTenants: number;
  databaseTenants: number;
  budget: number;
  seconds: number;
  throughput: number;
  latencyMs: ReturnType<typeof summarize>;
  requests: number;
  errors: number;
  errorsByCode: Record<string, number>;
  /** Most client connections of the API that pg_stat_activity listed at once, sampled every 100 ms. */
  postgresConnectionsMax: number | undefined;
  /** Most connections the pool manager counted open at once (sampled every second). */
  poolOpenMax: number;
  evictions: number;
  cpuMsPerRequest: number;
}

/**
 * Item 5: the nested read over two thousand schema and database tenants picked uniformly, at full
 * speed, on a server whose host budget is 40 connections: every database tenant has a pool of its
 * own, so pools are opened and evicted all the time. Postgres is asked how many connections the API
 * really holds.
 */
export async function manyTenantsItem(server: ServerChild, cluster: BenchCluster, settings: BenchSettings): Promise<ManyTenantsResult> {
  const tenants = cluster.tenants.many;
  const sampler = startPoolSampler({ origin: server.origin, platformKey: cluster.platformKey, superuserUrl: cluster.postgres.superuserUrl });
  const seconds = Math.max(10, settings.seconds * 2);
  let run;
  let pool;
  try {
    run = await measuredRun(server, { tenants, lanes: steadyLanes(seconds, settings.connections * 2) });
  } finally {
    pool = await sampler.stop();
  }
  const result: ManyTenantsResult = {
    tenants: tenants.length,
    schemaTenants: tenants.filter((tenant) => tenant.strategy === 'schema').length,
    databaseTenants: tenants.filter((tenant) => tenant.strategy === 'database').length,
    budget: Math.max(0, ...(pool.final?.hosts.map((host) => host.budget) ?? [])),
    seconds,
    throughput: run.throughput,
    latencyMs: run.latencyMs,
    requests: run.requests,
    errors: run.errors,
    errorsByCode: run.errorsByCode,
    postgresConnectionsMax: pool.postgresConnectionsMax,
    poolOpenMax: Math.max(0, ...pool.samples.map((sample) => sample.open)),
    evictions: pool.final?.hosts.reduce((sum, host) => sum + host.evictions, 0) ?? 0,
    cpuMsPerRequest: run.cpuMsPerRequest,
  };
  settings.log(
    `many tenants: ${result.throughput} req/s, p99 ${result.latencyMs.p99} ms, ${result.errors} errors, ` +
      `Postgres saw at most ${result.postgresConnectionsMax} connections (budget ${result.budget}), ${result.evictions} evictions`,
  );
  return result;
}

export interface ColdTenantResult {
  samples: number;
  /** Samples whose pool was confirmed gone (poolStats) before the cold request. */
  evictedConfirmed: number;
  coldMs: { median: number; p90: number };
  warmMs: { median: number; p90: number };
  ratio: number;
  extraMs: number;
}

/**
 * Item 6: the first request of a database tenant whose pool was evicted, against the request just
 * before, while its pool was warm. A server with a budget of 6 connections makes eviction cheap to
 * cause: six other database tenants, one request each, push the tenant's pool out (least recently
 * used first). The tenant's registry entry stays cached: the difference is the pool's.
 */
export async function coldTenantItem(cluster: BenchCluster, settings: BenchSettings): Promise<ColdTenantResult> {
  const budget = 6;
  const server = await startServerChild(serverConfig(cluster, { poolMax: 2, budget }), { logFile: `${settings.logDir}/bench-cold-server.log` });
  const databaseTenants = [...cluster.tenants['bench-db'], ...cluster.tenants.many.filter((tenant) => tenant.strategy === 'database')];
  const body = JSON.stringify({ query: NESTED_READ });
  const cold: number[] = [];
  const warm: number[] = [];
  let evictedConfirmed = 0;
  const samples = 12;
  try {
    // Warm the server itself (JIT, the shared pool) on other tenants first.
    for (const tenant of databaseTenants.slice(-budget * 2)) await timedRequest(server.origin, tenant, body);
    for (let i = 0; i < samples; i += 1) {
      const tenant = databaseTenants[i]!;
      await timedRequest(server.origin, tenant, body);
      warm.push(await timedRequest(server.origin, tenant, body));
      const others = databaseTenants.filter((other) => other !== tenant);
      for (let j = 0; j < budget; j += 1) await timedRequest(server.origin, others[(i * budget + j) % others.length]!, body);
      const stats = await readPoolStats(server.origin, cluster.platformKey);
      if (stats && !stats.pools.some((pool) => pool.name === `database:${tenant.id}`)) evictedConfirmed += 1;
      cold.push(await timedRequest(server.origin, tenant, body));
    }
  } finally {
    await server.close();
  }
  const spread = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { median: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)) };
  };
  const result = {
    samples,
    evictedConfirmed,
    coldMs: spread(cold),
    warmMs: spread(warm),
    ratio: round(median(cold) / median(warm), 2),
    extraMs: round(median(cold) - median(warm)),
  };
  settings.log(`cold tenant: ${result.coldMs.median} ms cold vs ${result.warmMs.median} ms warm (${evictedConfirmed}/${samples} evictions confirmed)`);
  return result;
}

export interface MemoryResult {
  registeredTenants: number;
  rssMbBefore: number;
  rssMbWithTenants: number;
  /** Growth per registered tenant (registry cache entry, per-tenant pool stats), after a full GC. */
  rssKbPerTenant: number;
  heapKbPerTenant: number;
  openPools: number;
  rssKbPerPool: number;
  heapKbPerPool: number;
}

/**
 * Item 7: a fresh server process (with --expose-gc, figures taken after a full collection). Every
 * one of 10,000 tenants sends one request (they are then registered: a cached resolution and
 * per-tenant pool stats); then 100 database tenants each open their pool (one connection each).
 * The heap is the figure to read per tenant and per pool: RSS also moves with what V8 keeps or
 * hands back to the system after the warm-up, which can outweigh a few megabytes either way.
 */
export async function memoryItem(cluster: BenchCluster, settings: BenchSettings): Promise<MemoryResult> {
  const server = await startServerChild(serverConfig(cluster, { budget: 120 }), { logFile: `${settings.logDir}/bench-memory-server.log`, exposeGc: true });
  const idle = cluster.tenants.idle;
  const [warmUpPool, ...pools] = [...cluster.tenants['bench-db'], ...cluster.tenants.many.filter((tenant) => tenant.strategy === 'database')].slice(0, 101);
  const list = JSON.stringify({ query: LIST });
  try {
    // Warm-up on a handful of tenants, so that the baseline already holds the code and buffers a request needs.
    await generateLoad({ origin: server.origin, tenants: idle.slice(0, 10), operations: { nestedRead: 0, list: 1, mutation: 0 }, lanes: steadyLanes(3, 2) });
    await timedRequest(server.origin, warmUpPool!, list);
    const before = await server.usage({ gc: true });
    let next = 10;
    const visit = await generateLoad({
      origin: server.origin,
      tenants: idle,
      pickTenant: () => next++ % idle.length,
      operations: { nestedRead: 0, list: 1, mutation: 0 },
      lanes: steadyLanes(600, 16),
      amount: idle.length - 10,
    });
    const failed = visit.samples.code.filter((code) => code !== 0).length;
    if (failed > 0) throw new Error(`${failed} of the registering requests failed`);
    const withTenants = await server.usage({ gc: true });
    for (const tenant of pools) await timedRequest(server.origin, tenant, list);
    const withPools = await server.usage({ gc: true });
    const visited = visit.samples.size;
    const registered = 10 + visited;
    const opened = pools.length;
    const result = {
      registeredTenants: registered,
      rssMbBefore: round(before.memory.rss / 2 ** 20, 1),
      rssMbWithTenants: round(withTenants.memory.rss / 2 ** 20, 1),
      rssKbPerTenant: round((withTenants.memory.rss - before.memory.rss) / 1024 / visited, 2),
      heapKbPerTenant: round((withTenants.memory.heapUsed - before.memory.heapUsed) / 1024 / visited, 2),
      openPools: opened,
      rssKbPerPool: round((withPools.memory.rss - withTenants.memory.rss) / 1024 / opened, 1),
      heapKbPerPool: round((withPools.memory.heapUsed - withTenants.memory.heapUsed) / 1024 / opened, 1),
    };
    settings.log(`memory: RSS ${result.rssMbBefore} MB -> ${result.rssMbWithTenants} MB with ${registered} tenants; ${result.rssKbPerPool} KB per open pool`);
    return result;
  } finally {
    await server.close();
  }
}

export type TelemetryVariant = 'off' | 'on' | 'sampled';

/** The share of requests the `sampled` server traces: a production-like setting. */
const SAMPLED_TRACE_RATIO = 0.01;

export interface TelemetryResult {
  /** Traced server / server without an SDK, nested-read req/s: median over rounds, and every round's ratio. */
  ratio: { median: number; rounds: number[] };
  /** The same for the server that traces `SAMPLED_TRACE_RATIO` of the requests. */
  sampledRatio: { median: number; rounds: number[] };
  sampledTraceRatio: number;
  medians: Record<TelemetryVariant, { throughput: number; p99: number; cpuMsPerRequest: number }>;
  /** What the traced servers exported over the measured runs. */
  exported: Record<'on' | 'sampled', { requests: number; kilobytes: number }>;
}

/**
 * Item 8: what OpenTelemetry costs. Three servers side by side, the same but for telemetry: one
 * without an SDK (as with OTEL_SDK_DISABLED=true); one with the SDK as `npm start` starts it, every
 * request traced, spans (HTTP, GraphQL, pool, SQL) and the metrics exported over OTLP/HTTP to a
 * local endpoint; one the same but tracing a sample of the requests
 * (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`), as production would. The servers take turns in
 * mirrored rounds (`mirroredRounds`).
 */
export async function telemetryItem(cluster: BenchCluster, settings: BenchSettings): Promise<TelemetryResult> {
  const sinks = { on: await startOtlpSink(), sampled: await startOtlpSink() };
  const start = (variant: TelemetryVariant, telemetry: ServerProcessConfig['telemetry']) =>
    startServerChild(serverConfig(cluster, telemetry ? { telemetry } : {}), { logFile: `${settings.logDir}/bench-telemetry-${variant}-server.log` });
  const servers: Record<TelemetryVariant, ServerChild> = {
    off: await start('off', undefined),
    on: await start('on', { otlpEndpoint: sinks.on.url }),
    sampled: await start('sampled', { otlpEndpoint: sinks.sampled.url, traceRatio: SAMPLED_TRACE_RATIO }),
  };
  const variants = Object.keys(servers) as TelemetryVariant[];
  const tenants = cluster.tenants['bench-shared'];
  try {
    for (const server of Object.values(servers)) await measuredRun(server, { tenants, lanes: steadyLanes(3, settings.connections) });
    const exportedBefore = { on: sinks.on.received(), sampled: sinks.sampled.received() };
    const runs = await mirroredRounds(
      variants,
      settings.rounds,
      (variant, seconds) => measuredRun(servers[variant], { tenants, lanes: steadyLanes(seconds, settings.connections) }),
      settings.seconds,
      (line) => settings.log(`telemetry ${line}`),
    );
    const medianOf = (variant: TelemetryVariant) => {
      const of = (figure: (run: RunSummary) => number) => round(median(runs[variant].flat().map(figure)), 3);
      return { throughput: of((run) => run.throughput), p99: of((run) => run.latencyMs.p99), cpuMsPerRequest: of((run) => run.cpuMsPerRequest) };
    };
    const exportedBy = (variant: 'on' | 'sampled') => {
      const [before, after] = [exportedBefore[variant], sinks[variant].received()];
      return { requests: after.requests - before.requests, kilobytes: Math.round((after.bytes - before.bytes) / 1024) };
    };
    return {
      ratio: roundRatios(runs.on, runs.off),
      sampledRatio: roundRatios(runs.sampled, runs.off),
      sampledTraceRatio: SAMPLED_TRACE_RATIO,
      medians: { off: medianOf('off'), on: medianOf('on'), sampled: medianOf('sampled') },
      exported: { on: exportedBy('on'), sampled: exportedBy('sampled') },
    };
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.close()));
    await Promise.all(Object.values(sinks).map((sink) => sink.close()));
  }
}
