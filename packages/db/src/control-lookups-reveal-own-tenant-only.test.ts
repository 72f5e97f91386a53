import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, withClient, withTemporaryObjectsAllowed, type TestDatabase } from '@tenant-app/db/testing';
import { hashApiKey, sessionPlanFor, type ProvisionedTenant } from './index.ts';

/**
 * SQL injected into a request runs as the runtime login and may call every control-plane function
 * the login may call, with whatever arguments it likes. It knows its own tenant's key (and so its
 * hash) and may know user ids, which are no secret; it must learn no other tenant's record.
 */

let database: TestDatabase;
let acme: ProvisionedTenant & { keyHash: string; adminId: string };
let vault: ProvisionedTenant & { keyHash: string; adminId: string };

beforeAll(async () => {
  database = await createTestDatabase();
  const make = async (slug: string, strategy: 'shared' | 'database') => {
    const tenant = await database.provisioner.createTenant({ slug, name: `${slug} inc.`, strategy, tier: 'standard' });
    const { userId } = await database.provisioner.addMember(tenant, { email: `a@${slug}.test`, name: 'A', role: 'admin' });
    const key = await database.provisioner.issueApiKey({ tenantId: tenant.id, userId, role: 'admin' });
    return { ...tenant, keyHash: hashApiKey(key), adminId: userId };
  };
  acme = await make('acme', 'shared');
  vault = await make('vault', 'database');
});
afterAll(() => database.close());

function asRuntime<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(database.runtimeUrl, work);
}

/** Every value of a row that is not NULL or false: what the answer tells its caller. */
function told(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null && value !== false));
}

describe('resolve_request', () => {
  test("with acme's own key, acme's record and the key's user", async () => {
    const [row] = await asRuntime(async (client) => (await client.query('select * from control.resolve_request($1, $2)', ['acme', acme.keyHash])).rows);
    expect(told(row)).toEqual({
      key_valid: true,
      tenant_found: true,
      tenant_id: acme.id,
      tenant_slug: 'acme',
      tenant_name: 'acme inc.',
      tenant_status: 'active',
      tenant_strategy: 'shared',
      tenant_tier: 'standard',
      user_id: acme.adminId,
      role: 'admin',
    });
  });

  test("with acme's key, vault only exists (by slug or by id): no name, status, strategy, tier or database", async () => {
    const rows = await asRuntime(async (client) => [
      ...(await client.query('select * from control.resolve_request($1, $2)', ['vault', acme.keyHash])).rows,
      ...(await client.query('select * from control.resolve_request($1, $2)', [vault.id, acme.keyHash])).rows,
    ]);
    for (const row of rows) expect(told(row)).toEqual({ key_valid: true, tenant_found: true });
  });

  test('with no live key, nothing at all: not even whether the tenant exists', async () => {
    const rows = await asRuntime(async (client) => [
      ...(await client.query('select * from control.resolve_request($1, $2)', ['vault', 'f'.repeat(64)])).rows,
      ...(await client.query('select * from control.resolve_request($1, $2)', ['vault', ''])).rows,
    ]);
    for (const row of rows) expect(told(row)).toEqual({});
  });
});

describe('resolve_member', () => {
  /** The lookup as the app makes it, with a token signed for exactly this user and tenant reference. */
  function resolveMember(tenantRef: string, userId: string, token = database.bindingKey.memberLookupToken(tenantRef, userId)) {
    return asRuntime(async (client) => (await client.query('select * from control.resolve_member($1, $2, $3)', [tenantRef, userId, token])).rows[0]);
  }

  test('a user id that is no member of vault learns that vault exists, nothing more', async () => {
    expect(told(await resolveMember('vault', acme.adminId))).toEqual({ tenant_found: true, user_id: acme.adminId });
  });

  test("a member's id, with the app's token, gets its tenant's record and role", async () => {
    const row = await resolveMember('vault', vault.adminId);
    expect(row).toMatchObject({ tenant_found: true, tenant_id: vault.id, tenant_strategy: 'database', role: 'admin' });
    expect(row.tenant_database_url).not.toMatch(/:[^/@]*@/);
  });

  test('an unknown user learns nothing', async () => {
    expect(told(await resolveMember('vault', '00000000-0000-4000-8000-000000000000'))).toEqual({});
  });

  test("a member's id without a token the app signed for that lookup learns nothing, not even that the user or tenant exists", async () => {
    const key = database.bindingKey;
    const signed = key.memberLookupToken('vault', vault.adminId);
    const [keyId, expires, mac] = signed.split('.');
    const forgeries: Record<string, string> = {
      none: '',
      garbage: 'not.a.token',
      'another MAC': `${keyId}.${expires}.${'0'.repeat(64)}`,
      'a later expiry under the same MAC': `${keyId}.${Number(expires) + 3600}.${mac}`,
      'an unknown key id': `${Number(keyId) + 1}.${expires}.${mac}`,
      expired: key.memberLookupToken('vault', vault.adminId, Date.now() - 120_000),
      "another user's": key.memberLookupToken('vault', acme.adminId),
      "another tenant's": key.memberLookupToken('acme', vault.adminId),
      'the same tenant by its id': key.memberLookupToken(vault.id, vault.adminId),
      "a transaction's binding token": key.token(vault.id, 'none'),
    };
    for (const [name, token] of Object.entries(forgeries)) {
      expect(told(await resolveMember('vault', vault.adminId, token)), name).toEqual({});
    }
  });

  test('the lookup that answered to a user id alone is gone', async () => {
    const refused = await asRuntime((client) =>
      client.query('select * from control.resolve_member($1, $2)', ['vault', vault.adminId]).catch((error: unknown) => error),
    );
    expect(refused).toMatchObject({ code: '42883' });
  });
});

