import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '@tenant-app/db/testing';
import { hashApiKey, type ProvisionedTenant } from './index.ts';

/**
 * A request's tenant is resolved by `resolve_request` (API key) or `resolve_member` (JWT) whenever
 * its cached resolution has expired. Reading all of `control.tenants` there costs every such
 * request time in proportion to the number of tenants (9–17 ms at 12,000). With sequential scans
 * priced out of reach, a plan that can find the named tenant through an index takes it; the
 * transaction's own table statistics then show whether any lookup still read the whole table.
 */

let database: TestDatabase;
let acme: ProvisionedTenant & { keyHash: string; adminId: string };

beforeAll(async () => {
  database = await createTestDatabase();
  const tenant = await database.provisioner.createTenant({ slug: 'acme', name: 'Acme', strategy: 'shared', tier: 'standard' });
  const { userId } = await database.provisioner.addMember(tenant, { email: 'a@acme.test', name: 'A', role: 'admin' });
  const key = await database.provisioner.issueApiKey({ tenantId: tenant.id, userId, role: 'admin' });
  acme = { ...tenant, keyHash: hashApiKey(key), adminId: userId };
});
afterAll(() => database.close());

test('resolve_request and resolve_member find the tenant by slug and by id (any case) without reading every tenant', async () => {
  const { found, scans } = await withClient(database.runtimeUrl, async (client) => {
    await client.query('begin');
    await client.query('set local enable_seqscan = off');
    const found: unknown[] = [];
    for (const reference of ['acme', acme.id, acme.id.toUpperCase(), 'nobody', '00000000-0000-4000-8000-000000000000']) {
      const byKey = await client.query('select tenant_id from control.resolve_request($1, $2)', [reference, acme.keyHash]);
      const byMember = await client.query('select tenant_id from control.resolve_member($1, $2, $3)', [
        reference,
        acme.adminId,
        database.bindingKey.memberLookupToken(reference, acme.adminId),
      ]);
      found.push([reference, byKey.rows[0].tenant_id, byMember.rows[0].tenant_id]);
    }
    const { rows } = await client.query<{ seq_scan: string; idx_scan: string }>(
      "select seq_scan, idx_scan from pg_stat_xact_user_tables where schemaname = 'control' and relname = 'tenants'",
    );
    await client.query('rollback');
    return { found, scans: rows[0] };
  });
  expect(found).toEqual([
    ['acme', acme.id, acme.id],
    [acme.id, acme.id, acme.id],
    [acme.id.toUpperCase(), acme.id, acme.id],
    ['nobody', null, null],
    ['00000000-0000-4000-8000-000000000000', null, null],
  ]);
  expect(Number(scans?.idx_scan)).toBeGreaterThan(0);
  expect(Number(scans?.seq_scan)).toBe(0);
});
