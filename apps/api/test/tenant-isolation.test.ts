import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CommentRow, NewTenant, ProjectRow, TaskRow, UserRow } from '@tenant-app/db';
import { findPgBouncer } from '@tenant-app/db/testing';
import { createTestApi, globalId, provisionTenant, type GraphQLResponse, type TestApi, type TestTenant } from './support.ts';

let t: TestApi;
let acme: TestTenant;
let globex: TestTenant;

interface TenantRows {
  users: UserRow[];
  projects: ProjectRow[];
  tasks: TaskRow[];
  comments: CommentRow[];
}


/**
 * A tenant's rows as the owner reads them, wherever its strategy keeps them (bound to the tenant:
 * tenant tables force RLS on their owner too).
 */
function rowsOf(tenant: TestTenant): Promise<TenantRows> {
  return t.database.provisioner.writeAs(tenant, async (db) => ({
    users: await db.selectFrom('users').selectAll().orderBy('id').execute(),
    projects: await db.selectFrom('projects').selectAll().orderBy('created_at').orderBy('id').execute(),
    tasks: await db.selectFrom('tasks').selectAll().orderBy('created_at').orderBy('id').execute(),
    comments: await db.selectFrom('comments').selectAll().orderBy('created_at').orderBy('id').execute(),
  }));
}

async function bothTenants(): Promise<{ acme: TenantRows; globex: TenantRows }> {
  return { acme: await rowsOf(acme), globex: await rowsOf(globex) };
}

const missingId = (type: string) => globalId(type, randomUUID());

/**
 * Sends the same operation with a foreign id and with an id that exists nowhere: the answers must
 * be the same to the byte, so that a foreign id cannot be told apart from a missing one.
 */
async function expectForeignLikeMissing(
  query: string,
  variables: (id: string) => Record<string, unknown>,
  foreignId: string,
  missing: string,
): Promise<GraphQLResponse> {
  const foreign = await t.graphql(acme, query, variables(foreignId));
  const absent = await t.graphql(acme, query, variables(missing));
  expect(foreign.status).toBe(absent.status);
  expect(foreign.text).toBe(absent.text);
  return foreign;
}

const TREE = `{
  projects(first: 100) {
    edges { node {
      id name taskCount
      tasks(first: 100) {
        id title status
        project { id }
        assignee { id name }
        comments(first: 100) { id body author { id name } }
      }
    } }
    pageInfo { hasNextPage }
  }
}`;

/** What TREE must return for a tenant, built from the owner's reading of its rows. */
function expectedTree(rows: TenantRows) {
  const userById = new Map(rows.users.map((user) => [user.id, user]));
  const user = (id: string | null) => (id ? { id: globalId('User', id), name: userById.get(id)!.name } : null);
  return {
    projects: {
      edges: rows.projects.map((project) => {
        const tasks = rows.tasks.filter((task) => task.project_id === project.id);
        return {
          node: {
            id: globalId('Project', project.id),
            name: project.name,
            taskCount: tasks.length,
            tasks: tasks.map((task) => ({
              id: globalId('Task', task.id),
              title: task.title,
              status: task.status,
              project: { id: globalId('Project', project.id) },
              assignee: user(task.assignee_id),
              comments: rows.comments
                .filter((comment) => comment.task_id === task.id)
                .map((comment) => ({ id: globalId('Comment', comment.id), body: comment.body, author: user(comment.author_id) })),
            })),
          },
        };
      }),
      pageInfo: { hasNextPage: false },
    },
  };
}

const notFound = (field: string, what: string) => ({
  data: null,
  errors: [{ message: `${what} not found`, locations: [{ line: 1, column: expect.any(Number) }], path: [field], extensions: { code: 'NOT_FOUND' } }],
});

type Placement = Omit<NewTenant, 'slug' | 'name'>;

interface Deployment {
  name: string;
  acme: Placement;
  globex: Placement;
  /** Requests go through a real PgBouncer in transaction mode, with one server connection. */
  pgbouncer?: boolean;
}

