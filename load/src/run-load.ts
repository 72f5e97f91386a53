import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { htmlReport } from './html-report.ts';
import { generateLoad, type LoadProgress } from './load-generator.ts';
import { lanesOf, scaleLanes } from './load-plan.ts';
import { buildReport, type LoadReport } from './load-report.ts';
import { startPoolSampler } from './pool-sampler.ts';
import { tenantWeights, type Profile } from './profile.ts';
import type { SeededTenant } from './seed-format.ts';
import type { ServerUsage } from './server-child.ts';

export interface RunLoadOptions {
  profile: Profile;
  /** Origin of the API under load, such as http://127.0.0.1:4000. */
  origin: string;
  /** Where the server runs, for the report: "local child process on embedded Postgres", a URL… */
  server: string;
  /** The profile's tenants from the seed file, by rank. */
  tenants: readonly SeededTenant[];
  /** For the pool figures of the platform API. */
  platformKey: string | undefined;
  /** For the connections Postgres itself lists; only where the runner may look. */
  superuserUrl?: string;
  /** The server's own CPU and memory, when it is a process the runner started. */
  serverUsage?: () => Promise<ServerUsage>;
  /** Stretches or shrinks the arrival model to this many seconds (smoke tests, quick looks). */
  durationSeconds?: number;
  onProgress?: (progress: LoadProgress) => void;
}

/** Runs a profile's arrival model against a server and reports what it saw. */
export async function runLoad(options: RunLoadOptions): Promise<LoadReport> {
  const { profile } = options;
  if (options.tenants.length < profile.tenants.count) {
    throw new Error(
      `the seed file holds ${options.tenants.length} of the ${profile.tenants.count} tenants of profile ${profile.name}: ` +
        `run \`npm run load -- seed --profile ${profile.name}\` first`,
    );
  }
  const tenants = options.tenants.slice(0, profile.tenants.count);
  const lanes = options.durationSeconds === undefined ? lanesOf(profile.arrival) : scaleLanes(lanesOf(profile.arrival), options.durationSeconds);
  const startedAt = new Date();
  const before = await options.serverUsage?.();
  const sampler = startPoolSampler({
    origin: options.origin,
    platformKey: options.platformKey,
    ...(options.superuserUrl ? { superuserUrl: options.superuserUrl } : {}),
  });
  let load;
  let pool;
  try {
    load = await generateLoad({
      origin: options.origin,
      tenants,
      tenantWeights: tenantWeights(profile.distribution, tenants.length),
      operations: profile.operations,
      lanes,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  } finally {
    pool = await sampler.stop();
  }
  const after = await options.serverUsage?.();
  return buildReport({
    profile,
    startedAt,
    target: { origin: options.origin, server: options.server },
    lanes,
    tenants,
    load,
    pool,
    ...(before && after ? { server: { cpuMs: after.cpuMs - before.cpuMs, rssBytes: after.memory.rss } } : {}),
  });
}

/** Writes `<profile>-<time>.json` and `.html` into `directory`; returns their paths. */
export function writeReport(report: LoadReport, directory: string): { json: string; html: string } {
  mkdirSync(directory, { recursive: true });
  const stem = path.join(directory, `${report.profile}-${report.startedAt.replace(/[:.]/g, '-')}`);
  writeFileSync(`${stem}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${stem}.html`, htmlReport(report));
  return { json: `${stem}.json`, html: `${stem}.html` };
}
