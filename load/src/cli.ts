/**
 * `npm run load -- …`: seeds a profile's tenants, and runs a profile with autocannon against a
 * running server or a local one (embedded Postgres in a temp folder), for machines without k6.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { loadProfile, profileNames, RESULTS_DIR, seedFileOf, InvalidProfileError } from './profiles.ts';
import { planTenants, type Profile } from './profile.ts';
import { readSeed, seedTenants, type SeedReport } from './seeding.ts';
import { startLocalPostgres } from './local-postgres.ts';
import { startServerChild } from './server-child.ts';
import { runLoad, writeReport } from './run-load.ts';
import { formatReport } from './print-report.ts';
import type { LoadProgress } from './load-generator.ts';

const HELP = `Usage: npm run load -- [run] --profile <name> [options]
       npm run load -- seed --profile <name> [--database-url <owner url>]
       npm run load -- list

run (the default)
  --profile <name>      a profile of load/profiles/ (npm run load -- list)
  --url <origin>        a running API, such as http://localhost:4000; its tenants come from the
                        seed file (npm run load -- seed …). Without --url the runner starts
                        Postgres (embedded, in a temp folder) and the API in a child process,
                        seeds the profile's tenants, runs, and removes it all.
  --seed-file <path>    default load/results/seed/<profile>.jsonl
  --duration <seconds>  stretch or shrink the profile's arrival model to this length
  --no-progress         no progress bar (CI logs)
  Writes load/results/<profile>-<time>.json and .html. Exit code 1 when a threshold is crossed.

seed
  Creates the profile's tenants (admin, API key, data) as the owner login, plus a platform key for
  the pool figures, and writes them to the seed file. Runs again resume and reuse what exists.
  --database-url <url>  the owner login (default: DATABASE_URL). For \`npm start\`'s embedded
                        Postgres: postgres://tenant_app_owner:tenant_app_owner@127.0.0.1:54329/tenant_app`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      profile: { type: 'string' },
      url: { type: 'string' },
      'seed-file': { type: 'string' },
      'database-url': { type: 'string' },
      duration: { type: 'string' },
      'no-progress': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const command = positionals[0] ?? 'run';
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (command === 'list') {
    for (const name of profileNames()) console.log(`${name.padEnd(20)} ${loadProfile(name).description}`);
    return 0;
  }
  if (!values.profile) throw new UsageError(`--profile is required: one of ${profileNames().join(', ')}`);
  const profile = loadProfile(values.profile);
  const seedFile = path.resolve(values['seed-file'] ?? seedFileOf(profile.name));
  const progress = !values['no-progress'] && process.stderr.isTTY;

  if (command === 'seed') {
    const ownerUrl = values['database-url'] ?? process.env.DATABASE_URL;
    if (!ownerUrl) throw new UsageError('seed needs the owner login: --database-url postgres://owner:…@host/db, or DATABASE_URL');
    const report = await seed(profile, ownerUrl, seedFile, progress);
    console.log(`seeded ${profile.tenants.count} tenants of ${profile.name} into ${report.file}`);
    console.log(describeSeeding(report));
    return 0;
  }
  if (command !== 'run') throw new UsageError(`unknown command "${command}": use run, seed or list`);

  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(duration > 0)) throw new UsageError(`--duration "${values.duration}" is not a number of seconds above 0`);
  const bar = progress ? progressBar() : undefined;
  const common = { profile, ...(duration ? { durationSeconds: duration } : {}), ...(bar ? { onProgress: bar.update } : {}) };

  let report;
  if (values.url) {
    const seeded = readSeed(seedFile);
    if (seeded.tenants.length === 0) {
      throw new UsageError(`${seedFile} holds no tenants: run \`npm run load -- seed --profile ${profile.name} --database-url …\` against that server's database first`);
    }
    const origin = new URL(values.url).origin;
    await assertReady(origin);
    report = await runLoad({ ...common, origin, server: values.url, tenants: seeded.tenants, platformKey: seeded.platformKey });
  } else {
    report = await withLocalServer(profile, progress, (local) => runLoad({ ...common, ...local }));
  }
  bar?.stop();
  console.log(formatReport(report));
  const files = writeReport(report, RESULTS_DIR);
  console.log(`\nwrote ${path.relative(process.cwd(), files.json)} and ${path.relative(process.cwd(), files.html)}`);
  return report.thresholds.every((threshold) => threshold.ok) ? 0 : 1;
}

/** Postgres in a temp folder, the profile's tenants, the API in a child process; all gone afterwards. */
async function withLocalServer<T>(
  profile: Profile,
  progress: boolean,
  work: (local: Omit<Parameters<typeof runLoad>[0], 'profile'>) => Promise<T>,
): Promise<T> {
  console.error('starting embedded Postgres in a temp folder …');
  const postgres = await startLocalPostgres();
  try {
    const seedFile = path.join(postgres.folder, 'seed.jsonl');
    const seeding = await seed(profile, postgres.ownerUrl, seedFile, progress);
    console.error(describeSeeding(seeding));
    mkdirSync(RESULTS_DIR, { recursive: true });
    const logFile = path.join(RESULTS_DIR, `${profile.name}-server.log`);
    const server = await startServerChild(
      {
        runtimeUrl: postgres.runtimeUrl,
        ownerUrl: postgres.ownerUrl,
        poolMax: 10,
        budget: 40,
        acquireTimeoutMs: 5_000,
        registryTtlMs: 5_000,
        logLevel: 'warn',
      },
      { logFile },
    );
    try {
      const seeded = readSeed(seedFile);
      return await work({
        origin: server.origin,
        server: `API in a child process (pid ${server.pid}) on ${postgres.description}; log in ${path.relative(process.cwd(), logFile)}`,
        tenants: seeded.tenants,
        platformKey: seeded.platformKey,
        superuserUrl: postgres.superuserUrl,
        serverUsage: () => server.usage(),
      });
    } finally {
      await server.close();
    }
  } finally {
    await postgres.stop();
  }
}

