import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { seedTenantData, TenantProvisioner, type ProvisionedTenant } from '@tenant-app/db';
import type { PlannedTenant, Strategy, TenantDataShape } from './profile.ts';
import { parseSeedFile, type SeedFile, type SeedLine, type SeededTenant } from './seed-format.ts';
import { forEachLimited } from './concurrency.ts';

export interface SeedOptions {
  /** The owner login of the main database (`DATABASE_URL`). */
  ownerUrl: string;
  tenants: readonly PlannedTenant[];
  data: TenantDataShape;
  /** The seed file; tenants already in it are kept, the others are created and appended. */
  file: string;
  /**
   * Tenants created at once, per strategy. Two database tenants provisioned at once on one host
   * fail now and then with "tuple concurrently updated" (both alter the shared group role); such a
   * tenant is created again, which resumes it. @default { shared: 4, schema: 4, database: 2 }
   */
  concurrency?: Partial<Record<Strategy, number>>;
  onProgress?: (done: number, total: number) => void;
}

export interface SeedReport {
  file: string;
  /** Tenants that were already in the seed file. */
  reused: number;
  /** Tenants created by this run, and how long they took, per strategy. */
  created: Record<Strategy, { count: number; seconds: number; msPerTenant: number }>;
  seconds: number;
}

/** Rows per statement of the set-based steps: big enough to amortize a round trip, small enough for one bind message. */
const BATCH = 500;
const TASK_IDS_PER_TENANT = 3;
const PROVISIONING_ATTEMPTS = 3;

/**
 * Creates the tenants a profile needs, with an admin, an API key and data, and appends each to the
 * seed file once it is complete. Shared tenants are created set-based (their control-plane rows a
 * batch per statement: the provisioner's one-by-one path makes ~17 round trips per tenant, 60
 * tenants a second here), then filled through the provisioner's own writes. Schema and database
 * tenants go through `TenantProvisioner.createTenant`, since their schema, role, database and
 * migrations are what provisioning is. Tenants left half made by an interrupted run (in the
 * database but not in the seed file) are deleted and made again.
 */
