import { sharedTenantBinding, SHARED_SCHEMA, type TenantDatabase } from '@tenant-app/db';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApi, provisionTenant, type TestApi, type TestTenant } from './support.ts';

let t: TestApi;
let acme: TestTenant;
let globex: TestTenant;

beforeAll(async () => {
  t = await createTestApi({ maxConnections: 1, acquireTimeoutMs: 300 });
  acme = await provisionTenant(t.database.provisioner, 'acme');
  globex = await provisionTenant(t.database.provisioner, 'globex');
});
afterAll(() => t.close());

test('a request that cannot get a connection in time gets POOL_TIMEOUT, 503 and Retry-After, and the pool recovers', async () => {
  const holder = t.pools.openSession<TenantDatabase>({
    tenantId: acme.id,
    binding: sharedTenantBinding(acme.id, t.database.bindingKey),
    schema: SHARED_SCHEMA,
  });
  await holder.db.selectFrom('projects').select('id').execute();
  let starved;
  try {
    starved = await t.graphql(globex, '{ projects { edges { node { name } } } }');
  } finally {
    await holder.session.commit();
  }
  expect(starved.status).toBe(503);
  expect(starved.headers.get('retry-after')).toBe('1');
  expect(starved.body.errors).toEqual([
    expect.objectContaining({ message: 'the service is busy: retry shortly', extensions: { code: 'POOL_TIMEOUT' } }),
  ]);

  const served = await t.graphql(globex, '{ projects { edges { node { name } } } }');
  expect(served.status).toBe(200);
  expect(served.body.data?.projects.edges).toHaveLength(3);
});