async function seed(profile: Profile, ownerUrl: string, file: string, progress: boolean): Promise<SeedReport> {
  const bar = progress ? new cliProgress.SingleBar({ format: 'seeding {bar} {value}/{total} tenants', stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(profile.tenants.count, 0);
  try {
    return await seedTenants({
      ownerUrl,
      tenants: planTenants(profile.name.replaceAll('-', ''), profile.tenants),
      data: profile.tenants.data,
      file,
      onProgress: (done) => bar?.update(done),
    });
  } finally {
    bar?.stop();
  }
}

function describeSeeding(report: SeedReport): string {
  const made = Object.entries(report.created)
    .filter(([, entry]) => entry.count > 0)
    .map(([strategy, entry]) => `${entry.count} ${strategy} in ${entry.seconds.toFixed(1)} s (${entry.msPerTenant.toFixed(0)} ms each)`);
  return `seeding: ${report.reused} tenants reused${made.length > 0 ? `, created ${made.join(', ')}` : ''}; ${report.seconds.toFixed(1)} s`;
}

function progressBar(): { update: (progress: LoadProgress) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    { format: 'load {bar} {percentage}% | {elapsed}s of {planned}s | {requests} requests, {errors} errors', stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (progress) => {
      const payload = { elapsed: progress.elapsedSeconds.toFixed(0), planned: progress.plannedSeconds.toFixed(0), requests: progress.requests, errors: progress.errors };
      const value = Math.min(100, Math.round((100 * progress.elapsedSeconds) / progress.plannedSeconds));
      if (started) bar.update(value, payload);
      else bar.start(100, value, payload);
      started = true;
    },
    stop: () => started && bar.stop(),
  };
}

/** Fails fast, as the k6 scripts' setup() does, when the API is not ready to serve. */
async function assertReady(origin: string): Promise<void> {
  const response = await fetch(`${origin}/ready`).catch((error: unknown) => {
    throw new UsageError(`${origin}/ready cannot be reached (${(error as Error).message}): is the API running there?`);
  });
  if (response.status !== 200) throw new UsageError(`${origin}/ready answered ${response.status}: the API is not ready to serve`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof InvalidProfileError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`${(error as Error).message}\n(npm run load -- --help)`);
      process.exit(2);
    }
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