/** The same suite for every strategy, and for a mixed pair: isolation must not depend on where rows live. */
const deployments: Deployment[] = [
  { name: 'shared', acme: { strategy: 'shared' }, globex: { strategy: 'shared' } },
  { name: 'schema', acme: { strategy: 'schema' }, globex: { strategy: 'schema' } },
  { name: 'database', acme: { strategy: 'database' }, globex: { strategy: 'database' } },
  { name: 'shared with own roles', acme: { strategy: 'shared', ownRole: true }, globex: { strategy: 'shared', ownRole: true } },
  { name: 'mixed (schema beside shared)', acme: { strategy: 'schema' }, globex: { strategy: 'shared' } },
];

/**
 * The shared pool's connections go through PgBouncer as in docker-compose.yml. `database` tenants
 * are left out: their own pools connect to their databases directly, there as here.
 */
const throughPgBouncer: Deployment[] = deployments
  .filter((deployment) => deployment.acme.strategy !== 'database')
  .map((deployment) => ({ ...deployment, pgbouncer: true }));

function isolationSuite(deployment: Deployment) {
  beforeAll(async () => {
    // One shared connection: every request below reuses the connection of the request before it,
    // so any tenant state left on a connection would show up in the next tenant's answers. Through
    // PgBouncer, the one server connection also serves the control plane's lookups in between.
    t = await createTestApi({ maxConnections: 1 }, deployment.pgbouncer ? { pgbouncer: { poolSize: 1 } } : {});
    // Different sizes, so that every count tells whose rows were counted.
    acme = await provisionTenant(t.database.provisioner, 'acme', { projects: 5, tasksPerProject: 3, commentsPerTask: 2 }, deployment.acme);
    globex = await provisionTenant(t.database.provisioner, 'globex', { projects: 2, tasksPerProject: 4, commentsPerTask: 1 }, deployment.globex);
  });
  afterAll(() => t.close());

  describe('the fixture', () => {
    test('holds two tenants of different sizes, each with only its own rows', async () => {
      const rows = await bothTenants();
      expect([rows.acme.users.length, rows.acme.projects.length, rows.acme.tasks.length, rows.acme.comments.length]).toEqual([2, 5, 15, 30]);
      expect([rows.globex.users.length, rows.globex.projects.length, rows.globex.tasks.length, rows.globex.comments.length]).toEqual([2, 2, 8, 8]);
      for (const [tenant, tenantRows] of [[acme, rows.acme], [globex, rows.globex]] as const) {
        const tenantIds = Object.values(tenantRows).flatMap((table: { tenant_id: string }[]) => table.map((row) => row.tenant_id));
        expect(new Set(tenantIds)).toEqual(new Set([tenant.id]));
      }
    });
  });

  describe('queries', () => {
    test('viewer and tenant are the caller and its own tenant, for admin and member keys', async () => {
      for (const tenant of [acme, globex]) {
        for (const [apiKey, userId, role] of [[tenant.adminKey, tenant.adminId, 'admin'], [tenant.memberKey, tenant.memberId, 'member']] as const) {
          const response = await t.graphql(tenant, '{ viewer { id email name } tenant { id slug name } }', {}, { apiKey });
          expect(response.body).toEqual({
            data: {
              viewer: { id: globalId('User', userId), email: `${role}@${tenant.slug}.test`, name: `${tenant.slug} ${role}` },
              tenant: { id: tenant.id, slug: tenant.slug, name: `${tenant.slug} inc.` },
            },
          });
        }
      }
    });

    test('projects with their tasks, taskCount, assignees, comments and authors are exactly the tenant own rows', async () => {
      const rows = await bothTenants();
      for (const [tenant, tenantRows] of [[acme, rows.acme], [globex, rows.globex]] as const) {
        const response = await t.graphql(tenant, TREE);
        expect(response.body).toEqual({ data: expectedTree(tenantRows) });
      }
    });

    test('projects pages forward with after through the tenant own projects only', async () => {
      const rows = await bothTenants();
      for (const [tenant, tenantRows, pageSizes] of [[acme, rows.acme, [2, 2, 1]], [globex, rows.globex, [2]]] as const) {
        const seen: string[] = [];
        const sizes: number[] = [];
        let after: string | null = null;
        // Bounded: a cursor that does not advance would otherwise page forever.
        for (let page = 0; page < 10; page += 1) {
          const response: GraphQLResponse = await t.graphql(
            tenant,
            'query($after: String) { projects(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }',
            { after },
          );
          expect(response.body.errors).toBeUndefined();
          const page = response.body.data!.projects;
          seen.push(...page.edges.map((edge: { node: { id: string } }) => edge.node.id));
          sizes.push(page.edges.length);
          if (!page.pageInfo.hasNextPage) break;
          after = page.pageInfo.endCursor;
        }
        expect(sizes).toEqual(pageSizes);
        expect(seen).toEqual(tenantRows.projects.map((project) => globalId('Project', project.id)));
      }
    });

    test('project(id) and task(id) answer a globex id exactly like a missing id, and globex itself finds it', async () => {
      const rows = await bothTenants();
      const cases = [
        { field: 'project', type: 'Project', own: rows.acme.projects[0]!.id, foreign: rows.globex.projects[0]!.id },
        { field: 'task', type: 'Task', own: rows.acme.tasks[0]!.id, foreign: rows.globex.tasks[0]!.id },
      ];
      for (const { field, type, own, foreign } of cases) {
        const query = `query($id: ID!) { ${field}(id: $id) { id } }`;
        const response = await expectForeignLikeMissing(query, (id) => ({ id }), globalId(type, foreign), missingId(type));
        expect(response.status).toBe(200);
        expect(response.body).toEqual({ data: { [field]: null } });
        // The foreign id is real: its own tenant finds it, and acme finds its own row the same way.
        expect((await t.graphql(globex, query, { id: globalId(type, foreign) })).body).toEqual({ data: { [field]: { id: globalId(type, foreign) } } });
        expect((await t.graphql(acme, query, { id: globalId(type, own) })).body).toEqual({ data: { [field]: { id: globalId(type, own) } } });
      }
    });

    test('node(id) answers a globex Project, Task or User id exactly like a missing id', async () => {
      const rows = await bothTenants();
      const cases = [
        ['Project', rows.globex.projects[1]!.id],
        ['Task', rows.globex.tasks[5]!.id],
        ['User', globex.adminId],
        ['User', globex.memberId],
      ] as const;
      const query = 'query($id: ID!) { node(id: $id) { id __typename } }';
      for (const [type, foreign] of cases) {
        const response = await expectForeignLikeMissing(query, (id) => ({ id }), globalId(type, foreign), missingId(type));
        expect(response.body).toEqual({ data: { node: null } });
        expect((await t.graphql(globex, query, { id: globalId(type, foreign) })).body).toEqual({
          data: { node: { id: globalId(type, foreign), __typename: type } },
        });
      }
    });

    test('node(id) refetches an own comment, and answers a globex comment exactly as a missing one', async () => {
      const rows = await bothTenants();
      const query = 'query($id: ID!) { node(id: $id) { id ... on Comment { body } } }';
      const foreign = await expectForeignLikeMissing(query, (id) => ({ id }), globalId('Comment', rows.globex.comments[0]!.id), missingId('Comment'));
      expect(foreign.body).toEqual({ data: { node: null } });
      const ownId = globalId('Comment', rows.acme.comments[0]!.id);
      const own = await t.graphql(acme, query, { id: ownId });
      expect(own.body).toEqual({ data: { node: { id: ownId, body: rows.acme.comments[0]!.body } } });
    });

    test('nodes(ids) returns null for globex ids, just as for missing ids, and the own rows in place', async () => {
      const rows = await bothTenants();
      const ids = [
        globalId('Project', rows.acme.projects[2]!.id),
        globalId('Project', rows.globex.projects[0]!.id),
        missingId('Project'),
        globalId('Task', rows.acme.tasks[7]!.id),
        globalId('Task', rows.globex.tasks[0]!.id),
        globalId('User', globex.memberId),
        globalId('User', acme.memberId),
      ];
      const response = await t.graphql(acme, 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids });
      expect(response.body).toEqual({ data: { nodes: [{ id: ids[0] }, null, null, { id: ids[3] }, null, null, { id: ids[6] }] } });
    });
  });

  describe('mutations', () => {
    test('createProject and createTask write into the caller tenant only, and its counts follow exactly', async () => {
      const before = await bothTenants();
      const project = await t.graphql(acme, 'mutation { createProject(name: "Acme launch") { id name taskCount tasks { id } } }');
      expect(project.body.errors).toBeUndefined();
      const projectId: string = project.body.data!.createProject.id;
      expect(project.body.data!.createProject).toEqual({ id: projectId, name: 'Acme launch', taskCount: 0, tasks: [] });

      const task = await t.graphql(
        acme,
        'mutation($projectId: ID!, $assigneeId: ID) { createTask(projectId: $projectId, title: "Fuel", assigneeId: $assigneeId) { title project { id } assignee { id } } }',
        { projectId, assigneeId: globalId('User', acme.memberId) },
        { apiKey: acme.memberKey },
      );
      expect(task.body).toEqual({ data: { createTask: { title: 'Fuel', project: { id: projectId }, assignee: { id: globalId('User', acme.memberId) } } } });

      const after = await bothTenants();
      expect(after.globex).toEqual(before.globex);
      expect(after.acme.projects).toHaveLength(before.acme.projects.length + 1);
      expect(after.acme.tasks).toHaveLength(before.acme.tasks.length + 1);
      expect(after.acme.projects.at(-1)).toMatchObject({ tenant_id: acme.id, name: 'Acme launch' });
      for (const [tenant, rows] of [[acme, after.acme], [globex, after.globex]] as const) {
        const counts = await t.graphql(tenant, '{ projects(first: 100) { edges { node { id taskCount } } } }');
        expect(counts.body).toEqual({
          data: {
            projects: {
              edges: rows.projects.map((row) => ({
                node: { id: globalId('Project', row.id), taskCount: rows.tasks.filter((task) => task.project_id === row.id).length },
              })),
            },
          },
        });
      }
    });

    test('createTask into a globex project fails with NOT_FOUND, like a missing project, and writes nothing', async () => {
      const before = await bothTenants();
      const response = await expectForeignLikeMissing(
        'mutation($projectId: ID!) { createTask(projectId: $projectId, title: "planted") { id } }',
        (projectId) => ({ projectId }),
        globalId('Project', before.globex.projects[0]!.id),
        missingId('Project'),
      );
      expect(response.body).toEqual(notFound('createTask', 'project'));
      expect(await bothTenants()).toEqual(before);
    });

    test('createTask and assignTask with a globex user as assignee fail like a missing user and write nothing', async () => {
      const before = await bothTenants();
      const ownProject = globalId('Project', before.acme.projects[0]!.id);
      const ownTask = before.acme.tasks[0]!;
      for (const foreignUser of [globex.adminId, globex.memberId]) {
        const created = await expectForeignLikeMissing(
          'mutation($projectId: ID!, $userId: ID) { createTask(projectId: $projectId, title: "planted", assigneeId: $userId) { id } }',
          (userId) => ({ projectId: ownProject, userId }),
          globalId('User', foreignUser),
          missingId('User'),
        );
        expect(created.body).toEqual(notFound('createTask', 'assignee'));
        const assigned = await expectForeignLikeMissing(
          'mutation($taskId: ID!, $userId: ID) { assignTask(taskId: $taskId, userId: $userId) { id } }',
          (userId) => ({ taskId: globalId('Task', ownTask.id), userId }),
          globalId('User', foreignUser),
          missingId('User'),
        );
        expect(assigned.body).toEqual(notFound('assignTask', 'assignee'));
      }
      expect(await bothTenants()).toEqual(before);
    });

    test('updateTask, assignTask and addComment on a globex task fail like a missing task and leave it unchanged', async () => {
      const before = await bothTenants();
      const target = before.globex.tasks[2]!;
      const read = 'query($id: ID!) { task(id: $id) { title status updatedAt assignee { id } comments { id body } } }';
      const globexView = await t.graphql(globex, read, { id: globalId('Task', target.id) });
      expect(globexView.body.data?.task.title).toBe(target.title);

      const attempts = [
        ['updateTask', 'mutation($id: ID!) { updateTask(id: $id, title: "pwned", status: DONE) { id title } }', (id: string) => ({ id })],
        ['assignTask', 'mutation($id: ID!, $userId: ID) { assignTask(taskId: $id, userId: $userId) { id } }', (id: string) => ({ id, userId: globalId('User', acme.adminId) })],
        ['assignTask', 'mutation($id: ID!) { assignTask(taskId: $id) { id } }', (id: string) => ({ id })],
        ['addComment', 'mutation($id: ID!) { addComment(taskId: $id, body: "pwned") { id } }', (id: string) => ({ id })],
      ] as const;
      for (const [field, mutation, variables] of attempts) {
        const response = await expectForeignLikeMissing(mutation, variables, globalId('Task', target.id), missingId('Task'));
        expect(response.body).toEqual(notFound(field, 'task'));
      }
      expect(await bothTenants()).toEqual(before);
      expect((await t.graphql(globex, read, { id: globalId('Task', target.id) })).text).toBe(globexView.text);
    });

    test('a mutation whose second field fails is rolled back as a whole: data is null and the first write is gone', async () => {
      const before = await bothTenants();
      const ownTask = globalId('Task', before.acme.tasks[4]!.id);
      const foreignProject = globalId('Project', before.globex.projects[1]!.id);
      const foreignTask = globalId('Task', before.globex.tasks[1]!.id);
      const cases = [
        {
          mutation: 'mutation($p: ID!) { created: createProject(name: "rolled back") { id } failed: createTask(projectId: $p, title: "x") { id } }',
          variables: { p: foreignProject },
          error: { message: 'project not found', path: ['failed'], extensions: { code: 'NOT_FOUND' } },
        },
        {
          mutation: 'mutation($own: ID!, $foreign: ID!) { renamed: updateTask(id: $own, title: "rolled back", status: DONE) { id } failed: addComment(taskId: $foreign, body: "x") { id } }',
          variables: { own: ownTask, foreign: foreignTask },
          error: { message: 'task not found', path: ['failed'], extensions: { code: 'NOT_FOUND' } },
        },
        {
          mutation: 'mutation($own: ID!) { commented: addComment(taskId: $own, body: "rolled back") { id } failed: createProject(name: " ") { id } }',
          variables: { own: ownTask },
          error: { message: 'name must have 1 to 200 characters', path: ['failed'], extensions: { code: 'BAD_USER_INPUT' } },
        },
      ];
      for (const { mutation, variables, error } of cases) {
        const response = await t.graphql(acme, mutation, variables);
        expect(response.body).toEqual({ data: null, errors: [{ ...error, locations: [expect.any(Object)] }] });
      }
      expect(await bothTenants()).toEqual(before);
    });

    test('after a mutation failed mid-request, the next request of the other tenant sees only its own rows', async () => {
      const before = await bothTenants();
      const failed = await t.graphql(
        acme,
        'mutation($p: ID!) { createProject(name: "half done") { id } createTask(projectId: $p, title: "x") { id } }',
        { p: globalId('Project', before.globex.projects[0]!.id) },
      );
      expect(failed.body.data).toBeNull();

      const globexAfter = await t.graphql(globex, `{ tenant { slug } ${TREE.slice(1)}`);
      expect(globexAfter.body).toEqual({ data: { tenant: { slug: 'globex' }, ...expectedTree(before.globex) } });
      const acmeAfter = await t.graphql(acme, TREE);
      expect(acmeAfter.body).toEqual({ data: expectedTree(before.acme) });
      // Served in turn by one connection of each pool, which none of them broke or left busy.
      for (const pool of t.pools.stats()) expect(pool).toMatchObject({ total: 1, active: 0, discarded: 0 });
      expect(await bothTenants()).toEqual(before);
    });
  });
}

describe.each(deployments)('$name tenants', isolationSuite);

const pgBouncerMissing = findPgBouncer() === undefined;
describe.skipIf(pgBouncerMissing).each(throughPgBouncer)(
  `$name tenants through PgBouncer${pgBouncerMissing ? ' (skipped: pgbouncer is not installed; apt-get install pgbouncer)' : ''}`,
  isolationSuite,
);
