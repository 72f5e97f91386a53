import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApi, provisionTenant, type TestApi, type TestTenant } from './support.ts';

let t: TestApi;
let acme: TestTenant;

beforeAll(async () => {
  t = await createTestApi();
  acme = await provisionTenant(t.database.provisioner, 'acme');
});
afterAll(() => t.close());

test('serves a tenant query', async () => {
  const response = await t.graphql(acme, '{ tenant { slug } viewer { name } projects { edges { node { id name taskCount } } } }');
  expect(response.body.errors).toBeUndefined();
  expect(response.body.data?.tenant.slug).toBe('acme');
  expect(response.body.data?.projects.edges).toHaveLength(3);
});