describe('the temporary schema cannot stand in for the owner\'s types', () => {
  test('the runtime login cannot create temporary objects, nor can a database tenant\'s login in its own database', async () => {
    const statements = [
      'create temp table spied (who text)',
      'create domain pg_temp.uuid as pg_catalog.uuid',
      'create function pg_temp.spy() returns boolean language sql as $$ select true $$',
    ];
    const { connection_url } = await database.owner
      .selectFrom('control.tenant_databases')
      .select('connection_url')
      .where('tenant_id', '=', vault.id)
      .executeTakeFirstOrThrow();
    for (const url of [database.runtimeUrl, database.loginKey.connectionUrl(vault.id, connection_url)]) {
      for (const statement of statements) {
        const refused = await withClient(url, (client) => client.query(statement).catch((error: unknown) => error));
        expect(refused, `${new URL(url).username}: ${statement}`).toMatchObject({ code: '42501', message: expect.stringMatching(/temporary/) });
      }
    }
  });

  test('every SECURITY DEFINER function the runtime login can reach names pg_temp last in its search_path', async () => {
    const { rows } = await asRuntime((client) =>
      client.query<{ fn: string; config: string[] | null }>(
        `select p.oid::regprocedure::text as fn, p.proconfig as config
         from pg_proc p
         where p.prosecdef and p.pronamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)`,
      ),
    );
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const row of rows) expect({ fn: row.fn, config: row.config }).toEqual({ fn: row.fn, config: ['search_path=pg_catalog, pg_temp'] });
  });

  test('a pg_temp domain named like a built-in type runs no code of the caller as the owner', async () => {
    // The domain's CHECK records who runs it. Under `search_path = ''` the functions' `::uuid` and
    // `text` resolved to these, and the check ran as the owner, who reads every key. The runtime
    // login may not create temporary objects (the first test); this is the defence behind that.
    const ranAs = await withTemporaryObjectsAllowed(database, () => asRuntime(async (client) => {
      await client.query('create temp table spied (who text, what text)');
      await client.query(`create function pg_temp.spy(v pg_catalog.text) returns boolean language plpgsql as $$
                          begin insert into pg_temp.spied values (current_user, v); return true; end $$`);
      await client.query('grant all on pg_temp.spied to public');
      for (const type of ['text', 'uuid']) {
        await client.query(`create domain pg_temp.${type} as pg_catalog.${type} check (pg_temp.spy(value::pg_catalog.text))`);
      }
      await client.query('select * from control.resolve_request($1, $2)', [acme.id, acme.keyHash]);
      await client.query('select * from control.resolve_member($1, $2, $3)', [acme.id, acme.adminId, database.bindingKey.memberLookupToken(acme.id, acme.adminId)]);
      await client.query('select * from control.resolve_platform_key($1)', [acme.keyHash]);
      await client.query('select control.touch_api_key($1)', [acme.keyHash]);
      // The policies' binding check, under a well-formed token that it has to take apart.
      const plan = sessionPlanFor({ ...acme, ownRole: false, databaseUrl: null }, database.bindingKey);
      await client.query('begin');
      for (const statement of plan.binding) await client.query(statement.text, [...statement.values]);
      const { rows } = await client.query('select count(*)::int as count from app.projects');
      await client.query('commit');
      expect(rows).toEqual([{ count: 0 }]);
      return (await client.query<{ who: string }>('select distinct who from pg_temp.spied')).rows.map((row) => row.who);
    }));
    expect(ranAs).not.toContain('tenant_app_owner');
  });
});
