import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApi, provisionTenant, type TestApi, type TestTenant } from './support.ts';

const nestedQuery = `{
  projects(first: 50) {
    edges { node { name taskCount tasks { title assignee { name } comments { body author { name } } } } }
  }
}`;

let t: TestApi;
let small: TestTenant;
let large: TestTenant;

beforeAll(async () => {
  t = await createTestApi({ maxConnections: 1 }, { proxied: { latencyMs: 10 } });
  small = await provisionTenant(t.database.provisioner, 'small', { projects: 2, tasksPerProject: 2, commentsPerTask: 1 });
  large = await provisionTenant(t.database.provisioner, 'large', { projects: 12, tasksPerProject: 8, commentsPerTask: 3 });
  await t.graphql(small, '{ tenant { id } }');
});
afterAll(() => t.close());

/** The request's statements grouped by the round trip they travelled in (the control plane's, the key lookup and its last-used stamp, left out). */
async function roundTripsOf(tenant: TestTenant) {
  t.proxy!.reset();
  const response = await t.graphql(tenant, nestedQuery);
  expect(response.body.errors).toBeUndefined();
  const proxy = t.proxy!;
  const tasks = response.body.data!.projects.edges.flatMap((edge: { node: { tasks: unknown[] } }) => edge.node.tasks);
  return { tasks: tasks.length, rounds: proxy.tenantTurns().map((statements) => statements.sort()) };
}

test('a nested query costs the same statements and round trips whatever the list sizes', async () => {
  const a = await roundTripsOf(small);
  const b = await roundTripsOf(large);
  expect([a.tasks, b.tasks]).toEqual([4, 96]);
  expect(b.rounds).toEqual(a.rounds);
  // BEGIN, the session reset, the binding, the guard of prepared statements and the first query share one round trip;
  // then one per level of the tree (the loaders of a level go out pipelined together), and one for COMMIT.
  expect(a.rounds).toEqual([
    [
      'begin',
      'reset all',
      expect.stringMatching(/^select \('statements prepared by SQL on this connection: '/),
      'select *, to_char(created_at at time zone \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') as "cursor_at" ' +
        'from "app"."projects" order by "created_at", "id" limit $1',
      'select set_config($1, $2, true), set_config($3, $4, true), set_config($5, $6, true), set_config($7, $8, true), set_config($9, $10, true)',
    ],
    [
      'select "project_id", count(*) as "count" from "app"."tasks" where "project_id" = any($1::uuid[]) group by "project_id"',
      'select * from (select *, row_number() over (partition by project_id order by created_at, id) as "position" ' +
        'from "app"."tasks" where "project_id" = any($1::uuid[])) as "ranked" where "position" <= $2 order by "position"',
    ],
    [
      'select * from "app"."users" where "id" = any($1::uuid[])',
      'select * from (select *, row_number() over (partition by task_id order by created_at, id) as "position" ' +
        'from "app"."comments" where "task_id" = any($1::uuid[])) as "ranked" where "position" <= $2 order by "position"',
    ],
    ['commit'],
  ]);
});
