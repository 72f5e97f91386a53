import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'kysely';
import pg from 'pg';
import { createTestApi, globalId, provisionTenant, type GraphQLResponse, type TestApi, type TestTenant } from './support.ts';

const small = { projects: 2, tasksPerProject: 2, commentsPerTask: 1 };

const messages = {
  TENANT_REQUIRED: 'name the tenant in the x-tenant-id header (its id or slug)',
  TENANT_HEADER: 'x-tenant-id must be a tenant slug (a-z, 0-9, "-", 3 to 40 characters) or a tenant id (UUID)',
  UNAUTHENTICATED: 'send a valid API key as "Authorization: Bearer <key>"',
  TENANT_NOT_FOUND: 'no tenant matches x-tenant-id',
  TENANT_SUSPENDED: 'this tenant is suspended',
  WRONG_TENANT: 'this API key belongs to another tenant',
  FORBIDDEN: 'these credentials may not do this for this tenant',
};

/** Words of SQL, of Postgres errors and of stack traces: none may reach a client. */
const INTERNALS = [
  'select', 'insert', 'update ', 'from ', 'where ', 'permission', 'denied', 'relation', 'violates', 'syntax',
  'postgres', 'sql', 'app.', 'control.', 'tenant_app', 'resolve_request', 'stack', ' at ', '.ts:', '.js:',
  'node_modules', 'originalerror', 'does not exist', '_gone',
];

function expectNoInternals(response: GraphQLResponse): void {
  const text = response.text.toLowerCase();
  for (const word of INTERNALS) expect(text, `response contains "${word}": ${response.text}`).not.toContain(word);
}

/** An error of the request as a whole (no operation ran): exact body, status and nothing else. */
function expectRequestError(response: GraphQLResponse, status: number, code: string, message: string): void {
  expect({ status: response.status, body: response.body }).toEqual({ status, body: { errors: [{ message, extensions: { code } }] } });
  expectNoInternals(response);
}

/** A client error of one field: its code and message, the status it implies, and no data kept for a mutation. */
function expectFieldError(response: GraphQLResponse, status: number, code: string, message: string | RegExp): void {
  expect(response.status).toBe(status);
  expect(response.body.errors).toHaveLength(1);
  expect(response.body.errors![0]!.extensions).toEqual({ code });
  expect(response.body.errors![0]!.message).toMatch(message);
  expectNoInternals(response);
}

