import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hashApiKey } from '@tenant-app/db';
import { createTestApi, provisionTenant, type TestApi, type TestTenant } from './support.ts';

let t: TestApi;
let platformKey: string;
let acme: TestTenant;
let globex: TestTenant;

beforeAll(async () => {
  t = await createTestApi();
  platformKey = await t.database.provisioner.issuePlatformKey('test operator');
  acme = await provisionTenant(t.database.provisioner, 'acme');
  globex = await provisionTenant(t.database.provisioner, 'globex', undefined, { strategy: 'schema' });
});
afterAll(() => t.close());

const KEY_FIELDS = 'id prefix role userId createdAt lastUsedAt revokedAt';

async function keyIdOf(key: string): Promise<string> {
  const row = await t.database.provisioner.owner
    .selectFrom('control.api_keys')
    .select('id')
    .where('key_hash', '=', hashApiKey(key))
    .executeTakeFirstOrThrow();
  return row.id;
}

async function issueMemberKey(tenant: TestTenant): Promise<string> {
  return t.database.provisioner.issueApiKey({ tenantId: tenant.id, userId: tenant.memberId, role: 'member' });
}

function codeOf(response: Awaited<ReturnType<TestApi['graphql']>>): [number, unknown] {
  return [response.status, response.body.errors?.[0]?.extensions?.code];
}

describe('revoking a key through the platform API', () => {
  test('the key is refused (401) on its next request; the revocation is kept on a second call', async () => {
    const key = await issueMemberKey(acme);
    expect((await t.graphql(acme, '{ tenant { slug } }', {}, { apiKey: key })).status).toBe(200);
    const id = await keyIdOf(key);
    const revoked = await t.platform(platformKey, `mutation($id: ID!) { revokeApiKey(id: $id) { id role revokedAt } }`, { id });
    expect(revoked.body.errors).toBeUndefined();
    expect(revoked.body.data!.revokeApiKey).toMatchObject({ id, role: 'member' });
    const revokedAt = revoked.body.data!.revokeApiKey.revokedAt;
    expect(new Date(revokedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);

    expect(codeOf(await t.graphql(acme, '{ tenant { slug } }', {}, { apiKey: key }))).toEqual([401, 'UNAUTHENTICATED']);
    const again = await t.platform(platformKey, `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id });
    expect(again.body.data!.revokeApiKey.revokedAt).toBe(revokedAt);
  });

  test('an unknown or malformed id is NOT_FOUND', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const response = await t.platform(platformKey, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id });
      expect(response.body.errors![0]!.extensions?.code).toBe('NOT_FOUND');
    }
  });

  test("lists a tenant's keys with prefix, role, user and times, and never the key or its hash", async () => {
    const listed = await t.platform(platformKey, `{ apiKeys(tenant: "acme") { ${KEY_FIELDS} } }`);
    expect(listed.body.errors).toBeUndefined();
    const keys = listed.body.data!.apiKeys as Record<string, unknown>[];
    expect(keys.find((key) => key.prefix === acme.adminKey.slice(0, 10))).toMatchObject({
      prefix: acme.adminKey.slice(0, 10),
      role: 'admin',
      userId: acme.adminId,
      revokedAt: null,
    });
    expect(listed.text).not.toContain(acme.adminKey);
    expect(listed.text).not.toContain(hashApiKey(acme.adminKey));
    const unknown = await t.platform(platformKey, `{ apiKeys(tenant: "nobody") { id } }`);
    expect(unknown.body.errors![0]!.extensions?.code).toBe('NOT_FOUND');
    const one = await t.platform(platformKey, `{ apiKeys(tenant: "acme", first: 1) { id } }`);
    expect(one.body.data!.apiKeys).toHaveLength(1);
    const tooMany = await t.platform(platformKey, `{ apiKeys(tenant: "acme", first: 1001) { id } }`);
    expect(tooMany.body.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe("a tenant admin manages the tenant's own keys", () => {
  const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { id prefix revokedAt } }`;

  test('lists them without the key or its hash', async () => {
    const listed = await t.graphql(acme, `{ apiKeys { ${KEY_FIELDS} } }`);
    expect(listed.body.errors).toBeUndefined();
    const keys = listed.body.data!.apiKeys as Record<string, unknown>[];
    expect(keys).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ prefix: acme.adminKey.slice(0, 10), role: 'admin', userId: acme.adminId }),
        expect.objectContaining({ prefix: acme.memberKey.slice(0, 10), role: 'member', userId: acme.memberId }),
      ]),
    );
    for (const secret of [acme.adminKey, hashApiKey(acme.adminKey), acme.memberKey, hashApiKey(acme.memberKey)]) {
      expect(listed.text).not.toContain(secret);
    }
  });

  test('pages are bounded like every list: `first` up to 100', async () => {
    expect((await t.graphql(acme, '{ apiKeys(first: 1) { id } }')).body.data!.apiKeys).toHaveLength(1);
    expect((await t.graphql(acme, '{ apiKeys(first: 101) { id } }')).body.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
  });

  test("never sees another tenant's keys", async () => {
    const listed = await t.graphql(acme, '{ apiKeys { id prefix } }');
    const ids = (listed.body.data!.apiKeys as { id: string }[]).map((key) => key.id);
    expect(ids).not.toContain(await keyIdOf(globex.adminKey));
    expect(ids).not.toContain(await keyIdOf(globex.memberKey));
  });

  test('revokes one: refused (401) on its next request', async () => {
    const key = await issueMemberKey(acme);
    const revoked = await t.graphql(acme, REVOKE, { id: await keyIdOf(key) });
    expect(revoked.body.errors).toBeUndefined();
    expect(revoked.body.data!.revokeApiKey.prefix).toBe(key.slice(0, 10));
    expect(codeOf(await t.graphql(acme, '{ tenant { slug } }', {}, { apiKey: key }))).toEqual([401, 'UNAUTHENTICATED']);
  });

  test("another tenant's key id is NOT_FOUND, like a missing one, and that key keeps working", async () => {
    const foreign = await t.graphql(acme, REVOKE, { id: await keyIdOf(globex.memberKey) });
    const missing = await t.graphql(acme, REVOKE, { id: '00000000-0000-4000-8000-000000000000' });
    expect(foreign.body).toEqual(missing.body);
    expect(foreign.body.errors![0]!.extensions?.code).toBe('NOT_FOUND');
    expect((await t.graphql(globex, '{ tenant { slug } }', {}, { apiKey: globex.memberKey })).status).toBe(200);
    const row = await t.database.provisioner.owner
      .selectFrom('control.api_keys')
      .select('revoked_at')
      .where('key_hash', '=', hashApiKey(globex.memberKey))
      .executeTakeFirstOrThrow();
    expect(row.revoked_at).toBeNull();
  });

  test('a member may neither list nor revoke keys (FORBIDDEN), and revokes nothing', async () => {
    const listed = await t.graphql(acme, '{ apiKeys { id } }', {}, { apiKey: acme.memberKey });
    expect(listed.body.errors![0]!.extensions?.code).toBe('FORBIDDEN');
    const revoked = await t.graphql(acme, REVOKE, { id: await keyIdOf(acme.adminKey) }, { apiKey: acme.memberKey });
    expect(revoked.body.errors![0]!.extensions?.code).toBe('FORBIDDEN');
    expect((await t.graphql(acme, '{ tenant { slug } }')).status).toBe(200);
  });
});

