import { generateLoad, type GeneratedLoad } from './load-generator.ts';
import type { Lane } from './load-plan.ts';
import type { LoadTenant } from './operations.ts';
import { postgresCpuMs } from './postgres-cpu.ts';
import type { OperationName } from './profile.ts';
import type { ServerChild } from './server-child.ts';
import { median, round, summarize, type LatencySummary } from './stats.ts';

export const NESTED_READ_ONLY: Record<OperationName, number> = { nestedRead: 1, list: 0, mutation: 0 };

export interface MeasuredRun {
  requests: number;
  errors: number;
  errorsByCode: Record<string, number>;
  /** Successful requests per second. */
  throughput: number;
  latencyMs: LatencySummary;
  /** Server process CPU time over the run / requests answered. */
  cpuMsPerRequest: number;
  /** The Postgres cluster's CPU time over the run / requests answered, when its data directory was given. */
  postgresCpuMsPerRequest?: number;
  load: GeneratedLoad;
}

/** One load run against a server child, with the server's CPU time over exactly that run. */
export async function measuredRun(
  server: ServerChild,
  options: { tenants: readonly LoadTenant[]; lanes: Lane[]; operations?: Record<OperationName, number>; postgresDataDir?: string },
): Promise<MeasuredRun> {
  const postgresBefore = options.postgresDataDir === undefined ? undefined : postgresCpuMs(options.postgresDataDir);
  const before = await server.usage();
  const load = await generateLoad({
    origin: server.origin,
    tenants: options.tenants,
    operations: options.operations ?? NESTED_READ_ONLY,
    lanes: options.lanes,
  });
  const after = await server.usage();
  const postgresAfter = options.postgresDataDir === undefined ? undefined : postgresCpuMs(options.postgresDataDir);
  const { samples } = load;
  const latencies: number[] = [];
  const errorsByCode: Record<string, number> = {};
  let errors = 0;
  for (let i = 0; i < samples.size; i += 1) {
    if (samples.tenant[i]! >= 0) latencies.push(samples.latencyMs[i]!);
    if (samples.code[i] !== 0) {
      errors += 1;
      const code = samples.codes[samples.code[i]!]!;
      errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
    }
  }
  return {
    requests: samples.size,
    errors,
    errorsByCode,
    throughput: round((samples.size - errors) / load.seconds, 1),
    latencyMs: summarize(latencies),
    cpuMsPerRequest: samples.size > 0 ? round((after.cpuMs - before.cpuMs) / samples.size, 3) : 0,
    ...(postgresBefore !== undefined && postgresAfter !== undefined && samples.size > 0
      ? { postgresCpuMsPerRequest: round((postgresAfter - postgresBefore) / samples.size, 3) }
      : {}),
    load,
  };
}

/** A run as the benchmark keeps it: without its raw samples. */
export type RunSummary = Omit<MeasuredRun, 'load'>;

/**
 * The rounds of a side-by-side comparison, arranged so that a drift of the machine's speed in the
 * course of a round cannot favour one variant: each round runs every variant twice, in an order and
 * then in its mirror image (a b c c b a), so that the runs of every variant are centred on the
 * middle of the round and a background load that rises or falls over the round weighs on each
 * alike. The order rotates from round to round, so that no variant always sits at the edges. Each
 * run lasts half of `seconds`. Returns, per variant, each round's two runs, without their samples.
 */
export async function mirroredRounds<V extends string>(
  variants: readonly V[],
  rounds: number,
  run: (variant: V, seconds: number) => Promise<MeasuredRun>,
  seconds: number,
  log: (line: string) => void,
): Promise<Record<V, [RunSummary, RunSummary][]>> {
  const runs = Object.fromEntries(variants.map((variant) => [variant, [] as RunSummary[]])) as Record<V, RunSummary[]>;
  for (let round = 0; round < rounds; round += 1) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
    for (const variant of [...order, ...[...order].reverse()]) {
      const { load: _load, ...result } = await run(variant, seconds / 2);
      runs[variant].push(result);
      log(
        `round ${round + 1}/${rounds} ${variant}: ${result.throughput} req/s, p99 ${result.latencyMs.p99} ms, ` +
          `CPU ms/request ${result.cpuMsPerRequest} server${result.postgresCpuMsPerRequest === undefined ? '' : `, ${result.postgresCpuMsPerRequest} Postgres`}, ${result.errors} errors`,
      );
    }
  }
  return Object.fromEntries(
    variants.map((variant) => [variant, Array.from({ length: rounds }, (_, round) => [runs[variant][2 * round]!, runs[variant][2 * round + 1]!])]),
  ) as Record<V, [RunSummary, RunSummary][]>;
}

/** Per round, the throughput of `a` / that of `b`, each the mean of its two runs in the round; and their median. */
export function roundRatios(a: readonly [RunSummary, RunSummary][], b: readonly [RunSummary, RunSummary][]): { median: number; rounds: number[] } {
  const throughput = ([first, second]: readonly [RunSummary, RunSummary]) => first.throughput + second.throughput;
  const rounds = a.map((pair, i) => round(throughput(pair) / throughput(b[i]!), 3));
  return { median: round(median(rounds), 3), rounds };
}

/**
 * Per round, a per-request figure of `a` minus that of `b` (such as CPU ms per request), each over
 * its two runs in the round, weighted by their requests; and their median.
 */
export function roundDifferences(
  a: readonly [RunSummary, RunSummary][],
  b: readonly [RunSummary, RunSummary][],
  figure: (run: RunSummary) => number | undefined,
): { median: number; rounds: number[] } {
  const perRequest = (runs: readonly RunSummary[]) => {
    const requests = runs.reduce((sum, run) => sum + run.requests, 0);
    return requests === 0 ? 0 : runs.reduce((sum, run) => sum + (figure(run) ?? 0) * run.requests, 0) / requests;
  };
  const rounds = a.map((pair, i) => round(perRequest(pair) - perRequest(b[i]!), 3));
  return { median: round(median(rounds), 3), rounds };
}

/** Latencies of the answered requests whose tenant index passes `keep`. */
export function latenciesOf(load: GeneratedLoad, keep: (tenant: number) => boolean): number[] {
  const { samples } = load;
  const latencies: number[] = [];
  for (let i = 0; i < samples.size; i += 1) {
    const tenant = samples.tenant[i]!;
    if (tenant >= 0 && keep(tenant)) latencies.push(samples.latencyMs[i]!);
  }
  return latencies;
}

/** Sends one GraphQL request and returns its latency in ms; throws on any error, so a probe never measures a failure. */
export async function timedRequest(origin: string, tenant: LoadTenant, body: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant-id': tenant.slug, authorization: `Bearer ${tenant.apiKey}` },
    body,
  });
  const text = await response.text();
  const latency = performance.now() - started;
  if (response.status !== 200 || text.includes('"errors"')) throw new Error(`${tenant.slug}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return latency;
}
