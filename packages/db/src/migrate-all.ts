import { sql, type Kysely, type MigrationProvider } from 'kysely';
import type { TenantStatus } from './control-database.ts';
import { migrateTenantTables, migrateToLatest, pendingControlMigrations, pendingTenantMigrations } from './migrate.ts';
import { tenantMigrations as builtInTenantMigrations } from './migrations/index.ts';
import { connectAsOwner, hostOwnerUrl, withDatabase, type OwnerDatabase, type ProvisionerOptions } from './provisioning.ts';
import { ACCESS_ROLE, SHARED_SCHEMA } from './roles.ts';
import { installTenantDatabaseKeys } from './tenant-binding-key.ts';
import { readTenantLoginKey, setLoginPassword, type TenantLoginKey } from './tenant-login-key.ts';
import { tenantRoleName, tenantSchemaName } from './tenant-names.ts';

/** Strategies whose tenants have tables of their own, migrated one tenant at a time. */
type OwnTablesStrategy = 'schema' | 'database';

export interface MigrateAllOptions extends ProvisionerOptions {
  /** Tenants migrated at the same time, each on connections of its own. @default 4 */
  concurrency?: number;
  /** Called when a tenant starts and when it ends, in the order it happens. */
  onProgress?: (progress: MigrationProgress) => void;
  /**
   * The migrations of the tenant tables, for every target (the shared schema too). For tests and
   * for extensions that bring tables of their own. @default the built-in tenant migrations
   */
  tenantMigrations?: MigrationProvider;
}

/** What `tenantMigrationStatus` needs: the same targets and migrations as a run. */
export type MigrationStatusOptions = Omit<MigrateAllOptions, 'onProgress'>;

export interface MigrationProgress {
  /** Tenants finished, failed ones included. */
  done: number;
  /** Tenants with tables of their own (`schema`, `database`) in this run. */
  total: number;
  failed: number;
  /** The slug of the tenant that started or ended. */
  current: string;
  state: 'running' | 'migrated' | 'up-to-date' | 'failed';
  /** What was applied to `current` (state `migrated`). */
  applied: string[];
  /** Why `current` failed (state `failed`). */
  error?: string;
}

export interface MigrateAllReport {
  /** Migrations applied to the control plane and the shared tables, as `target: name`. */
  shared: string[];
  /** Tenants that had migrations applied, with what was applied. */
  migrated: { slug: string; strategy: OwnTablesStrategy; applied: string[] }[];
  /** Tenants whose migration failed; each is recorded in `control.tenants.migration_error`. */
  failed: { slug: string; strategy: OwnTablesStrategy; error: string }[];
  /** Tenants that had nothing pending. */
  upToDate: number;
}

export interface TenantMigrationStatus {
  slug: string;
  strategy: OwnTablesStrategy;
  status: TenantStatus;
  /** Migrations not yet applied; empty when the tenant could not be reached (see `error`). */
  pending: string[];
  /** Why the pending migrations could not be read. */
  error?: string;
  /** When a run last found or left the tenant up to date; null before the first run. */
  migratedAt: Date | null;
  /** Why the last run failed for this tenant, until a run succeeds. */
  migrationError: string | null;
}

export interface MigrationStatusReport {
  /** Control-plane migrations not yet applied. */
  controlPlane: string[];
  /** Tenant-table migrations not yet applied to the shared schema (every `shared` tenant). */
  shared: string[];
  tenants: TenantMigrationStatus[];
}

interface OwnTablesTenant {
  id: string;
  slug: string;
  strategy: OwnTablesStrategy;
  status: TenantStatus;
  host: string;
}

/**
 * Brings every target up to date: the control plane and the shared tables once, then each
 * `schema` tenant's schema and each `database` tenant's database, a few at a time. One tenant's
 * failure is recorded in the control plane and reported while the others go on; a run after it
 * resumes, since applied migrations are skipped. Tenants that are still provisioning, or whose
 * provisioning failed, are left to `createTenant`, which migrates them when it completes them.
 * Throws when the control plane or the shared tables cannot be migrated (nothing else is
 * attempted then) or when the control plane cannot record a tenant's result.
 */
export async function migrateAllTenants(options: MigrateAllOptions): Promise<MigrateAllReport> {
  const { concurrency, provider } = normalise(options);
  const { applied: shared } = await migrateToLatest(options.ownerUrl, provider);
  const report: MigrateAllReport = { shared, migrated: [], failed: [], upToDate: 0 };
  const owner = connectAsOwner(options.ownerUrl, 2);
  try {
    const tenants = await tenantsWithOwnTables(owner);
    const passwords = await readTenantLoginKey(owner);
    let done = 0;
    const progress = (tenant: OwnTablesTenant, state: MigrationProgress['state'], applied: string[] = [], error?: string) =>
      options.onProgress?.({
        done,
        total: tenants.length,
        failed: report.failed.length,
        current: tenant.slug,
        state,
        applied,
        ...(error === undefined ? {} : { error }),
      });
    await forEachConcurrently(tenants, concurrency, async (tenant) => {
      progress(tenant, 'running');
      let applied: string[];
      try {
        const target = ownTablesTarget(options, tenant);
        applied = await migrateTenantTables(target.ownerUrl, target.schema, target.reader, provider);
        // Every run, not only when a migration applied: it is how a rotated key, binding or login,
        // reaches the tenant, and how logins on other hosts than the main one got their derived
        // password when passwords stopped being stored.
        if (tenant.strategy === 'database') await installKeys(owner, target.ownerUrl, tenant.id, passwords);
      } catch (cause) {
        const error = cause instanceof Error ? cause.message : String(cause);
        await owner.updateTable('control.tenants').set({ migration_error: error }).where('id', '=', tenant.id).execute();
        report.failed.push({ slug: tenant.slug, strategy: tenant.strategy, error });
        done += 1;
        progress(tenant, 'failed', [], error);
        return;
      }
      await owner
        .updateTable('control.tenants')
        .set({ migrated_at: sql<Date>`now()`, migration_error: null })
        .where('id', '=', tenant.id)
        .execute();
      if (applied.length > 0) report.migrated.push({ slug: tenant.slug, strategy: tenant.strategy, applied });
      else report.upToDate += 1;
      done += 1;
      progress(tenant, applied.length > 0 ? 'migrated' : 'up-to-date', applied);
    });
  } finally {
    await owner.destroy();
  }
  return report;
}

