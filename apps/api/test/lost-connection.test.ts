import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApi, provisionTenant, type GraphQLResponse, type TestApi, type TestTenant } from './support.ts';

/**
 * A request whose connection Postgres ends while a statement runs on it (pg_terminate_backend, a
 * restart, a failover) is told the database is unavailable — 503, SERVICE_UNAVAILABLE, Retry-After —
 * as when no connection can be opened at all: never a 500, never "Unexpected error." for a
 * transient fault of the infrastructure. Found by isolation-under-fire.test.ts, which saw a 500
 * when the tenant lookup's connection was terminated.
 */
let t: TestApi;
let acme: TestTenant;
let observer: pg.Client;
/** Holds the lock; pg_stat_activity is read by `observer`, outside that transaction's snapshot. */
let locker: pg.Client;

beforeAll(async () => {
  t = await createTestApi({ maxConnections: 2 });
  acme = await provisionTenant(t.database.provisioner, 'acme', { projects: 2, tasksPerProject: 1, commentsPerTask: 0 });
  observer = new pg.Client({ connectionString: t.database.superuserUrl });
  locker = new pg.Client({ connectionString: t.database.superuserUrl });
  await Promise.all([observer.connect(), locker.connect()]);
});
afterAll(async () => {
  await Promise.all([observer.end(), locker.end()]);
  await t.close();
});

/**
 * Sends `query` while `table` is locked, so that the request's statement waits on the lock; then
 * terminates exactly that backend (of this file's database) and releases the lock.
 */
async function terminatedWhileWaitingOn(table: string, query: string): Promise<GraphQLResponse> {
  await locker.query('begin');
  let response: Promise<GraphQLResponse>;
  try {
    await locker.query(`lock table ${table} in access exclusive mode`);
    response = t.graphql(acme, query);
    let waiting: { pid: number }[] = [];
    for (let attempt = 0; attempt < 200 && waiting.length === 0; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      ({ rows: waiting } = await observer.query<{ pid: number }>(
        `select pid from pg_stat_activity
          where datname = current_database() and application_name like 'tenant-app:%' and wait_event_type = 'Lock'`,
      ));
    }
    expect(waiting).toHaveLength(1);
    await observer.query('select pg_terminate_backend($1)', [waiting[0]!.pid]);
  } finally {
    await locker.query('commit');
  }
  return response;
}

function expectUnavailable(response: GraphQLResponse): void {
  expect(response.status, response.text).toBe(503);
  expect(response.headers.get('retry-after')).toBe('1');
  expect(response.body.errors?.map((error) => [error.message, error.extensions?.['code']])).toEqual([
    ['the database is unavailable: retry shortly', 'SERVICE_UNAVAILABLE'],
  ]);
  expect(response.text).not.toMatch(/terminat|administrator|connection|postgres|unexpected/i);
}

test('the tenant lookup loses its connection: 503 SERVICE_UNAVAILABLE, not a 500', async () => {
  const response = await terminatedWhileWaitingOn('control.api_keys', '{ tenant { slug } }');
  expectUnavailable(response);
  expect(response.body.data).toBeUndefined();
  // At once: the terminated connection must not have gone back to the pool as if it were idle.
  expect((await t.graphql(acme, '{ tenant { slug } }')).body).toEqual({ data: { tenant: { slug: 'acme' } } });
});

test('the tenant transaction loses its connection mid-query: 503 SERVICE_UNAVAILABLE, and the next request is served', async () => {
  const response = await terminatedWhileWaitingOn('app.projects', '{ projects { edges { node { name } } } }');
  expectUnavailable(response);
  expect(response.body.data).toBeNull();
  const next = await t.graphql(acme, '{ projects { edges { node { name } } } }');
  expect(next.body.data?.projects.edges).toHaveLength(2);
  await expect.poll(() => t.pools.stats().map((pool) => pool.active)).toEqual([0]);
});
