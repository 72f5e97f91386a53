import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, provisionTenant, type TestApi, type TestTenant } from './support.ts';

/** One raw request to the tenant API: whatever the body, headers and method, as an attacker sends them. */
async function send(t: TestApi, init: { method?: string; path?: string; headers?: Record<string, string> | [string, string][]; body?: string }) {
  const response = await t.api.fetch(`http://test${init.path ?? '/graphql'}`, {
    method: init.method ?? 'POST',
    headers: init.headers ?? { 'content-type': 'application/json' },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const text = await response.text();
  let body: { errors?: { message: string; extensions?: { code?: string } }[] } | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, codes: body?.errors?.map((error) => error.extensions?.code) ?? [] };
}

/** A client error: a 4xx, and every error of the body names its code (never INTERNAL_SERVER_ERROR). */
function expectRefused(response: Awaited<ReturnType<typeof send>>, status: number, code: string): void {
  expect({ status: response.status, codes: [...new Set(response.codes)] }, response.text).toEqual({ status, codes: [code] });
}

const json = { 'content-type': 'application/json' };

describe('hostile input', () => {
  let t: TestApi;
  let acme: TestTenant;
  let auth: Record<string, string>;

  beforeAll(async () => {
    t = await createTestApi();
    acme = await provisionTenant(t.database.provisioner, 'acme', { projects: 2, tasksPerProject: 2, commentsPerTask: 1 });
    auth = { ...json, 'x-tenant-id': acme.slug, authorization: `Bearer ${acme.adminKey}` };
  });
  afterAll(() => t.close());

  const query = (text: string, variables?: unknown) => JSON.stringify({ query: text, variables });

  test('malformed x-tenant-id: huge, unicode, NUL, SQL: 400 BAD_USER_INPUT before any SQL', async () => {
    for (const tenant of ['a'.repeat(16_384), 'ac\u00e9me', '\u{1F600}cme', 'acme\u0000', "acme' OR '1'='1", 'acme; DROP TABLE tasks; --', `${acme.slug}\u200b`]) {
      // fetch's Headers refuse NUL and non-Latin-1 characters; a raw socket could still send them, so
      // they arrive here as the percent-encoded or byte strings a proxy would pass on.
      const value = /^[\u0020-\u007e\u00a0-\u00ff]*$/.test(tenant) ? tenant : encodeURIComponent(tenant);
      expectRefused(await send(t, { headers: { ...auth, 'x-tenant-id': value }, body: query('{ tenant { slug } }') }), 400, 'BAD_USER_INPUT');
    }
  });

  test('several authorization headers are one malformed value: 401 UNAUTHENTICATED', async () => {
    const response = await send(t, {
      headers: [
        ['content-type', 'application/json'],
        ['x-tenant-id', acme.slug],
        ['authorization', `Bearer ${acme.adminKey}`],
        ['authorization', `Bearer ${acme.memberKey}`],
      ],
      body: query('{ tenant { slug } }'),
    });
    expectRefused(response, 401, 'UNAUTHENTICATED');
    expectRefused(await send(t, { headers: { ...auth, authorization: `Bearer ${'x'.repeat(10_000)}` }, body: query('{ tenant { slug } }') }), 401, 'UNAUTHENTICATED');
  });

  test('malformed JSON bodies: 400 BAD_REQUEST', async () => {
    for (const body of ['{', '{"query": "{ tenant { slug } }"', 'null', '"query"', '42', '{"query": 42}', '{"query": "{ tenant { slug } }", "variables": "x"}', '\u0000\u0001', '']) {
      const response = await send(t, { headers: auth, body });
      expect(response.status, `${JSON.stringify(body)}: ${response.text}`).toBe(400);
      expect(response.codes.length, response.text).toBeGreaterThan(0);
      expect(response.codes.every((code) => code === 'BAD_REQUEST'), response.text).toBe(true);
    }
  });

  test('wrong content types: 415 or 400 with a code, never a 500', async () => {
    for (const contentType of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/octet-stream']) {
      const response = await send(t, { headers: { ...auth, 'content-type': contentType }, body: query('{ tenant { slug } }') });
      expect([400, 415], `${contentType}: ${response.text}`).toContain(response.status);
    }
    expectRefused(await send(t, { headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7B' }), 400, 'GRAPHQL_PARSE_FAILED');
  });

  test('a body over the limit is refused with 413 as soon as it is declared, or read', async () => {
    const huge = query('query($v: String) { tenant { slug } }', { v: 'x'.repeat(200_000) });
    expectRefused(await send(t, { headers: auth, body: huge }), 413, 'REQUEST_ENTITY_TOO_LARGE');
    // Without a Content-Length (chunked), the stream is cut once it passes the limit.
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
        for (let index = 0; index < 64; index++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await t.api.fetch('http://test/graphql', { method: 'POST', headers: auth, body: chunks, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
  });

  test('deep nesting, alias bombs, directive floods and token floods: 400 QUERY_TOO_COMPLEX', async () => {
    const deep = `{ task(id: "x") ${'{ project { tasks '.repeat(8)}{ id }${' } }'.repeat(8)} }`;
    const aliases = `{ ${Array.from({ length: 500 }, (_, index) => `a${index}: tenant { slug }`).join(' ')} }`;
    const directives = `{ tenant { slug ${'@include(if: true) '.repeat(200)} } }`;
    const tokens = `{ tenant { ${'slug '.repeat(5_000)} } }`;
    const wide = `{ ${Array.from({ length: 3 }, (_, index) => `p${index}: projects(first: 100) { edges { node { tasks(first: 100) { comments(first: 100) { body author { name } } } } } }`).join(' ')} }`;
    for (const text of [deep, aliases, directives, tokens, wide]) {
      expectRefused(await send(t, { headers: auth, body: query(text) }), 400, 'QUERY_TOO_COMPLEX');
    }
    // Refused before the tenant is looked at: a caller without credentials gets the same answer.
    expectRefused(await send(t, { headers: json, body: query(deep) }), 400, 'QUERY_TOO_COMPLEX');
  });

  test('fragment cycles and unknown fields: 400 GRAPHQL_VALIDATION_FAILED', async () => {
    expectRefused(await send(t, { headers: auth, body: query('{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }') }), 400, 'GRAPHQL_VALIDATION_FAILED');
    expectRefused(await send(t, { headers: auth, body: query('{ tenant { secret } }') }), 400, 'GRAPHQL_VALIDATION_FAILED');
  });

  test('huge and mistyped variables: 400, never a 500', async () => {
    const oneHundredKilobytes = 'y'.repeat(90_000);
    const response = await send(t, { headers: auth, body: query('mutation($name: String!) { createProject(name: $name) { id } }', { name: oneHundredKilobytes }) });
    expect(response.status).toBe(400);
    expect(response.codes).toEqual(['BAD_USER_INPUT']);
    const mistyped = await send(t, { headers: auth, body: query('query($n: Int) { projects(first: $n) { edges { node { id } } } }', { n: 'x'.repeat(1000) }) });
    expectRefused(mistyped, 400, 'BAD_USER_INPUT');
    const nested = await send(t, { headers: auth, body: query('query($n: Int) { projects(first: $n) { edges { node { id } } } }', { n: { a: [[[[[[1]]]]]] } }) });
    expectRefused(nested, 400, 'BAD_USER_INPUT');
  });

  test('batched operations (an array body) are refused: 400 BAD_REQUEST', async () => {
    const batch = JSON.stringify([{ query: '{ tenant { slug } }' }, { query: '{ viewer { name } }' }]);
    expectRefused(await send(t, { headers: auth, body: batch }), 400, 'BAD_REQUEST');
  });

  test('a mutation over GET is refused: 405 BAD_REQUEST with Allow: POST', async () => {
    const url = `/graphql?query=${encodeURIComponent('mutation { createProject(name: "via get") { id } }')}`;
    const response = await send(t, { method: 'GET', path: url, headers: { ...auth, accept: 'application/json' } });
    expectRefused(response, 405, 'BAD_REQUEST');
    expect(response.headers.get('allow')).toBe('POST');
    const projects = await t.graphql<{ projects: { edges: { node: { name: string } }[] } }>(acme, '{ projects(first: 100) { edges { node { name } } } }');
    expect(projects.body.data!.projects.edges.map((edge) => edge.node.name)).not.toContain('via get');
  });

  test('after many hostile requests the server answers normally and its heap is bounded', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const bodies = [
      query(`{ ${'a: tenant { slug } '.repeat(200)} }`),
      query(`{ tenant { ${'slug '.repeat(5_000)} } }`),
      JSON.stringify([{ query: '{ tenant { slug } }' }]),
      '{"query": ',
      query('query($v: String) { tenant { slug } }', { v: randomBytes(80_000).toString('base64') }),
    ];
    const round = async () => {
      for (let index = 0; index < 200; index++) {
        const response = await send(t, { headers: auth, body: bodies[index % bodies.length]! });
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
      }
    };
    await round();
    gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let rounds = 0; rounds < 5; rounds++) await round();
    gc?.();
    const grown = process.memoryUsage().heapUsed - before;
    // 1,000 requests carrying ~25 MB in all: what stays behind is caches of bounded size, not the bodies.
    expect(grown).toBeLessThan(gc ? 16 * 1024 * 1024 : 64 * 1024 * 1024);
    const healthy = await t.graphql(acme, '{ tenant { slug } }');
    expect(healthy.body).toEqual({ data: { tenant: { slug: 'acme' } } });
  });
});