function request(api: TestApi, headers: Record<string, string>, query = '{ tenant { slug } }') {
  return api.graphql(undefined, query, {}, { headers });
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const unknownKey = () => `tak_${randomBytes(24).toString('base64url')}`;

/** x-tenant-id values that are neither a slug nor a uuid; each is refused before any SQL. */
function malformedTenantRefs(tenant: TestTenant): string[] {
  return [
    'a'.repeat(41),
    `${tenant.slug}-${'x'.repeat(40)}`,
    'ab',
    'ACME',
    "acme' or 1=1 --",
    `${tenant.slug}'; drop table app.projects; --`,
    '"acme"',
    'acme;select 1',
    'ac me',
    'acme\u0001',
    'ac\tme',
    'acme\u007f',
    'acm\u00e9',
    // A Cyrillic "а" that looks like acme's, and a zero-width space.
    '\u0430cme',
    'acme\u200b',
    '-acme',
    'acme-',
    '../acme',
    'acme%00',
    `${tenant.id}!`,
    `{${tenant.id}}`,
    `${tenant.id.toUpperCase().slice(0, -1)}G`,
  ];
}

/** Authorization values that cannot carry an API key; each is refused before any SQL. */
function malformedAuthorizations(tenant: TestTenant): Record<string, string>[] {
  const key = tenant.adminKey;
  return [
    {},
    { authorization: '' },
    { authorization: 'Bearer' },
    { authorization: 'Bearer ' },
    { authorization: `Basic ${Buffer.from(`admin:${key}`).toString('base64')}` },
    { authorization: `Token ${key}` },
    { authorization: key },
    { authorization: `Bearer ${key} ${key}` },
    { authorization: `Bearer  ${key}` },
    { authorization: 'Bearer tak_short' },
    { authorization: `Bearer ${key}x` },
    { authorization: `Bearer ${key.slice(0, -1)}` },
    { authorization: `Bearer ${key.slice(0, -1)}+` },
    { authorization: `Bearer ${key.slice(0, -1)}'` },
    { authorization: `Bearer tok_${key.slice(4)}` },
    { authorization: "Bearer ' or 1=1 --" },
  ];
}

describe('client errors', () => {
  let t: TestApi;
  let acme: TestTenant;
  let globex: TestTenant;

  beforeAll(async () => {
    t = await createTestApi();
    acme = await provisionTenant(t.database.provisioner, 'acme', small);
    globex = await provisionTenant(t.database.provisioner, 'globex', { projects: 1, tasksPerProject: 1, commentsPerTask: 0 });
  });
  afterAll(() => t.close());

  test('TENANT_REQUIRED 400 without x-tenant-id, or with an empty one', async () => {
    expectRequestError(await request(t, {}), 400, 'TENANT_REQUIRED', messages.TENANT_REQUIRED);
    for (const headers of [bearer(acme.adminKey), { ...bearer(acme.adminKey), 'x-tenant-id': '' }, { ...bearer(acme.adminKey), 'x-tenant-id': '   ' }]) {
      expectRequestError(await request(t, headers), 400, 'TENANT_REQUIRED', messages.TENANT_REQUIRED);
    }
  });

  test('BAD_USER_INPUT 400 for an x-tenant-id that is neither a slug nor a uuid, even with a valid key', async () => {
    for (const tenantRef of malformedTenantRefs(acme)) {
      const response = await request(t, { ...bearer(acme.adminKey), 'x-tenant-id': tenantRef });
      expectRequestError(response, 400, 'BAD_USER_INPUT', messages.TENANT_HEADER);
    }
  });

  test('UNAUTHENTICATED 401 with a www-authenticate challenge for a missing or malformed Authorization', async () => {
    for (const headers of malformedAuthorizations(acme)) {
      const response = await request(t, { 'x-tenant-id': acme.slug, ...headers });
      expectRequestError(response, 401, 'UNAUTHENTICATED', messages.UNAUTHENTICATED);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  test('UNAUTHENTICATED 401 for an unknown well-formed key, whether or not the tenant exists', async () => {
    // An unknown key learns nothing: not even which tenants exist.
    for (const tenantRef of [acme.slug, acme.id, 'no-such-tenant', randomUUID()]) {
      const response = await request(t, { 'x-tenant-id': tenantRef, ...bearer(unknownKey()) });
      expectRequestError(response, 401, 'UNAUTHENTICATED', messages.UNAUTHENTICATED);
    }
  });

  test('the scheme name is case-insensitive and the tenant may be named by slug or id', async () => {
    for (const [tenantRef, authorization] of [
      [acme.slug, `bearer ${acme.adminKey}`],
      [acme.id, `BEARER ${acme.adminKey}`],
      [acme.id.toUpperCase(), `Bearer ${acme.adminKey}`],
    ] as const) {
      const response = await request(t, { 'x-tenant-id': tenantRef, authorization });
      expect({ status: response.status, body: response.body }).toEqual({ status: 200, body: { data: { tenant: { slug: 'acme' } } } });
    }
  });

  test('TENANT_NOT_FOUND 404 for a valid key and an unknown slug or uuid', async () => {
    for (const tenantRef of ['no-such-tenant', 'acme-two', randomUUID()]) {
      const response = await request(t, { 'x-tenant-id': tenantRef, ...bearer(acme.adminKey) });
      expectRequestError(response, 404, 'TENANT_NOT_FOUND', messages.TENANT_NOT_FOUND);
    }
  });

  test('FORBIDDEN 403 for a key of another tenant, by slug and by id', async () => {
    for (const key of [acme.adminKey, acme.memberKey]) {
      for (const tenantRef of [globex.slug, globex.id]) {
        const response = await request(t, { 'x-tenant-id': tenantRef, ...bearer(key) });
        expectRequestError(response, 403, 'FORBIDDEN', messages.WRONG_TENANT);
      }
    }
  });

  test('FORBIDDEN 403 for a member key calling the admin-only createProject, which writes nothing', async () => {
    const count = async () => (await t.graphql(acme, '{ projects { edges { node { id } } } }')).body.data!.projects.edges.length;
    expect(await count()).toBe(small.projects);
    const response = await t.graphql(acme, 'mutation { createProject(name: "by a member") { id } }', {}, { apiKey: acme.memberKey });
    expect(response.status).toBe(403);
    expect(response.body).toEqual({
      data: null,
      errors: [{ message: messages.FORBIDDEN, locations: [{ line: 1, column: 12 }], path: ['createProject'], extensions: { code: 'FORBIDDEN' } }],
    });
    expect(await count()).toBe(small.projects);
    // The same key may do what members may.
    const allowed = await t.graphql(acme, '{ viewer { id } }', {}, { apiKey: acme.memberKey });
    expect(allowed.body).toEqual({ data: { viewer: { id: globalId('User', acme.memberId) } } });
  });

  test("STATEMENT_TIMEOUT 503 with Retry-After for statements that run past the tier's timeout, and the mutation keeps nothing", async () => {
    const slow = await provisionTenant(t.database.provisioner, 'slowco', small, { strategy: 'shared', tier: 'free' });
    const projects = '{ projects { edges { node { id } } } }';
    // The superuser holds the shared projects for longer than the free tier lets a statement run (5 s).
    const locker = new pg.Client({ connectionString: t.database.superuserUrl });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table app.projects in access exclusive mode');
      const [read, write] = await Promise.all([
        t.graphql(slow, projects),
        t.graphql(slow, 'mutation { createProject(name: "too late") { id } }'),
      ]);
      await locker.query('commit');
      const message = "a statement of this request ran longer than this tenant's tier allows and was stopped: ask for less, or retry shortly";
      for (const response of [read, write]) {
        expectFieldError(response, 503, 'STATEMENT_TIMEOUT', message);
        expect(response.headers.get('retry-after')).toBe('1');
      }
      expect(write.body.data).toBeNull();
    } finally {
      await locker.end();
    }
    expect((await t.graphql(slow, projects)).body.data!.projects.edges).toHaveLength(small.projects);
  });

  test('TENANT_SUSPENDED 403 while the tenant is suspended, and served again once it is active', async () => {
    const initech = await provisionTenant(t.database.provisioner, 'initech', small);
    await t.database.provisioner.setStatus(initech.id, 'suspended');
    for (const key of [initech.adminKey, initech.memberKey]) {
      for (const tenantRef of [initech.slug, initech.id]) {
        const response = await request(t, { 'x-tenant-id': tenantRef, ...bearer(key) });
        expectRequestError(response, 403, 'TENANT_SUSPENDED', messages.TENANT_SUSPENDED);
      }
    }
    await t.database.provisioner.setStatus(initech.id, 'active');
    const response = await request(t, { 'x-tenant-id': initech.slug, ...bearer(initech.adminKey) });
    expect({ status: response.status, body: response.body }).toEqual({ status: 200, body: { data: { tenant: { slug: 'initech' } } } });
  });

  describe('BAD_USER_INPUT 400 for bad arguments', () => {
    const uuid = '0b7c5c55-5b0e-4f0e-9b3c-2f1a4a2b6c01';
    const base64 = (text: string) => Buffer.from(text).toString('base64');
    const cursor = (text: string) => Buffer.from(text).toString('base64url');

    test('page sizes and paging arguments', async () => {
      const cases: [string, string | RegExp][] = [
        ['{ projects(first: 101) { edges { node { id } } } }', 'first must be between 0 and 100'],
        ['{ projects(first: -1) { edges { node { id } } } }', 'first must be between 0 and 100'],
        ['{ projects(last: 1) { edges { node { id } } } }', 'projects pages forward only: use first and after'],
        ['{ projects(first: 1, before: "x") { edges { node { id } } } }', 'projects pages forward only: use first and after'],
        ['{ projects { edges { node { tasks(first: 101) { id } } } } }', 'first must be between 0 and 100'],
        ['{ projects(first: 1) { edges { node { tasks(first: 1) { comments(first: 101) { id } } } } } }', 'first must be between 0 and 100'],
      ];
      for (const [query, message] of cases) {
        expectFieldError(await t.graphql(acme, query), 400, 'BAD_USER_INPUT', message);
      }
    });

    test('an after cursor this connection did not issue', async () => {
      const forged = [
        'garbage',
        cursor(`2026-01-01T00:00:00.000000Z|not-a-uuid`),
        cursor(`not a date|${uuid}`),
        cursor(`2026-02-30T00:00:00.000000Z|${uuid}`),
        // JavaScript parses it, Postgres cannot hold it: still the client's error, not ours.
        cursor(`-271821-04-20T00:00:00.000Z|${uuid}`),
        cursor(`+275760-09-13T00:00:00.000Z|${uuid}`),
      ];
      for (const after of forged) {
        const response = await t.graphql(acme, 'query($after: String) { projects(after: $after) { edges { node { id } } } }', { after });
        expectFieldError(response, 400, 'BAD_USER_INPUT', /^(after is not a cursor of this connection|"Project" ids carry a UUID)$/);
      }
    });

    test('empty, blank or too long text', async () => {
      const projectId = (await t.graphql(acme, '{ projects(first: 1) { edges { node { id tasks(first: 1) { id } } } } }')).body.data!.projects.edges[0].node;
      const cases: [string, Record<string, unknown>, string][] = [
        ['mutation($p: ID!, $title: String!) { createTask(projectId: $p, title: $title) { id } }', { p: projectId.id, title: '' }, 'title must have 1 to 500 characters'],
        ['mutation($p: ID!, $title: String!) { createTask(projectId: $p, title: $title) { id } }', { p: projectId.id, title: '  \n ' }, 'title must have 1 to 500 characters'],
        ['mutation($p: ID!, $title: String!) { createTask(projectId: $p, title: $title) { id } }', { p: projectId.id, title: 'x'.repeat(501) }, 'title must have 1 to 500 characters'],
        ['mutation($t: ID!, $title: String!) { updateTask(id: $t, title: $title) { id } }', { t: projectId.tasks[0].id, title: '' }, 'title must have 1 to 500 characters'],
        ['mutation($name: String!) { createProject(name: $name) { id } }', { name: 'x'.repeat(201) }, 'name must have 1 to 200 characters'],
        ['mutation($t: ID!, $body: String!) { addComment(taskId: $t, body: $body) { id } }', { t: projectId.tasks[0].id, body: ' ' }, 'body must have 1 to 10000 characters'],
      ];
      for (const [mutation, variables, message] of cases) {
        const response = await t.graphql(acme, mutation, variables);
        expectFieldError(response, 400, 'BAD_USER_INPUT', message);
        expect(response.body.data).toBeNull();
      }
    });

    test('a global id that is not base64 of Type:uuid, or is of the wrong type', async () => {
      const cases: [string, Record<string, unknown>, string | RegExp][] = [
        ['query($id: ID!) { project(id: $id) { id } }', { id: 'not base64!!' }, 'not an id of this API'],
        ['query($id: ID!) { project(id: $id) { id } }', { id: base64('Project') }, 'not an id of this API'],
        ['query($id: ID!) { project(id: $id) { id } }', { id: base64(`Project:${uuid}'--`) }, 'not an id of this API'],
        ['query($id: ID!) { project(id: $id) { id } }', { id: base64('Project:1 or 1=1') }, 'not an id of this API'],
        ['query($id: ID!) { project(id: $id) { id } }', { id: uuid }, 'not an id of this API'],
        ['query($id: ID!) { node(id: $id) { id } }', { id: base64(`Nope:${uuid}`) }, 'not an id of this API'],
        ['query($id: ID!) { project(id: $id) { id } }', { id: globalId('Task', uuid) }, `ID: ${globalId('Task', uuid)} is not of type: Project`],
        ['query($id: ID!) { task(id: $id) { id } }', { id: globalId('Project', uuid) }, `ID: ${globalId('Project', uuid)} is not of type: Task`],
        ['mutation($id: ID!) { createTask(projectId: $id, title: "x") { id } }', { id: globalId('User', acme.adminId) }, /is not of type: Project$/],
        ['mutation($id: ID!, $u: ID) { assignTask(taskId: $id, userId: $u) { id } }', { id: globalId('Task', uuid), u: globalId('Project', uuid) }, /is not of type: User$/],
        ['mutation($id: ID!) { addComment(taskId: $id, body: "x") { id } }', { id: globalId('Comment', uuid) }, /is not of type: Task$/],
        ['query($id: ID!) { node(id: $id) { id } }', { id: 'not base64!!' }, 'not an id of this API'],
      ];
      for (const [query, variables, message] of cases) {
        expectFieldError(await t.graphql(acme, query, variables), 400, 'BAD_USER_INPUT', message);
      }
    });
  });
});

describe('malformed headers are refused before any SQL', () => {
  let t: TestApi;
  let acme: TestTenant;

  beforeAll(async () => {
    // A pool nothing has used yet: the owner connection provisions, the API's pool stays closed.
    t = await createTestApi();
    acme = await provisionTenant(t.database.provisioner, 'acme', small);
  });
  afterAll(() => t.close());

  /** Connections the API's pools have opened and handed out so far, over all of its pools. */
  function usage() {
    const stats = t.pools.stats();
    const sum = (counter: 'total' | 'acquired') => stats.reduce((total, pool) => total + pool[counter], 0);
    return { connections: sum('total'), checkouts: sum('acquired') };
  }

  test('no connection is opened for a missing or malformed tenant header or key', async () => {
    expect(usage()).toEqual({ connections: 0, checkouts: 0 });
    const attempts: Record<string, string>[] = [
      {},
      bearer(acme.adminKey),
      ...malformedTenantRefs(acme).map((tenantRef) => ({ 'x-tenant-id': tenantRef, ...bearer(acme.adminKey) })),
      ...malformedAuthorizations(acme).map((headers) => ({ 'x-tenant-id': acme.slug, ...headers })),
    ];
    for (const headers of attempts) {
      const response = await request(t, headers, 'mutation { createProject(name: "never") { id } }');
      expect([400, 401], JSON.stringify(headers)).toContain(response.status);
    }
    expect(usage()).toEqual({ connections: 0, checkouts: 0 });

    // The control: a well-formed key does reach Postgres (the registry looks it up), so a connection opens.
    const response = await request(t, { 'x-tenant-id': acme.slug, ...bearer(unknownKey()) });
    expect(response.status).toBe(401);
    expect(usage().connections).toBe(1);
  });
});

describe('unexpected errors', () => {
  let t: TestApi;
  let acme: TestTenant;

  beforeAll(async () => {
    // Its own database: the grants taken away below affect no other test.
    t = await createTestApi();
    acme = await provisionTenant(t.database.provisioner, 'acme', small);
  });
  afterAll(() => t.close());

  /**
   * Breaks the database under the API for the duration of `work`: the owner renames a table or
   * function that the API's SQL names, so that the SQL fails in Postgres with an error naming it.
   */
  async function whileBroken(breakIt: string, repair: string, work: () => Promise<void>): Promise<void> {
    await sql.raw(breakIt).execute(t.database.owner);
    try {
      await work();
    } finally {
      await sql.raw(repair).execute(t.database.owner);
    }
  }

  test('a failing query is answered "Unexpected error." with INTERNAL_SERVER_ERROR and the request id, and no SQL', async () => {
    const task = (await t.graphql(acme, '{ projects(first: 1) { edges { node { tasks(first: 1) { id } } } } }')).body.data!.projects.edges[0].node.tasks[0].id;
    await whileBroken(
      'alter table app.comments rename to comments_gone',
      'alter table app.comments_gone rename to comments',
      async () => {
        const response = await t.graphql(acme, 'query($id: ID!) { task(id: $id) { title comments { body } } }', { id: task }, {
          headers: { 'x-request-id': 'req-comments-1' },
        });
        expect(response.status).toBe(200);
        expect(response.body).toEqual({
          data: { task: null },
          errors: [
            {
              message: 'Unexpected error.',
              locations: [{ line: 1, column: 41 }],
              path: ['task', 'comments'],
              extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'req-comments-1' },
            },
          ],
        });
        expectNoInternals(response);
      },
    );
  });

  test('a request id is generated when the client sends none (or an unusable one)', async () => {
    await whileBroken('alter table app.projects rename to projects_gone', 'alter table app.projects_gone rename to projects', async () => {
      for (const headers of [{}, { 'x-request-id': "'; select pg_sleep(1) --" }] as Record<string, string>[]) {
        const response = await t.graphql(acme, '{ projects { edges { node { id } } } }', {}, { headers });
        expect(response.body.errors).toHaveLength(1);
        const error = response.body.errors![0]!;
        expect(error.message).toBe('Unexpected error.');
        expect(error.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
        expectNoInternals(response);
      }
    });
  });

  test('a failing mutation is masked the same way, and nothing of it is kept', async () => {
    await whileBroken(
      'alter table app.comments rename to comments_gone',
      'alter table app.comments_gone rename to comments',
      async () => {
        const before = (await t.graphql(acme, '{ projects { edges { node { id } } } }')).body.data!.projects.edges.length;
        const task = (await t.graphql(acme, '{ projects(first: 1) { edges { node { tasks(first: 1) { id } } } } }')).body.data!.projects.edges[0].node.tasks[0].id;
        const response = await t.graphql(
          acme,
          'mutation($id: ID!) { createProject(name: "kept?") { id } addComment(taskId: $id, body: "hello") { id } }',
          { id: task },
          { headers: { 'x-request-id': 'req-mutation-1' } },
        );
        expect(response.body).toEqual({
          data: null,
          errors: [
            {
              message: 'Unexpected error.',
              locations: [{ line: 1, column: 58 }],
              path: ['addComment'],
              extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'req-mutation-1' },
            },
          ],
        });
        expectNoInternals(response);
        expect((await t.graphql(acme, '{ projects { edges { node { id } } } }')).body.data!.projects.edges.length).toBe(before);
      },
    );
  });

  test('a failure while resolving the tenant is a 500 "Unexpected error." without SQL', async () => {
    await whileBroken(
      'alter function control.resolve_request(text, text) rename to resolve_request_gone',
      'alter function control.resolve_request_gone(text, text) rename to resolve_request',
      async () => {
        const response = await t.graphql(acme, '{ tenant { slug } }');
        expect(response.status).toBe(500);
        expect(response.body.data).toBeUndefined();
        expect(response.body.errors).toHaveLength(1);
        expect(response.body.errors![0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
        expectNoInternals(response);
      },
    );
    // And the API recovers as soon as the database does.
    expect((await t.graphql(acme, '{ tenant { slug } }')).body).toEqual({ data: { tenant: { slug: 'acme' } } });
  });
});
