import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LIST, NESTED_READ } from '../../../load/src/operations.ts';
import { loadEnv, InvalidEnvironmentError } from '../src/index.ts';
import { apiLimitsFromEnv } from '../src/limits-env.ts';
import { createTestApi, provisionTenant, type TestApi, type TestTenant } from './support.ts';

const DEMO = '{ tenant { name } viewer { name } projects(first: 3) { edges { node { name taskCount tasks(first: 2) { title status assignee { name } } } } } }';
const EVERYTHING =
  '{ projects(first: 100) { edges { node { id name taskCount tasks(first: 100) { id title status project { id } assignee { id name } comments(first: 100) { id body author { id name } } } } } } }';

describe('query limits with their defaults', () => {
  let t: TestApi;
  let acme: TestTenant;

  beforeAll(async () => {
    t = await createTestApi();
    acme = await provisionTenant(t.database.provisioner, 'acme');
  });
  afterAll(() => t.close());

  test('our own operations pass: the demo query, the load mix, a read of everything at the largest pages', async () => {
    for (const query of [DEMO, NESTED_READ, LIST, EVERYTHING, getIntrospectionQuery()]) {
      const response = await t.graphql(acme, query);
      expect(response.body.errors, query).toBeUndefined();
      expect(response.status).toBe(200);
    }
  });

  test('just past each limit the query is refused with QUERY_TOO_COMPLEX, before the tenant is looked at', async () => {
    const refused = {
      // depth 11: nine levels of project → tasks → project
      depth: `{ project(id: "x") { ${'tasks { project { '.repeat(4)}tasks { id }${' } }'.repeat(4)} } }`,
      aliases: `{ ${Array.from({ length: 16 }, (_, index) => `a${index}: tenant { slug }`).join(' ')} }`,
      directives: `{ tenant { ${'... @skip(if: false) { slug } '.repeat(21)} } }`,
      tokens: `{ tenant { ${'slug '.repeat(997)} } }`,
      // 2 × (100 × 100 × 100 comments …) is more than a response may hold
      cost: `{ a: ${EVERYTHING.slice(1, -1)} b: ${EVERYTHING.slice(1, -1)} }`,
    };
    for (const [limit, query] of Object.entries(refused)) {
      const response = await t.graphql(undefined, query);
      expect({ limit, status: response.status, codes: response.body.errors?.map((error) => error.extensions?.code) }).toEqual({
        limit,
        status: 400,
        codes: ['QUERY_TOO_COMPLEX'],
      });
    }
  });

  test('development: introspection is answered and a typo gets a suggestion', async () => {
    const typo = await t.graphql(acme, '{ tenant { nme } }');
    expect(typo.body.errors![0]!.message).toContain('Did you mean "name"?');
  });
});

