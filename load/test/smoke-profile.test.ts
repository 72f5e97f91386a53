import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApi } from '@tenant-app/api';
import { TenantRegistry } from '@tenant-app/db';
import { createTestDatabase, type TestDatabase } from '@tenant-app/db/testing';
import { PoolManager } from '@tenant-app/pool';
import { requestBody, tenantHeaders } from '../src/operations.ts';
import { planTenants } from '../src/profile.ts';
import { loadProfile } from '../src/profiles.ts';
import { runLoad, writeReport } from '../src/run-load.ts';
import { readSeed, seedTenants } from '../src/seeding.ts';

let database: TestDatabase;
let pools: PoolManager;
let server: Server;
let origin: string;
let folder: string;

beforeAll(async () => {
  database = await createTestDatabase();
  pools = new PoolManager({ connectionString: database.runtimeUrl, maxConnections: 4 });
  const api = createApi({
    pools,
    registry: new TenantRegistry(pools.unbound(), database.bindingKey, { ttlMs: 5_000 }),
    logger: pino({ level: 'silent' }),
    bindingKey: database.bindingKey,
    loginKey: database.loginKey,
    provisioner: database.provisioner,
  });
  server = createServer(api);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  folder = mkdtempSync(path.join(os.tmpdir(), 'load-smoke-'));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await pools.close();
  await database.close();
  rmSync(folder, { recursive: true, force: true });
});

test('the smoke profile seeds its tenants, runs against the API with no errors and reports tenants, operations and pools', async () => {
  const profile = loadProfile('smoke');
  const seedFile = path.join(folder, 'smoke.jsonl');
  const seeding = await seedTenants({ ownerUrl: database.ownerUrl, tenants: planTenants('smoke', profile.tenants), data: profile.tenants.data, file: seedFile });
  expect(Object.values(seeding.created).map((entry) => entry.count)).toEqual([1, 1, 1]);
  const seeded = readSeed(seedFile);
  // One request per tenant first: a cold server (JIT, a database tenant's first connection) can take
  // longer than the whole run on a busy machine, and the run should see every tenant.
  for (const tenant of seeded.tenants) {
    const response = await fetch(`${origin}/graphql`, { method: 'POST', headers: tenantHeaders(tenant), body: requestBody('nestedRead', tenant, 0) });
    expect(response.status).toBe(200);
  }

  const report = await runLoad({ profile, origin, server: 'test API', tenants: seeded.tenants, platformKey: seeded.platformKey, durationSeconds: 3 });

  expect(report.overall.requests).toBeGreaterThanOrEqual(10);
  expect(report.overall.errors).toBe(0);
  expect(report.errorsByCode).toEqual({});
  expect(report.tenants.map((tenant) => [tenant.slug, tenant.strategy])).toEqual([
    ['smoke-t0', 'shared'],
    ['smoke-t1', 'schema'],
    ['smoke-t2', 'database'],
  ]);
  expect(Object.keys(report.strategies).sort()).toEqual(['database', 'schema', 'shared']);
  expect(Object.keys(report.operations)).toEqual(expect.arrayContaining(['nestedRead', 'list']));
  for (const tenant of report.tenants) {
    expect(tenant.latencyMs.p50).toBeGreaterThan(0);
    expect(tenant.latencyMs.p99).toBeGreaterThanOrEqual(tenant.latencyMs.p50);
  }
  expect(report.timeline.length).toBeGreaterThanOrEqual(2);
  expect(report.pool).toMatchObject({ budget: 40, timeouts: 0, shed: 0 });
  expect(report.pool!.samples.length).toBeGreaterThanOrEqual(1);
  expect(report.pool!.openMax).toBeGreaterThan(0);
  // Latency limits depend on the machine; the error limit (0 for smoke) does not.
  expect(report.thresholds.map((threshold) => threshold.name)).toEqual(
    expect.arrayContaining(['http_req_duration p(95) ms', 'http_req_duration p(99) ms', 'errors rate']),
  );
  expect(report.thresholds.find((threshold) => threshold.name === 'errors rate')).toMatchObject({ limit: 0, actual: 0, ok: true });

  const files = writeReport(report, folder);
  expect(JSON.parse(readFileSync(files.json, 'utf8'))).toMatchObject({ profile: 'smoke', overall: { errors: 0 } });
  expect(existsSync(files.html)).toBe(true);
  expect(readFileSync(files.html, 'utf8')).toMatch(/<svg[\s\S]*smoke-t2/);
});
