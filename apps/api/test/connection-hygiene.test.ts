import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, globalId, provisionTenant, type TestApi, type TestTenant } from './support.ts';

let t: TestApi;
let acme: TestTenant;
let globex: TestTenant;
let observer: pg.Client;

beforeAll(async () => {
  // One connection: whatever acme leaves behind, globex's next request gets.
  t = await createTestApi({ maxConnections: 1 });
  acme = await provisionTenant(t.database.provisioner, 'acme', { projects: 40, tasksPerProject: 10, commentsPerTask: 2 });
  globex = await provisionTenant(t.database.provisioner, 'globex', { projects: 2, tasksPerProject: 1, commentsPerTask: 0 });
  observer = new pg.Client({ connectionString: t.database.superuserUrl });
  await observer.connect();
});
afterAll(async () => {
  await observer.end();
  await t.close();
});

async function expectCleanHandOverTo(tenant: TestTenant, projectCount: number) {
  const { rows } = await observer.query<{ state: string }>(
    "select state from pg_stat_activity where datname = current_database() and application_name = 'tenant-app:shared'",
  );
  expect(rows.map((row) => row.state)).toEqual(['idle']);
  const response = await t.graphql(tenant, '{ tenant { slug } projects(first: 100) { edges { node { id } } } }');
  expect(response.body.errors).toBeUndefined();
  expect(response.body.data?.tenant.slug).toBe(tenant.slug);
  expect(response.body.data?.projects.edges).toHaveLength(projectCount);
  expect(t.pools.stats()[0]).toMatchObject({ total: 1, active: 0 });
}

describe('after a request of acme fails mid-transaction, globex gets a clean connection', () => {
  test('a database error after a successful statement', async () => {
    const task = await t.graphql(acme, '{ projects(first: 1) { edges { node { tasks(first: 1) { id } } } } }');
    const taskId = task.body.data?.projects.edges[0].node.tasks[0].id;
    // The task lookup succeeds, then the insert is refused by Postgres.
    await observer.query('revoke insert on app.comments from tenant_app_access');
    try {
      const response = await t.graphql(acme, `mutation { addComment(taskId: "${taskId}", body: "refused") { id } }`);
      expect(response.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(response.text).not.toMatch(/permission|insert|comments/i);
    } finally {
      await observer.query('grant insert (tenant_id, task_id, author_id, body) on app.comments to tenant_app_access');
    }
    await expectCleanHandOverTo(globex, 2);
  });

  test('a resolver that throws after writing', async () => {
    const response = await t.graphql(
      acme,
      `mutation {
        created: createProject(name: "written, then rolled back") { id }
        failed: createTask(projectId: "${globalId('Project', '00000000-0000-4000-8000-000000000000')}", title: "x") { id }
      }`,
    );
    expect(response.body.data).toBeNull();
    expect(response.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await expectCleanHandOverTo(globex, 2);
    const acmeProjects = await t.graphql(acme, '{ projects(first: 100) { edges { node { name } } } }');
    const names = acmeProjects.body.data?.projects.edges.map((edge: { node: { name: string } }) => edge.node.name);
    expect(names).toHaveLength(40);
    expect(names).not.toContain('written, then rolled back');
  });

  test('a client that aborts while its query runs', async () => {
    const aborter = new AbortController();
    const acquiredBefore = t.pools.stats()[0]!.acquired;
    const pending = t.graphql(
      acme,
      '{ projects(first: 100) { edges { node { tasks(first: 100) { comments { body author { name } } assignee { name } } } } } }',
      undefined,
      { signal: aborter.signal },
    );
    // Abort once the request holds the connection, so that the abort lands mid-transaction.
    while (t.pools.stats()[0]!.acquired === acquiredBefore) await new Promise((resolve) => setImmediate(resolve));
    aborter.abort();
    await expect(pending).rejects.toThrow();
    await expect.poll(() => t.pools.stats()[0]!.active).toBe(0);
    await expectCleanHandOverTo(globex, 2);
  });
});

test("a write whose client went away while the tenant was being resolved never runs, even once the lookup returns", async () => {
  // A tenant no request has resolved yet, so that its lookup reaches the control plane, where a
  // lock holds it until the client has gone.
  const initech = await provisionTenant(t.database.provisioner, 'initech', { projects: 1, tasksPerProject: 0, commentsPerTask: 0 });
  const locker = new pg.Client({ connectionString: t.database.superuserUrl });
  await locker.connect();
  try {
    await locker.query('begin');
    await locker.query('lock table control.api_keys in access exclusive mode');
    const aborter = new AbortController();
    const pending = t.graphql(initech, 'mutation { createProject(name: "sent by a client that went away") { id } }', undefined, {
      signal: aborter.signal,
    });
    const lookupWaits = async () =>
      (await observer.query("select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%resolve_request%'")).rowCount;
    await expect.poll(lookupWaits).toBe(1);
    aborter.abort();
    await expect(pending).rejects.toThrow();
    await locker.query('commit');
    await expect.poll(lookupWaits).toBe(0);
    await expect.poll(() => t.pools.stats()[0]!.active).toBe(0);
    // The lookup has returned; a write that escaped the abort would now take the connection.
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    await locker.end();
  }
  const projects = await t.graphql(initech, '{ projects(first: 10) { edges { node { name } } } }');
  expect(projects.body.data?.projects.edges.map((edge: { node: { name: string } }) => edge.node.name)).toHaveLength(1);
});
