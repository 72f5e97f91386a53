import { generateLoad, type GeneratedLoad } from './load-generator.ts';
import type { Lane } from './load-plan.ts';
import type { LoadTenant } from './operations.ts';
import { postgresCpuMs } from './postgres-cpu.ts';
import type { OperationName } from './profile.ts';
import type { ServerChild } from './server-child.ts';
import { round, summarize, type LatencySummary } from './stats.ts';

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
