import type { MemberRole } from './control-database.ts';
import type { NewTenant, ProvisionedTenant, TenantProvisioner } from './provisioning.ts';

export interface TenantFixtureShape {
  projects: number;
  tasksPerProject: number;
  commentsPerTask: number;
}

const statuses = ['TODO', 'IN_PROGRESS', 'DONE'] as const;

/**
 * Fills a tenant with projects, tasks and comments (set-based, one statement per table), assigned
 * and written round-robin by the given users. Used by the demo seed, the tests and the benchmarks.
 */
export async function seedTenantData(
  provisioner: TenantProvisioner,
  tenant: ProvisionedTenant,
  userIds: readonly string[],
  shape: TenantFixtureShape,
  projectNames: readonly string[] = [],
): Promise<void> {
  const pick = (index: number) => userIds[index % userIds.length]!;
  if (shape.projects === 0) return;
  await provisioner.writeAs(tenant, async (db) => {
    const projects = await db
      .insertInto('projects')
      .values(
        Array.from({ length: shape.projects }, (_, p) => ({
          tenant_id: tenant.id,
          name: projectNames[p] ?? `${tenant.slug} project ${p + 1}`,
        })),
      )
      .returning('id')
      .execute();
    if (shape.tasksPerProject === 0) return;
    const tasks = await db
      .insertInto('tasks')
      .values(
        projects.flatMap((project, p) =>
          Array.from({ length: shape.tasksPerProject }, (_, t) => ({
            tenant_id: tenant.id,
            project_id: project.id,
            title: `${tenant.slug} task ${p + 1}.${t + 1}`,
            status: statuses[(p + t) % statuses.length]!,
            assignee_id: t % 4 === 3 ? null : pick(p + t),
          })),
        ),
      )
      .returning('id')
      .execute();
    if (shape.commentsPerTask === 0) return;
    await db
      .insertInto('comments')
      .values(
        tasks.flatMap((task, t) =>
          Array.from({ length: shape.commentsPerTask }, (_, c) => ({
            tenant_id: tenant.id,
            task_id: task.id,
            author_id: pick(t + c + 1),
            body: `${tenant.slug} comment ${c + 1} on task ${t + 1}`,
          })),
        ),
      )
      .execute();
  });
}

export interface DemoCredential {
  tenantId: string;
  slug: string;
  name: string;
  strategy: string;
  email: string;
  role: MemberRole;
  apiKey: string;
}

interface DemoTenant extends NewTenant {
  members: { email: string; name: string; role: MemberRole }[];
  projects: string[];
}

/** One demo tenant per isolation strategy, and one for the `role` option. */
const demoTenants: DemoTenant[] = [
  {
    slug: 'acme',
    name: 'Acme Corporation',
    strategy: 'shared',
    members: [
      { email: 'wile@acme.test', name: 'Wile E. Coyote', role: 'admin' },
      { email: 'road@acme.test', name: 'Road Runner', role: 'member' },
      { email: 'bugs@acme.test', name: 'Bugs Bunny', role: 'member' },
    ],
    projects: ['Rocket skates', 'Giant magnet', 'Instant tunnel'],
  },
  {
    slug: 'globex',
    name: 'Globex Corporation',
    strategy: 'schema',
    tier: 'standard',
    members: [
      { email: 'hank@globex.test', name: 'Hank Scorpio', role: 'admin' },
      { email: 'homer@globex.test', name: 'Homer Simpson', role: 'member' },
    ],
    projects: ['Doomsday device', 'Hammock district'],
  },
  {
    slug: 'initech',
    name: 'Initech',
    strategy: 'database',
    tier: 'enterprise',
    members: [
      { email: 'bill@initech.test', name: 'Bill Lumbergh', role: 'admin' },
      { email: 'peter@initech.test', name: 'Peter Gibbons', role: 'member' },
    ],
    projects: ['TPS reports', 'Y2K patch'],
  },
  {
    slug: 'umbrella',
    name: 'Umbrella Corporation',
    strategy: 'shared',
    ownRole: true,
    members: [{ email: 'albert@umbrella.test', name: 'Albert Wesker', role: 'admin' }],
    projects: ['Hive maintenance'],
  },
];

/** Creates the demo tenants with their members and data, unless they exist. */
export async function seedDemoTenants(provisioner: TenantProvisioner): Promise<void> {
  for (const demo of demoTenants) {
    const existing = await provisioner.owner
      .selectFrom('control.tenants')
      .select('status')
      .where('slug', '=', demo.slug)
      .executeTakeFirst();
    if (existing?.status === 'active' || existing?.status === 'suspended') continue;
    const tenant = await provisioner.createTenant(demo);
    const userIds: string[] = [];
    for (const member of demo.members) userIds.push((await provisioner.addMember(tenant, member)).userId);
    await seedTenantData(
      provisioner,
      tenant,
      userIds,
      { projects: demo.projects.length, tasksPerProject: 4, commentsPerTask: 2 },
      demo.projects,
    );
  }
}

/**
 * Issues a fresh API key for the admin of each demo tenant. Keys exist nowhere else in clear, so
 * the caller keeps them (npm start writes them under the data folder and prints curl lines).
 */
export async function issueDemoKeys(provisioner: TenantProvisioner): Promise<DemoCredential[]> {
  const credentials: DemoCredential[] = [];
  for (const demo of demoTenants) {
    const admin = demo.members[0]!;
    const row = await provisioner.owner
      .selectFrom('control.tenants as t')
      .innerJoin('control.memberships as m', 'm.tenant_id', 't.id')
      .innerJoin('control.users as u', 'u.id', 'm.user_id')
      .select(['t.id as tenantId', 't.name', 't.strategy', 't.own_role', 'u.id as userId'])
      .where('t.slug', '=', demo.slug)
      .where('u.email', '=', admin.email)
      .executeTakeFirstOrThrow();
    const apiKey = await provisioner.issueApiKey({ tenantId: row.tenantId, userId: row.userId, role: admin.role });
    credentials.push({
      tenantId: row.tenantId,
      slug: demo.slug,
      name: row.name,
      strategy: row.own_role && row.strategy === 'shared' ? 'shared + own role' : row.strategy,
      email: admin.email,
      role: admin.role,
      apiKey,
    });
  }
  return credentials;
}