/** What `migrateAllTenants` would apply: per target, the migrations not yet applied. Changes nothing. */
export async function tenantMigrationStatus(options: MigrationStatusOptions): Promise<MigrationStatusReport> {
  const { concurrency, provider } = normalise(options);
  const controlPlane = await pendingControlMigrations(options.ownerUrl);
  const shared = await pendingTenantMigrations(options.ownerUrl, SHARED_SCHEMA, provider);
  const owner = connectAsOwner(options.ownerUrl, 1);
  try {
    // The columns of the last run arrive with a control-plane migration; before it they do not exist.
    const lastRunKnown = controlPlane.length === 0;
    const lastRuns = new Map(
      lastRunKnown
        ? (await owner.selectFrom('control.tenants').select(['id', 'migrated_at', 'migration_error']).execute()).map(
            (row) => [row.id, row] as const,
          )
        : [],
    );
    const tenants = await tenantsWithOwnTables(owner);
    const statuses: TenantMigrationStatus[] = [];
    await forEachConcurrently(tenants, concurrency, async (tenant) => {
      const lastRun = lastRuns.get(tenant.id);
      const status: TenantMigrationStatus = {
        slug: tenant.slug,
        strategy: tenant.strategy,
        status: tenant.status,
        pending: [],
        migratedAt: lastRun?.migrated_at ?? null,
        migrationError: lastRun?.migration_error ?? null,
      };
      try {
        const target = ownTablesTarget(options, tenant);
        status.pending = await pendingTenantMigrations(target.ownerUrl, target.schema, provider);
      } catch (cause) {
        status.error = cause instanceof Error ? cause.message : String(cause);
      }
      statuses.push(status);
    });
    statuses.sort((a, b) => a.slug.localeCompare(b.slug));
    return { controlPlane, shared, tenants: statuses };
  } finally {
    await owner.destroy();
  }
}

function normalise(options: MigrationStatusOptions): { concurrency: number; provider: MigrationProvider } {
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a whole number of tenants of at least 1, but got: ${String(options.concurrency)}`);
  }
  return { concurrency, provider: options.tenantMigrations ?? builtInTenantMigrations };
}

async function tenantsWithOwnTables(owner: Kysely<OwnerDatabase>): Promise<OwnTablesTenant[]> {
  return owner
    .selectFrom('control.tenants')
    .select(['id', 'slug', 'strategy', 'status', 'host'])
    .where('strategy', 'in', ['schema', 'database'])
    .where('status', 'in', ['active', 'suspended'])
    .orderBy('slug')
    .$narrowType<{ strategy: OwnTablesStrategy }>()
    .execute();
}

/** Where a tenant's own tables are, the owner's way in, and the role that may read them (as provisioned). */
function ownTablesTarget(
  options: ProvisionerOptions,
  tenant: OwnTablesTenant,
): { ownerUrl: string; schema: string; reader: string } {
  if (tenant.strategy === 'schema') {
    return { ownerUrl: options.ownerUrl, schema: tenantSchemaName(tenant.slug), reader: tenantRoleName(tenant.id) };
  }
  return {
    ownerUrl: withDatabase(hostOwnerUrl(options, tenant.host), tenantRoleName(tenant.id)),
    schema: SHARED_SCHEMA,
    reader: ACCESS_ROLE,
  };
}

/** The tenant database's binding keys, and its login's password (derived, set by the owner of its host). */
async function installKeys(
  mainOwner: Kysely<OwnerDatabase>,
  tenantDatabaseOwnerUrl: string,
  tenantId: string,
  passwords: TenantLoginKey,
): Promise<void> {
  const databaseOwner = connectAsOwner(tenantDatabaseOwnerUrl, 1);
  try {
    await installTenantDatabaseKeys(mainOwner, databaseOwner, tenantId);
    await setLoginPassword(databaseOwner, tenantRoleName(tenantId), passwords.password(tenantId));
  } finally {
    await databaseOwner.destroy();
  }
}

/** Runs `work` on every item, at most `limit` at a time; `work` reports its own failures. */
async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  const outcomes = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const rejected = outcomes.find((outcome) => outcome.status === 'rejected');
  if (rejected) throw rejected.reason;
}