export async function seedTenants(options: SeedOptions): Promise<SeedReport> {
  const started = performance.now();
  mkdirSync(path.dirname(options.file), { recursive: true });
  const existing = readSeed(options.file);
  const known = new Set(existing.tenants.map((tenant) => tenant.slug));
  const missing = options.tenants.filter((tenant) => !known.has(tenant.slug));
  const provisioner = new TenantProvisioner({ ownerUrl: options.ownerUrl });
  const created = { shared: stat(), schema: stat(), database: stat() };
  let done = options.tenants.length - missing.length;
  const progress = () => options.onProgress?.(done, options.tenants.length);
  progress();
  const append = (line: SeedLine) => appendFileSync(options.file, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  try {
    if (!existing.platformKey) append({ kind: 'platform-key', key: await provisioner.issuePlatformKey('load-runner') });
    await deleteLeftovers(provisioner, missing);
    const concurrency = { shared: 4, schema: 4, database: 2, ...options.concurrency };

    const shared = missing.filter((tenant) => tenant.strategy === 'shared');
    let phase = performance.now();
    for (let offset = 0; offset < shared.length; offset += BATCH) {
      const batch = shared.slice(offset, offset + BATCH);
      const rows = await insertSharedTenants(provisioner, batch);
      const completed: SeededTenant[] = [];
      await forEachLimited(rows, concurrency.shared, async ({ planned, tenant, userId }) => {
        completed.push(await completeTenant(provisioner, planned, tenant, userId, options.data));
        done += 1;
        progress();
      });
      // Active, then in the seed file: a batch cut short stays 'provisioning' and is made again next time.
      await provisioner.owner
        .updateTable('control.tenants')
        .set({ status: 'active' })
        .where('id', 'in', completed.map((tenant) => tenant.id))
        .execute();
      for (const tenant of completed) append(tenant);
    }
    finish(created.shared, shared.length, phase);

    for (const strategy of ['schema', 'database'] as const) {
      const own = missing.filter((tenant) => tenant.strategy === strategy);
      phase = performance.now();
      await forEachLimited(own, concurrency[strategy], async (planned) => {
        const tenant = await provision(provisioner, planned);
        const { userId } = await provisioner.addMember(tenant, adminOf(planned));
        append(await completeTenant(provisioner, planned, tenant, userId, options.data));
        done += 1;
        progress();
      });
      finish(created[strategy], own.length, phase);
    }
  } finally {
    await provisioner.close();
  }
  return {
    file: options.file,
    reused: options.tenants.length - missing.length,
    created,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The seed file as written so far; empty when there is none. */
export function readSeed(file: string): SeedFile {
  return existsSync(file) ? parseSeedFile(readFileSync(file, 'utf8')) : { tenants: [], platformKey: undefined };
}

function stat() {
  return { count: 0, seconds: 0, msPerTenant: 0 };
}

function finish(entry: { count: number; seconds: number; msPerTenant: number }, count: number, since: number) {
  entry.count = count;
  entry.seconds = (performance.now() - since) / 1000;
  entry.msPerTenant = count > 0 ? (entry.seconds * 1000) / count : 0;
}

function adminOf(planned: PlannedTenant) {
  return { email: `admin@${planned.slug}.load.test`, name: `${planned.slug} admin`, role: 'admin' as const };
}

async function deleteLeftovers(provisioner: TenantProvisioner, missing: readonly PlannedTenant[]): Promise<void> {
  for (let offset = 0; offset < missing.length; offset += BATCH) {
    const slugs = missing.slice(offset, offset + BATCH).map((tenant) => tenant.slug);
    const leftovers = await provisioner.owner.selectFrom('control.tenants').select('slug').where('slug', 'in', slugs).execute();
    for (const { slug } of leftovers) await provisioner.deleteTenant(slug);
  }
}

/** Control-plane rows of a batch of shared tenants: tenant, admin user and membership, three statements. */
async function insertSharedTenants(provisioner: TenantProvisioner, batch: readonly PlannedTenant[]) {
  const owner = provisioner.owner;
  const tenants = await owner
    .insertInto('control.tenants')
    .values(batch.map((planned) => ({ slug: planned.slug, name: planned.slug, strategy: 'shared', tier: planned.tier, status: 'provisioning' })))
    .returning(['id', 'slug'])
    .execute();
  const admins = batch.map(adminOf);
  // Users outlive deleted tenants, so a seeding run after an interrupted one finds some of them.
  const found = await owner
    .selectFrom('control.users')
    .select(['id', 'email'])
    .where('email', 'in', admins.map((admin) => admin.email))
    .execute();
  const fresh = admins.filter((admin) => !found.some((user) => user.email === admin.email));
  const inserted =
    fresh.length === 0
      ? []
      : await owner
          .insertInto('control.users')
          .values(fresh.map((admin) => ({ email: admin.email, name: admin.name })))
          .returning(['id', 'email'])
          .execute();
  const userByEmail = new Map([...found, ...inserted].map((user) => [user.email, user.id]));
  const tenantBySlug = new Map(tenants.map((tenant) => [tenant.slug, tenant.id]));
  const rows = batch.map((planned) => ({
    planned,
    tenant: { id: tenantBySlug.get(planned.slug)!, slug: planned.slug, name: planned.slug, strategy: 'shared' as const, ownRole: false, tier: planned.tier },
    userId: userByEmail.get(adminOf(planned).email)!,
  }));
  await owner
    .insertInto('control.memberships')
    .values(rows.map((row) => ({ tenant_id: row.tenant.id, user_id: row.userId, role: 'admin' })))
    .execute();
  return rows;
}

/** `createTenant`, tried again when it fails: a failed tenant is resumed by creating it again. */
async function provision(provisioner: TenantProvisioner, planned: PlannedTenant): Promise<ProvisionedTenant> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await provisioner.createTenant({ slug: planned.slug, name: planned.slug, strategy: planned.strategy, tier: planned.tier });
    } catch (error) {
      if (attempt >= PROVISIONING_ATTEMPTS) throw error;
    }
  }
}

/** The admin's profile row (a shared tenant's; `addMember` wrote the others'), the tenant's data, a few task ids and an API key. */
async function completeTenant(
  provisioner: TenantProvisioner,
  planned: PlannedTenant,
  tenant: ProvisionedTenant,
  userId: string,
  data: TenantDataShape,
): Promise<SeededTenant> {
  if (tenant.strategy === 'shared') {
    const admin = adminOf(planned);
    await provisioner.writeAs(tenant, (db) =>
      db
        .insertInto('users')
        .values({ tenant_id: tenant.id, id: userId, email: admin.email, name: admin.name })
        .onConflict((conflict) => conflict.columns(['tenant_id', 'id']).doNothing())
        .execute(),
    );
  }
  await seedTenantData(provisioner, tenant, [userId], data);
  const tasks =
    data.projects * data.tasksPerProject === 0
      ? []
      : await provisioner.writeAs(tenant, (db) =>
          db.selectFrom('tasks').select('id').orderBy('created_at').orderBy('id').limit(TASK_IDS_PER_TENANT).execute(),
        );
  const apiKey = await provisioner.issueApiKey({ tenantId: tenant.id, userId, role: 'admin' });
  return {
    kind: 'tenant',
    index: planned.index,
    id: tenant.id,
    slug: planned.slug,
    strategy: planned.strategy,
    tier: planned.tier,
    apiKey,
    taskIds: tasks.map((task) => Buffer.from(`Task:${task.id}`).toString('base64')),
  };
}
