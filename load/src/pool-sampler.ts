import { performance } from 'node:perf_hooks';
import pg from 'pg';

/** `poolStats` of the platform API, as far as the runner reads it. */
export interface PoolStatsSnapshot {
  hosts: { host: string; budget: number; open: number; pending: number; pools: number; evictions: number }[];
  pools: {
    name: string;
    total: number;
    active: number;
    pending: number;
    acquired: number;
    timeouts: number;
    evictions: number;
    waitMsSum: number;
    waitMsMax: number;
  }[];
  tenants?: { tenantId: string; acquired: number; timeouts: number; shed: number; waitMsSum: number; waitMsMax: number }[];
}

/** One look at the pools, every `intervalMs`: figures are summed over the hosts and pools. */
export interface PoolSample {
  /** Milliseconds since the sampler started. */
  at: number;
  open: number;
  budget: number;
  pending: number;
  pools: number;
  evictions: number;
  acquired: number;
  waitMsSum: number;
  timeouts: number;
  /** Client connections of the API that Postgres itself lists (pg_stat_activity), when the sampler may look. */
  postgresConnections?: number;
}

const POOL_QUERY = `{ poolStats {
  hosts { host budget open pending pools evictions }
  pools { name total active pending acquired timeouts evictions waitMsSum waitMsMax }
} }`;

const FINAL_QUERY = `{ poolStats {
  hosts { host budget open pending pools evictions }
  pools { name total active pending acquired timeouts evictions waitMsSum waitMsMax }
  tenants(first: 1000) { tenantId acquired timeouts shed waitMsSum waitMsMax }
} }`;

/** The server's pool figures through its platform API; undefined when it serves none (or refuses the key). */
export async function readPoolStats(origin: string, platformKey: string, withTenants = false): Promise<PoolStatsSnapshot | undefined> {
  const response = await fetch(`${origin}/platform/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${platformKey}` },
    body: JSON.stringify({ query: withTenants ? FINAL_QUERY : POOL_QUERY }),
  });
  if (!response.ok) return undefined;
  const body = (await response.json()) as { data?: { poolStats?: PoolStatsSnapshot } };
  return body.data?.poolStats;
}

export interface PoolSampler {
  /** Stops sampling; returns the samples and the final snapshot (with per-tenant figures). */
  stop(): Promise<{ samples: PoolSample[]; final: PoolStatsSnapshot | undefined; postgresConnectionsMax: number | undefined }>;
}

/**
 * Samples the server's pools while a load runs: through the platform API every `intervalMs`, and,
 * given a superuser URL, the API's connections as Postgres lists them (application_name
 * `tenant-app:…`, which the pool manager sets) every `postgresIntervalMs`: that count is what the
 * connection budget promises to bound, seen from the other side.
 */
export function startPoolSampler(options: {
  origin: string;
  platformKey: string | undefined;
  superuserUrl?: string;
  intervalMs?: number;
  postgresIntervalMs?: number;
}): PoolSampler {
  const started = performance.now();
  const samples: PoolSample[] = [];
  let postgresNow: number | undefined;
  let postgresMax: number | undefined;
  let stopped = false;
  const postgres = options.superuserUrl ? new pg.Client({ connectionString: options.superuserUrl, application_name: 'load-sampler' }) : undefined;
  const connecting = postgres?.connect().catch(() => undefined);

  const samplePostgres = async () => {
    if (!postgres) return;
    await connecting;
    while (!stopped) {
      try {
        const { rows } = await postgres.query<{ count: string }>(
          "select count(*) from pg_stat_activity where backend_type = 'client backend' and application_name like 'tenant-app:%'",
        );
        postgresNow = Number(rows[0]!.count);
        postgresMax = Math.max(postgresMax ?? 0, postgresNow);
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, options.postgresIntervalMs ?? 100));
    }
  };

  const samplePools = async () => {
    if (!options.platformKey) return;
    while (!stopped) {
      const stats = await readPoolStats(options.origin, options.platformKey).catch(() => undefined);
      if (!stats) return;
      samples.push({
        at: performance.now() - started,
        open: sum(stats.hosts.map((host) => host.open)),
        budget: sum(stats.hosts.map((host) => host.budget)),
        pending: sum(stats.hosts.map((host) => host.pending)),
        pools: sum(stats.hosts.map((host) => host.pools)),
        evictions: sum(stats.hosts.map((host) => host.evictions)),
        acquired: sum(stats.pools.map((pool) => pool.acquired)),
        waitMsSum: sum(stats.pools.map((pool) => pool.waitMsSum)),
        timeouts: sum(stats.pools.map((pool) => pool.timeouts)),
        ...(postgresNow === undefined ? {} : { postgresConnections: postgresNow }),
      });
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
    }
  };

  const loops = Promise.all([samplePools(), samplePostgres()]);
  return {
    async stop() {
      stopped = true;
      await loops;
      await postgres?.end().catch(() => undefined);
      const final = options.platformKey ? await readPoolStats(options.origin, options.platformKey, true).catch(() => undefined) : undefined;
      return { samples, final, postgresConnectionsMax: postgresMax };
    },
  };
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
