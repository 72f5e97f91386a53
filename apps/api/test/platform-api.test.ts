import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, provisionTenant, type TestApi, type TestTenant } from './support.ts';

let t: TestApi;
let platformKey: string;
let acme: TestTenant;

beforeAll(async () => {
  t = await createTestApi();
  platformKey = await t.database.provisioner.issuePlatformKey('test operator');
  acme = await provisionTenant(t.database.provisioner, 'acme');
});
afterAll(() => t.close());

const CREATE = `mutation($slug: String!, $strategy: TenantStrategy, $host: String) {
  createTenant(slug: $slug, name: "New tenant", strategy: $strategy, host: $host, adminEmail: "boss@new.test") {
    tenant { slug strategy status tier ownRole } adminApiKey
  }
}`;

async function tenantApi(slug: string, key: string, query: string) {
  const response = await t.api.fetch('http://test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant-id': slug, authorization: `Bearer ${key}` },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, body: await response.json() };
}

describe('the platform API', () => {
  test('answers only platform keys: none, a tenant key and an unknown key are 401', async () => {
    for (const key of [undefined, acme.adminKey, `tak_${'x'.repeat(32)}`]) {
      const response = await t.platform(key, '{ tenants { slug } }');
      expect(response.status).toBe(401);
      expect(response.body.errors![0]!.extensions?.code).toBe('UNAUTHENTICATED');
    }
  });

  test('is not reachable through the tenant API', async () => {
    const response = await tenantApi('acme', acme.adminKey, '{ tenants { slug } }');
    expect(response.body.errors![0]!.message).toMatch(/Cannot query field "tenants"/);
  });

  test.each(['SHARED', 'SCHEMA', 'DATABASE'])('creates a %s tenant whose admin key serves it at once', async (strategy) => {
    const slug = `new-${strategy.toLowerCase()}`;
    const created = await t.platform(platformKey, CREATE, { slug, strategy });
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data!.createTenant.tenant).toEqual({ slug, strategy, status: 'ACTIVE', tier: 'free', ownRole: strategy === 'SCHEMA' });
    const key = created.body.data!.createTenant.adminApiKey;
    const project = await tenantApi(slug, key, 'mutation { createProject(name: "First") { name } }');
    expect(project.body).toEqual({ data: { createProject: { name: 'First' } } });
    const projects = await tenantApi(slug, key, '{ viewer { email } projects { edges { node { name } } } }');
    expect(projects.body.data).toEqual({ viewer: { email: 'boss@new.test' }, projects: { edges: [{ node: { name: 'First' } }] } });
  });

  test('suspends and resumes a tenant, effective on its next request', async () => {
    const suspended = await t.platform(platformKey, 'mutation { suspendTenant(slug: "acme") { status } }');
    expect(suspended.body.data).toEqual({ suspendTenant: { status: 'SUSPENDED' } });
    const refused = await tenantApi('acme', acme.adminKey, '{ tenant { slug } }');
    expect([refused.status, refused.body.errors![0]!.extensions?.code]).toEqual([403, 'TENANT_SUSPENDED']);
    await t.platform(platformKey, 'mutation { resumeTenant(slug: "acme") { status } }');
    expect((await tenantApi('acme', acme.adminKey, '{ tenant { slug } }')).body.data).toEqual({ tenant: { slug: 'acme' } });
  });

  test('deletes a tenant only when the slug is confirmed; its key stops working at once', async () => {
    const created = await t.platform(platformKey, CREATE, { slug: 'short-lived', strategy: 'SCHEMA' });
    const key = created.body.data!.createTenant.adminApiKey;
    const unconfirmed = await t.platform(platformKey, 'mutation { deleteTenant(slug: "short-lived", confirm: "yes") }');
    expect(unconfirmed.body.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
    const deleted = await t.platform(platformKey, 'mutation { deleteTenant(slug: "short-lived", confirm: "short-lived") }');
    expect(deleted.body).toEqual({ data: { deleteTenant: true } });
    const gone = await tenantApi('short-lived', key, '{ tenant { slug } }');
    expect(gone.status).toBe(401);
    const again = await t.platform(platformKey, 'mutation { deleteTenant(slug: "short-lived", confirm: "short-lived") }');
    expect(again.body.errors![0]!.extensions?.code).toBe('NOT_FOUND');
  });

  test('refuses bad input with a code that says why', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ slug: 'Bad Slug' }, 'BAD_USER_INPUT', /slug must be/],
      [{ slug: 'acme' }, 'PROVISIONING_FAILED', /already exists/],
      [{ slug: 'far-away', strategy: 'DATABASE', host: 'nowhere' }, 'PROVISIONING_FAILED', /no Postgres host named "nowhere"/],
    ];
    for (const [variables, code, message] of cases) {
      const response = await t.platform(platformKey, CREATE, variables);
      expect(response.body.errors![0]!.extensions?.code).toBe(code);
      expect(response.body.errors![0]!.message).toMatch(message);
    }
    const missing = await t.platform(platformKey, 'mutation { suspendTenant(slug: "nobody") { status } }');
    expect(missing.body.errors![0]!.extensions?.code).toBe('NOT_FOUND');
  });

  test('lists tenants and reports pool figures per host, pool and tenant', async () => {
    await tenantApi('acme', acme.adminKey, '{ projects { edges { node { id } } } }');
    const response = await t.platform(
      platformKey,
      '{ tenants { slug status } poolStats { hosts { budget open } pools { name acquired } tenants { tenantId acquired } } }',
    );
    expect(response.body.errors).toBeUndefined();
    const { tenants, poolStats } = response.body.data!;
    expect(tenants).toContainEqual({ slug: 'acme', status: 'ACTIVE' });
    expect(poolStats.hosts[0].budget).toBe(40);
    expect(poolStats.pools.map((pool: { name: string }) => pool.name)).toContain('shared');
    expect(poolStats.tenants).toContainEqual({ tenantId: acme.id, acquired: expect.any(Number) });
  });
});
