import cliProgress from 'cli-progress';
import {
  migrateAllTenants,
  tenantMigrationStatus,
  type MigrateAllReport,
  type MigrationProgress,
  type MigrationStatusReport,
} from '@tenant-app/db';
import { EXIT, parseCommandLine, print, runCli, UsageError } from './cli.ts';

const HELP_COMMAND = 'npm run migrate -- --help';
const HELP = `Usage: npm run migrate -- [--status] [--concurrency <n>]

Brings every target up to date: the control plane and the shared tables, then the schema of every
schema tenant and the database of every database tenant, <n> at a time (default 4). A tenant whose
migration fails is reported and recorded, the others go on; running again resumes.
  --status           Lists the migrations pending per target; changes nothing.
  --concurrency <n>  Tenants migrated at the same time (default 4).

Postgres: DATABASE_URL (the owner login), or else the embedded server of DATA_DIR. DATABASE_HOSTS
names the other hosts of database tenants: {"eu": "postgres://owner:…@eu-db/postgres"}.
Exit codes: 0 all up to date, 1 a tenant (or the control plane) failed, 2 bad command line or environment.`;

await runCli(async (_env, connect) => {
  const { values } = parseCommandLine(
    {
      args: process.argv.slice(2),
      options: {
        status: { type: 'boolean', default: false },
        concurrency: { type: 'string', default: '4' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    },
    HELP_COMMAND,
  );
  if (values.help) {
    print(HELP);
    return EXIT.ok;
  }
  const concurrency = Number(values.concurrency);
  if (!/^\d+$/.test(values.concurrency) || concurrency < 1) {
    throw new UsageError(`--concurrency must be a whole number of at least 1, such as --concurrency 8, but got: ${values.concurrency}`);
  }
  const postgres = await connect();
  const options = { ownerUrl: postgres.ownerUrl, hosts: postgres.hosts, concurrency };
  if (values.status) {
    print(...statusLines(await tenantMigrationStatus(options)));
    return EXIT.ok;
  }
  const reporter = process.stderr.isTTY ? progressBar() : plainLines();
  let report: MigrateAllReport;
  try {
    report = await migrateAllTenants({ ...options, onProgress: reporter.update });
  } finally {
    reporter.stop();
  }
  print(...summaryLines(report));
  return report.failed.length > 0 ? EXIT.failed : EXIT.ok;
});

interface Reporter {
  update(progress: MigrationProgress): void;
  stop(): void;
}

function progressBar(): Reporter {
  const bar = new cliProgress.SingleBar(
    { format: 'tenants [{bar}] {value}/{total} | failed {failed} | {current}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(progress) {
      const payload = { failed: progress.failed, current: progress.current };
      if (!started) bar.start(progress.total, progress.done, payload);
      else bar.update(progress.done, payload);
      started = true;
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function plainLines(): Reporter {
  return {
    update(progress) {
      if (progress.state === 'running') return;
      const outcome =
        progress.state === 'migrated'
          ? `applied ${progress.applied.join(', ')}`
          : progress.state === 'failed'
            ? `FAILED: ${progress.error}`
            : 'up to date';
      print(`[${progress.done}/${progress.total}] ${progress.current}: ${outcome}`);
    },
    stop() {},
  };
}

function summaryLines(report: MigrateAllReport): string[] {
  const lines = [
    `control plane and shared tables: ${report.shared.length > 0 ? `applied ${report.shared.join(', ')}` : 'up to date'}`,
    `tenants: ${report.migrated.length} migrated, ${report.upToDate} up to date, ${report.failed.length} failed`,
  ];
  for (const failure of report.failed) lines.push(`  FAILED ${failure.slug} (${failure.strategy}): ${failure.error}`);
  if (report.failed.length > 0) {
    lines.push('Fix the cause and run npm run migrate again: it resumes where it stopped (npm run migrate -- --status lists what is left).');
  }
  return lines;
}

function statusLines(status: MigrationStatusReport): string[] {
  const pending = (names: string[]) => (names.length > 0 ? `pending ${names.join(', ')}` : 'up to date');
  const lines = [`control plane: ${pending(status.controlPlane)}`, `shared tables: ${pending(status.shared)}`];
  for (const tenant of status.tenants) {
    const state = tenant.error ? `cannot tell: ${tenant.error}` : pending(tenant.pending);
    lines.push(`${tenant.slug} (${tenant.strategy}${tenant.status === 'active' ? '' : `, ${tenant.status}`}): ${state}`);
    if (tenant.migrationError) lines.push(`  last run failed: ${tenant.migrationError}`);
  }
  const behind = status.tenants.filter((tenant) => tenant.pending.length > 0 || tenant.error).length;
  lines.push(`${status.tenants.length} tenants with tables of their own; ${behind} not up to date`);
  return lines;
}