describe('with a tenant cache (TTL > 0)', () => {
  test("a tenant admin's revocation takes effect at once in the same process", async () => {
    const api = await createTestApi({}, { database: t.database, tenantCacheTtlMs: 60_000 });
    try {
      const key = await issueMemberKey(acme);
      expect((await api.graphql(acme, '{ tenant { slug } }', {}, { apiKey: key })).status).toBe(200);
      const revoked = await api.graphql(acme, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: await keyIdOf(key) });
      expect(revoked.body.errors).toBeUndefined();
      expect(codeOf(await api.graphql(acme, '{ tenant { slug } }', {}, { apiKey: key }))).toEqual([401, 'UNAUTHENTICATED']);
    } finally {
      await api.close();
    }
  });

  test('the revoking process drops the key at once; another process serves it until its TTL runs out', async () => {
    const revoking = await createTestApi({}, { database: t.database, tenantCacheTtlMs: 60_000 });
    const other = await createTestApi({}, { database: t.database, tenantCacheTtlMs: 60_000 });
    try {
      const key = await issueMemberKey(acme);
      for (const api of [revoking, other]) {
        expect((await api.graphql(acme, '{ tenant { slug } }', {}, { apiKey: key })).status).toBe(200);
      }
      const revoked = await revoking.platform(platformKey, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, {
        id: await keyIdOf(key),
      });
      expect(revoked.body.errors).toBeUndefined();
      expect(codeOf(await revoking.graphql(acme, '{ tenant { slug } }', {}, { apiKey: key }))).toEqual([401, 'UNAUTHENTICATED']);
      // The bound README documents: up to TENANT_CACHE_TTL_MS in every other process.
      expect((await other.graphql(acme, '{ tenant { slug } }', {}, { apiKey: key })).status).toBe(200);
    } finally {
      await revoking.close();
      await other.close();
    }
  });
});

describe('last use', () => {
  async function lastUsedAt(key: string): Promise<Date | null> {
    const row = await t.database.provisioner.owner
      .selectFrom('control.api_keys')
      .select('last_used_at')
      .where('key_hash', '=', hashApiKey(key))
      .executeTakeFirstOrThrow();
    return row.last_used_at;
  }

  /** The stamp is written after the request, without it waiting: poll for it. */
  async function stampAfter(key: string, after: Date | null): Promise<Date> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const stamp = await lastUsedAt(key);
      if (stamp && (!after || stamp > after)) return stamp;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('last_used_at was not stamped');
  }

  test('is stamped on a cache miss, not on every request within the TTL', async () => {
    const ttlMs = 1_000;
    const api = await createTestApi({}, { database: t.database, tenantCacheTtlMs: ttlMs });
    try {
      const key = await issueMemberKey(acme);
      expect(await lastUsedAt(key)).toBeNull();
      expect((await api.graphql(acme, '{ tenant { slug } }', {}, { apiKey: key })).status).toBe(200);
      const first = await stampAfter(key, null);

      for (let i = 0; i < 5; i++) expect((await api.graphql(acme, '{ tenant { slug } }', {}, { apiKey: key })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await lastUsedAt(key)).toEqual(first);

      await new Promise((resolve) => setTimeout(resolve, ttlMs));
      expect((await api.graphql(acme, '{ tenant { slug } }', {}, { apiKey: key })).status).toBe(200);
      expect((await stampAfter(key, first)).getTime()).toBeGreaterThan(first.getTime());
    } finally {
      await api.close();
    }
  });

  test('an unknown or revoked key stamps nothing', async () => {
    const key = await issueMemberKey(acme);
    await t.database.provisioner.revokeApiKey(await keyIdOf(key));
    expect((await t.graphql(acme, '{ tenant { slug } }', {}, { apiKey: key })).status).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await lastUsedAt(key)).toBeNull();
  });
});