describe('limits as configured', () => {
  let t: TestApi;
  let acme: TestTenant;

  beforeAll(async () => {
    t = await createTestApi({}, { api: { limits: { maxDepth: 3, introspection: false } } });
    acme = await provisionTenant(t.database.provisioner, 'acme', { projects: 1, tasksPerProject: 1, commentsPerTask: 0 });
  });
  afterAll(() => t.close());

  test('a lower depth refuses what the default allows', async () => {
    expect((await t.graphql(acme, '{ tenant { slug } }')).status).toBe(200);
    const deep = await t.graphql(acme, '{ projects { edges { node { name } } } }');
    expect({ status: deep.status, error: deep.body.errors![0] }).toEqual({
      status: 400,
      error: { message: 'Query depth limit of 3 exceeded, found 4.', extensions: { code: 'QUERY_TOO_COMPLEX' } },
    });
  });

  test('introspection off: __schema and __type are refused and no field name is suggested, on both APIs', async () => {
    for (const query of ['{ __schema { types { name } } }', '{ __type(name: "Task") { fields { name } } }']) {
      const response = await t.graphql(acme, query);
      expect({ status: response.status, code: response.body.errors![0]!.extensions?.code }).toEqual({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED' });
    }
    const typo = await t.graphql(acme, '{ tenant { nme } }');
    expect(typo.body.errors![0]!.message).not.toContain('name');
    expect(typo.body.errors![0]!.message).toContain('[Suggestion hidden]');
    const platformTypo = await t.platform(undefined, '{ tenant { slug } }');
    expect(platformTypo.text).not.toContain('Did you mean');
    expect((await t.platform(undefined, '{ __schema { types { name } } }')).status).toBe(400);
    // __typename is not introspection of the schema: clients and caches rely on it.
    expect((await t.graphql(acme, '{ tenant { __typename } }')).body).toEqual({ data: { tenant: { __typename: 'Tenant' } } });
  });
});

describe('per-tenant rate limit', () => {
  let t: TestApi;
  let acme: TestTenant;
  let globex: TestTenant;
  let initech: TestTenant;

  beforeAll(async () => {
    // Small rates for the free tier, so the test needs a handful of requests; standard keeps a large one.
    t = await createTestApi({}, { api: { rateLimit: (tier) => (tier === 'free' ? { requestsPerSecond: 2, burst: 3 } : { requestsPerSecond: 1_000, burst: 1_000 }) } });
    const none = { projects: 0, tasksPerProject: 0, commentsPerTask: 0 };
    acme = await provisionTenant(t.database.provisioner, 'acme', none);
    globex = await provisionTenant(t.database.provisioner, 'globex', none);
    initech = await provisionTenant(t.database.provisioner, 'initech', none, { tier: 'standard' });
  });
  afterAll(() => t.close());

  test('a tenant past its rate gets 429 RATE_LIMITED with Retry-After; other tenants are served', async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<TestApi['graphql']>> | undefined;
    for (let index = 0; index < 12 && !limited; index++) {
      const response = await t.graphql(acme, '{ tenant { slug } }');
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    expect(statuses[0]).toBe(200);
    expect(limited, `statuses: ${statuses.join(', ')}`).toBeDefined();
    expect(limited!.body).toEqual({
      errors: [{ message: 'this tenant sends requests faster than its tier allows: retry later', extensions: { code: 'RATE_LIMITED' } }],
    });
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // acme is still limited, and neither another free tenant nor a standard one notices.
    expect((await t.graphql(acme, '{ tenant { slug } }')).status).toBe(429);
    expect((await t.graphql(globex, '{ tenant { slug } }')).body).toEqual({ data: { tenant: { slug: 'globex' } } });
    for (let index = 0; index < 12; index++) expect((await t.graphql(initech, '{ tenant { slug } }')).status).toBe(200);
  });

  test('callers without valid credentials are refused before they count against the tenant', async () => {
    const response = await t.graphql(globex, '{ tenant { slug } }', {}, { apiKey: acme.adminKey });
    expect(response.status).toBe(403);
  });
});

describe('limits from the environment', () => {
  test('production turns introspection and suggestions off; each limit and the rate limit can be set', () => {
    expect(apiLimitsFromEnv(loadEnv({ NODE_ENV: 'production' })).limits).toEqual({ introspection: false });
    expect(apiLimitsFromEnv(loadEnv({ NODE_ENV: 'production', INTROSPECTION: 'true' })).limits).toEqual({ introspection: true });
    expect(
      apiLimitsFromEnv(loadEnv({ MAX_QUERY_DEPTH: '12', MAX_QUERY_COST: '50000', MAX_REQUEST_BODY_BYTES: '1000000', RATE_LIMIT: 'false' })),
    ).toEqual({ limits: { maxDepth: 12, maxCost: 50_000, maxRequestBodyBytes: 1_000_000, introspection: true }, rateLimit: false });
  });

  test('a bad value names the variable and the fix', () => {
    expect(() => loadEnv({ MAX_QUERY_DEPTH: 'deep' })).toThrow(InvalidEnvironmentError);
    expect(() => loadEnv({ MAX_QUERY_DEPTH: 'deep' })).toThrow('MAX_QUERY_DEPTH="deep": must be a whole number of at least 1, such as 10 (the default)');
    expect(() => loadEnv({ MAX_QUERY_ALIASES: '0' })).toThrow('MAX_QUERY_ALIASES="0": must be a whole number of at least 1, such as 15 (the default)');
    expect(() => loadEnv({ RATE_LIMIT: 'maybe' })).toThrow('RATE_LIMIT="maybe": must be true or false');
  });
});

describe('every list is bounded', () => {
  let t: TestApi;
  let acme: TestTenant;
  let platformKey: string;

  beforeAll(async () => {
    t = await createTestApi();
    acme = await provisionTenant(t.database.provisioner, 'acme', { projects: 1, tasksPerProject: 1, commentsPerTask: 3 });
    await provisionTenant(t.database.provisioner, 'globex', { projects: 0, tasksPerProject: 0, commentsPerTask: 0 });
    platformKey = await t.database.provisioner.issuePlatformKey('limits test');
  });
  afterAll(() => t.close());

  const codeOf = (response: { body: { errors?: { extensions?: Record<string, unknown> }[] } }) => response.body.errors?.[0]?.extensions?.code;

  test('tenant API: nodes takes at most 100 ids; comments are read a page at a time', async () => {
    const ids = Array.from({ length: 101 }, () => Buffer.from(`Task:${crypto.randomUUID()}`).toString('base64'));
    expect(codeOf(await t.graphql(acme, 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids }))).toBe('BAD_USER_INPUT');
    const page = await t.graphql<{ projects: { edges: { node: { tasks: { comments: { body: string }[] }[] } }[] } }>(
      acme,
      '{ projects(first: 1) { edges { node { tasks(first: 1) { comments(first: 2) { body } } } } } }',
    );
    expect(page.body.data!.projects.edges[0]!.node.tasks[0]!.comments).toHaveLength(2);
  });

  test('platform API: tenants, pools and tenant figures take first (at most 1000); tenants page by slug', async () => {
    for (const query of ['{ tenants(first: 1001) { slug } }', '{ poolStats { pools(first: 1001) { name } } }', '{ poolStats { tenants(first: 1001) { tenantId } } }']) {
      expect(codeOf(await t.platform(platformKey, query)), query).toBe('BAD_USER_INPUT');
    }
    const first = await t.platform<{ tenants: { slug: string }[] }>(platformKey, '{ tenants(first: 1) { slug } }');
    const next = await t.platform<{ tenants: { slug: string }[] }>(platformKey, '{ tenants(first: 1, after: "acme") { slug } }');
    expect([first.body.data!.tenants, next.body.data!.tenants]).toEqual([[{ slug: 'acme' }], [{ slug: 'globex' }]]);
  });
});
