import { execFile } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { looksLikeApiKey, tenantRoleName } from '@tenant-app/db';
import { createTestDatabase, type TestDatabase } from '@tenant-app/db/testing';

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');
/** Each CLI run is a Node process of its own (1 to 2 s of start-up on 2 cores), and a test runs several. */
const CLI_TIMEOUT_MS = 90_000;
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.close());

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** One CLI run in a process of its own, as `npm run <cli> -- …` runs it, against the test database. */
function run(cli: 'tenants' | 'migrate', args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `apps/api/src/cli/${cli}.ts`, ...args],
      {
        cwd: repositoryRoot,
        env: { ...process.env, DATABASE_URL: database.ownerUrl, DATABASE_RUNTIME_URL: database.runtimeUrl, ...env },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

const tenants = (...args: string[]) => run('tenants', args);

function listed(outcome: Outcome): string[][] {
  return outcome.stdout.trim().split('\n').map((line) => line.split(/\s{2,}/));
}

test('create, list, suspend, resume and delete tenants', async () => {
  // A second tenant, of another strategy, made in-process: each CLI run costs a Node start-up.
  const [created] = await Promise.all([
    tenants('create', 'acme', '--name', 'Acme Corporation', '--strategy', 'shared', '--admin-email', 'ada@acme.test'),
    database.provisioner.createTenant({ slug: 'globex', name: 'Globex', strategy: 'schema', tier: 'standard' }),
  ]);
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const [summary, , apiKey] = created.stdout.trim().split('\n');
  expect(summary).toBe('created acme (shared, tier free) with admin ada@acme.test');
  expect(looksLikeApiKey(apiKey!)).toBe(true);
  const key = await database.owner
    .selectFrom('control.api_keys as k')
    .innerJoin('control.tenants as t', 't.id', 'k.tenant_id')
    .select(['k.prefix', 'k.role'])
    .where('t.slug', '=', 'acme')
    .executeTakeFirstOrThrow();
  expect(key).toEqual({ prefix: apiKey!.slice(0, 10), role: 'admin' });

  expect(listed(await tenants('list'))).toEqual([
    ['SLUG', 'STRATEGY', 'TIER', 'STATUS'],
    ['acme', 'shared', 'free', 'active'],
    ['globex', 'schema', 'standard', 'active'],
  ]);

  expect(await tenants('suspend', 'acme')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^suspended acme: its requests are refused within 5000 ms/) });
  expect(await database.provisioner.findTenant('acme')).toMatchObject({ status: 'suspended' });
  expect(await tenants('resume', 'acme')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^resumed acme: its requests are served/) });

  expect(await tenants('delete', 'globex', '--confirm', 'globex')).toMatchObject({ code: 0, stdout: 'deleted globex and all of its data\n' });
  expect(await tenants('delete', 'globex', '--confirm', 'globex')).toMatchObject({ code: 0, stdout: 'no tenant globex: nothing to delete\n' });
  expect((await database.provisioner.listTenants()).map((tenant) => [tenant.slug, tenant.status])).toEqual([['acme', 'active']]);
}, CLI_TIMEOUT_MS);

test('migrate exits 1 while a tenant cannot be migrated, names it in the report and the status, and 0 once it is fixed', async () => {
  await database.provisioner.createTenant({ slug: 'blue', name: 'blue', strategy: 'schema' });
  const red = await database.provisioner.createTenant({ slug: 'red', name: 'red', strategy: 'database' });
  const superuser = new pg.Client({ connectionString: database.superuserUrl });
  await superuser.connect();
  const allowConnections = (allow: boolean) =>
    superuser.query(`alter database ${tenantRoleName(red.id)} allow_connections ${allow}`);
  try {
    await allowConnections(false);
    const failed = await run('migrate', ['--concurrency', '2']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^\[\d\/\d\] red: FAILED: .*not currently accepting connections$/m);
    expect(failed.stdout).toMatch(/^\[\d\/\d\] blue: up to date$/m);
    expect(failed.stdout).toMatch(/^tenants: 0 migrated, \d+ up to date, 1 failed$/m);
    expect(failed.stdout).toMatch(/^ {2}FAILED red \(database\): .*not currently accepting connections$/m);
    expect(failed.stdout).toMatch(/run npm run migrate again: it resumes where it stopped/);

    const status = await run('migrate', ['--status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^control plane: up to date\nshared tables: up to date\n/);
    expect(status.stdout).toMatch(/^blue \(schema\): up to date$/m);
    expect(status.stdout).toMatch(/^red \(database\): cannot tell: .*not currently accepting connections\n {2}last run failed: /m);

    await allowConnections(true);
    const fixed = await run('migrate', []);
    expect(fixed).toMatchObject({ code: 0, stderr: '' });
    expect(fixed.stdout).toMatch(/^\[\d\/\d\] red: up to date$/m);
    expect(fixed.stdout).toMatch(/^tenants: 0 migrated, \d+ up to date, 0 failed$/m);
    const recorded = await database.owner.selectFrom('control.tenants').select('migration_error').where('slug', '=', 'red').executeTakeFirstOrThrow();
    expect(recorded.migration_error).toBeNull();
  } finally {
    await allowConnections(true);
    await superuser.end();
  }
}, CLI_TIMEOUT_MS);

test('bad input is refused with exit code 2, and an unknown tenant with 1, with a message that names the fix', async () => {
  const outcomes = await Promise.all([
    new Promise<Outcome>((resolve) =>
      execFile('npm', ['run', '-s', 'tenants', '--', 'frobnicate'], { cwd: repositoryRoot }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      ),
    ),
    tenants('create', 'Bad_Slug', '--name', 'x', '--strategy', 'shared', '--admin-email', 'a@b.test'),
    tenants('create', 'okay', '--name', 'x', '--strategy', 'sharded', '--admin-email', 'a@b.test'),
    tenants('delete', 'acme', '--confirm', 'acne'),
    run('migrate', ['--concurrency', '0']),
    tenants('suspend', 'nobody'),
  ]);
  const expected = [
    /unknown command "frobnicate": use create, list, suspend, resume or delete \(npm run tenants -- --help tells more\)/,
    /bad slug "Bad_Slug": use 3 to 40 lower-case letters, digits and dashes/,
    /unknown strategy "sharded": use --strategy shared, schema or database/,
    /refusing to delete acme without --confirm acme/,
    /--concurrency must be a whole number of at least 1, such as --concurrency 8, but got: 0/,
    /no tenant nobody: npm run tenants -- list shows the tenants/,
  ];
  outcomes.forEach((outcome, index) => {
    expect(outcome, String(expected[index])).toMatchObject({
      code: index === expected.length - 1 ? 1 : 2,
      stdout: '',
      stderr: expect.stringMatching(expected[index]!),
    });
  });
  expect((await database.provisioner.listTenants()).map((tenant) => tenant.slug)).not.toContain('okay');
  expect(await database.provisioner.findTenant('acme')).toBeDefined();
}, CLI_TIMEOUT_MS);
