import type { Kysely } from 'kysely';
import type { MemberRole } from './control-database.ts';
import { addMember, bindTenant, createTenant, issueApiKey, type OwnerDatabase } from './provisioning.ts';
import { SHARED_SCHEMA } from './roles.ts';

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
  owner: Kysely<OwnerDatabase>,
  tenant: { id: string; slug: string },
  userIds: readonly string[],
  shape: TenantFixtureShape,
  projectNames: readonly string[] = [],
): Promise<void> {
  const pick = (index: number) => userIds[index % userIds.length]!;
  await owner.transaction().execute(async (trx) => {
    await bindTenant(trx, tenant.id);
    const projects = await trx
      .insertInto(`${SHARED_SCHEMA}.projects`)
      .values(
        Array.from({ length: shape.projects }, (_, p) => ({
          tenant_id: tenant.id,
          name: projectNames[p] ?? `${tenant.slug} project ${p + 1}`,
        })),
      )
      .returning('id')
      .execute();
    if (shape.tasksPerProject === 0) return;
    const tasks = await trx
      .insertInto(`${SHARED_SCHEMA}.tasks`)
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
    await trx
      .insertInto(`${SHARED_SCHEMA}.comments`)
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
  email: string;
  role: MemberRole;
  apiKey: string;
}

interface DemoTenant {
  slug: string;
  name: string;
  members: { email: string; name: string; role: MemberRole }[];
  projects: string[];
}

const demoTenants: DemoTenant[] = [
  {
    slug: 'acme',
    name: 'Acme Corporation',
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
    members: [
      { email: 'hank@globex.test', name: 'Hank Scorpio', role: 'admin' },
      { email: 'homer@globex.test', name: 'Homer Simpson', role: 'member' },
    ],
    projects: ['Doomsday device', 'Hammock district'],
  },
];

/** Creates the demo tenants with their members and data, unless they exist. */
export async function seedDemoTenants(owner: Kysely<OwnerDatabase>): Promise<void> {
  for (const demo of demoTenants) {
    const existing = await owner.selectFrom('control.tenants').select('id').where('slug', '=', demo.slug).executeTakeFirst();
    if (existing) continue;
    const tenant = await createTenant(owner, demo);
    const userIds: string[] = [];
    for (const member of demo.members) userIds.push((await addMember(owner, tenant.id, member)).userId);
    await seedTenantData(
      owner,
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
export async function issueDemoKeys(owner: Kysely<OwnerDatabase>): Promise<DemoCredential[]> {
  const credentials: DemoCredential[] = [];
  for (const demo of demoTenants) {
    const admin = demo.members[0]!;
    const row = await owner
      .selectFrom('control.tenants as t')
      .innerJoin('control.memberships as m', 'm.tenant_id', 't.id')
      .innerJoin('control.users as u', 'u.id', 'm.user_id')
      .select(['t.id as tenantId', 't.name', 'u.id as userId'])
      .where('t.slug', '=', demo.slug)
      .where('u.email', '=', admin.email)
      .executeTakeFirstOrThrow();
    const apiKey = await issueApiKey(owner, { tenantId: row.tenantId, userId: row.userId, role: admin.role });
    credentials.push({ tenantId: row.tenantId, slug: demo.slug, name: row.name, email: admin.email, role: admin.role, apiKey });
  }
  return credentials;
}
