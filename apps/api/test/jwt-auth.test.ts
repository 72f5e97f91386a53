import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tenantRoleName } from '@tenant-app/db';
import { InvalidEnvironmentError, loadEnv } from '../src/index.ts';
import { createTestApi, globalId, provisionTenant, type GraphQLResponse, type TestApi, type TestTenant } from './support.ts';

const ISSUER = 'https://login.test';
const AUDIENCE = 'tenant-app';
const SECRET = randomBytes(32).toString('base64url');
const small = { projects: 2, tasksPerProject: 1, commentsPerTask: 0 };

interface TokenOptions {
  secret?: string;
  alg?: string;
  issuer?: string;
  audience?: string;
  /** Seconds from now; null leaves `exp` out. @default 60 */
  expiresIn?: number | null;
  /** Seconds from now, when set. */
  notBefore?: number;
}

/** A token as an identity provider would sign it: HS256 with the shared secret unless told otherwise. */
async function token(sub: string, options: TokenOptions = {}, claims: JWTPayload = {}, key?: { key: CryptoKey; kid: string }) {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? (key ? 'ES256' : 'HS256'), ...(key ? { kid: key.kid } : {}) })
    .setSubject(sub)
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(now);
  if (options.expiresIn !== null) jwt.setExpirationTime(now + (options.expiresIn ?? 60));
  if (options.notBefore !== undefined) jwt.setNotBefore(now + options.notBefore);
  return jwt.sign(key?.key ?? new TextEncoder().encode(options.secret ?? SECRET));
}

function asBearer(t: TestApi, tenantRef: string, credential: string, query = '{ tenant { slug } viewer { id name } }') {
  return t.graphql(undefined, query, {}, { headers: { 'x-tenant-id': tenantRef, authorization: `Bearer ${credential}` } });
}

function expectRequestError(response: GraphQLResponse, status: number, code: string): void {
  expect({ status: response.status, code: response.body.errors?.[0]?.extensions?.code, data: response.body.data }).toEqual({
    status,
    code,
    data: undefined,
  });
}

const PROJECT_NAMES = '{ projects(first: 100) { edges { node { name } } } }';
const projectNames = (response: GraphQLResponse) =>
  (response.body.data!.projects.edges as { node: { name: string } }[]).map((edge) => edge.node.name).sort();

describe('JWTs signed with a shared secret (HS256)', () => {
  let t: TestApi;
  let acme: TestTenant;
  let globex: TestTenant;

  beforeAll(async () => {
    t = await createTestApi({}, { api: { jwt: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE } } });
    acme = await provisionTenant(t.database.provisioner, 'acme', small);
    globex = await provisionTenant(t.database.provisioner, 'globex', small);
  });
  afterAll(() => t.close());

  test("the token's subject is the viewer, by tenant slug and by id, and API keys still work beside JWTs", async () => {
    for (const tenantRef of [acme.slug, acme.id]) {
      const response = await asBearer(t, tenantRef, await token(acme.memberId));
      expect({ status: response.status, body: response.body }).toEqual({
        status: 200,
        body: { data: { tenant: { slug: 'acme' }, viewer: { id: globalId('User', acme.memberId), name: 'acme member' } } },
      });
    }
    const byKey = await asBearer(t, acme.slug, acme.adminKey);
    expect(byKey.body.data?.viewer).toEqual({ id: globalId('User', acme.adminId), name: 'acme admin' });
  });

  test('the role is the membership\'s: a member cannot run the admin-only createProject even claiming "admin", an admin can', async () => {
    const asMember = await asBearer(t, acme.slug, await token(acme.memberId, {}, { role: 'admin', roles: ['admin'] }), 'mutation { createProject(name: "by a member") { name } }');
    expect(asMember.status).toBe(403);
    expect(asMember.body).toMatchObject({ data: null, errors: [{ path: ['createProject'], extensions: { code: 'FORBIDDEN' } }] });

    const asAdmin = await asBearer(t, acme.slug, await token(acme.adminId), 'mutation { createProject(name: "by an admin") { name } }');
    expect({ status: asAdmin.status, body: asAdmin.body }).toEqual({ status: 200, body: { data: { createProject: { name: 'by an admin' } } } });
    expect(projectNames(await asBearer(t, acme.slug, await token(acme.memberId), PROJECT_NAMES))).toContain('by an admin');
  });

  test('every token that is not valid gets 401 UNAUTHENTICATED, with a Bearer challenge', async () => {
    const valid = await token(acme.adminId);
    const [header, , signature] = valid.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ sub: acme.adminId, iss: ISSUER, aud: AUDIENCE, exp: 4_102_444_800 })).toString('base64url');
    const es256 = await generateKeyPair('ES256');
    const cases: Record<string, string> = {
      'signed with another secret': await token(acme.adminId, { secret: randomBytes(32).toString('base64url') }),
      expired: await token(acme.adminId, { expiresIn: -120 }),
      'not valid yet (nbf)': await token(acme.adminId, { notBefore: 120 }),
      'without exp': await token(acme.adminId, { expiresIn: null }),
      'wrong issuer': await token(acme.adminId, { issuer: 'https://evil.test' }),
      'wrong audience': await token(acme.adminId, { audience: 'another-app' }),
      'unsigned (alg none)': new UnsecuredJWT({ sub: acme.adminId }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('1m').encode(),
      'HS512 with the right secret (wrong algorithm)': await token(acme.adminId, { alg: 'HS512' }),
      'ES256 (wrong algorithm for a shared secret)': await token(acme.adminId, {}, {}, { key: es256.privateKey, kid: 'k' }),
      'payload swapped under a valid signature': `${header}.${forgedPayload}.${signature}`,
      'signature cut off': `${header}.${valid.split('.')[1]}.`,
      'subject not a user id': await token('admin@acme.test'),
      'subject no user has': await token(randomUUID()),
      'three dots of nothing': 'a.b.c',
    };
    for (const [name, bad] of Object.entries(cases)) {
      const response = await asBearer(t, acme.slug, bad);
      expect({ name, status: response.status, body: response.body }).toEqual({
        name,
        status: 401,
        body: { errors: [{ message: 'send a valid API key as "Authorization: Bearer <key>"', extensions: { code: 'UNAUTHENTICATED' } }] },
      });
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  test("a user who is not a member of the tenant gets 403 and none of its rows: a member of A naming B", async () => {
    for (const userId of [acme.adminId, acme.memberId]) {
      for (const tenantRef of [globex.slug, globex.id]) {
        for (const query of [PROJECT_NAMES, 'mutation { createProject(name: "planted") { name } }']) {
          const response = await asBearer(t, tenantRef, await token(userId), query);
          expectRequestError(response, 403, 'FORBIDDEN');
          expect(response.body.errors).toEqual([{ message: 'this user is not a member of this tenant', extensions: { code: 'FORBIDDEN' } }]);
        }
      }
    }
    expect(projectNames(await t.graphql(globex, PROJECT_NAMES))).not.toContain('planted');
  });

  test('a user of two tenants sees only the named one, with the role of that membership', async () => {
    // acme's admin joins globex as a plain member.
    const tenant = { id: globex.id, slug: globex.slug, name: 'globex inc.', strategy: globex.strategy, ownRole: false, tier: 'free' };
    await t.database.provisioner.addMember(tenant, { email: 'admin@acme.test', name: 'acme admin', role: 'member' });
    const jwt = await token(acme.adminId);
    const inGlobex = await asBearer(t, globex.slug, jwt, PROJECT_NAMES);
    expect(projectNames(inGlobex)).toEqual(projectNames(await t.graphql(globex, PROJECT_NAMES)));
    expect(projectNames(inGlobex)).not.toContain('by an admin');
    const createInGlobex = await asBearer(t, globex.slug, jwt, 'mutation { createProject(name: "member in globex") { name } }');
    expect(createInGlobex.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const createInAcme = await asBearer(t, acme.slug, jwt, 'mutation { createProject(name: "admin in acme") { name } }');
    expect(createInAcme.body).toEqual({ data: { createProject: { name: 'admin in acme' } } });
  });

  test('unknown tenant 404, suspended tenant 403 TENANT_SUSPENDED, as for API keys', async () => {
    expectRequestError(await asBearer(t, 'no-such-tenant', await token(acme.adminId)), 404, 'TENANT_NOT_FOUND');
    expectRequestError(await asBearer(t, randomUUID(), await token(acme.adminId)), 404, 'TENANT_NOT_FOUND');
    const initech = await provisionTenant(t.database.provisioner, 'initech', small);
    await t.database.provisioner.setStatus(initech.id, 'suspended');
    expectRequestError(await asBearer(t, initech.slug, await token(initech.memberId)), 403, 'TENANT_SUSPENDED');
    await t.database.provisioner.setStatus(initech.id, 'active');
    expect((await asBearer(t, initech.slug, await token(initech.memberId))).status).toBe(200);
  });

  test('with JWTs off, a valid token gets 401', async () => {
    const off = await createTestApi({}, { database: t.database });
    try {
      const response = await asBearer(off, acme.slug, await token(acme.adminId));
      expectRequestError(response, 401, 'UNAUTHENTICATED');
      expect((await asBearer(off, acme.slug, acme.adminKey)).status).toBe(200);
    } finally {
      await off.close();
    }
  });

  test('the lookup works on a connection left in a tenant role, as a pooled one can be', async () => {
    const initrode = await provisionTenant(t.database.provisioner, 'initrode', small, { strategy: 'schema' });
    const client = new pg.Client({ connectionString: t.database.runtimeUrl });
    await client.connect();
    try {
      await client.query(`set role ${tenantRoleName(initrode.id)}`);
      const { rows } = await client.query('select tenant_slug, role, tenant_database_url from control.resolve_member($1, $2, $3)', [
        initrode.slug,
        initrode.adminId,
        t.database.bindingKey.memberLookupToken(initrode.slug, initrode.adminId),
      ]);
      expect(rows).toEqual([{ tenant_slug: 'initrode', role: 'admin', tenant_database_url: null }]);
    } finally {
      await client.end();
    }
  });
});

/** An identity provider's key set, served over HTTP; `keys` is what it publishes right now. */
async function startJwksServer(): Promise<{ url: string; keys: JWK[]; fetches: number; close(): Promise<void> }> {
  const state = { keys: [] as JWK[], fetches: 0 };
  const server: Server = createServer((_request, response) => {
    state.fetches += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The API's fetch keeps its connection alive; closing it is what makes the set unreachable.
        server.closeAllConnections();
      }),
  });
}

async function signingKey(alg: 'ES256' | 'RS256', kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { key: privateKey, kid, alg, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

describe('JWTs signed with keys from a JWKS URL (ES256, RS256)', () => {
  let t: TestApi;
  let acme: TestTenant;
  let jwks: Awaited<ReturnType<typeof startJwksServer>>;

  beforeAll(async () => {
    jwks = await startJwksServer();
    // No cooldown, so that the rotation below refetches at once; the default waits 30 s between fetches.
    t = await createTestApi({}, { api: { jwt: { jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, jwksCooldownMs: 0 } } });
    acme = await provisionTenant(t.database.provisioner, 'acme', small);
  });
  afterAll(async () => {
    await t.close();
    await jwks.close();
  });

  test('a token signed by a published key is accepted; the key set is fetched once, not per request', async () => {
    const first = await signingKey('ES256', 'first');
    const rsa = await signingKey('RS256', 'rsa');
    jwks.keys = [first.jwk, rsa.jwk];
    for (const key of [first, rsa, first]) {
      const response = await asBearer(t, acme.slug, await token(acme.memberId, { alg: key.alg }, {}, key));
      expect(response.body.data?.viewer).toEqual({ id: globalId('User', acme.memberId), name: 'acme member' });
    }
    expect(jwks.fetches).toBe(1);

    const impostor = await signingKey('ES256', 'first');
    expectRequestError(await asBearer(t, acme.slug, await token(acme.memberId, {}, {}, impostor)), 401, 'UNAUTHENTICATED');
    // An HS256 token "signed" with public key material must not pass for a key-set token.
    const hs256 = await token(acme.memberId, { secret: JSON.stringify(first.jwk) });
    expectRequestError(await asBearer(t, acme.slug, hs256), 401, 'UNAUTHENTICATED');
    expectRequestError(await asBearer(t, acme.slug, await token(randomUUID(), {}, {}, first)), 401, 'UNAUTHENTICATED');
  });

  test('key rotation: a token with a kid not in the cached set makes the API refetch the set; retired keys stop working', async () => {
    const retired = await signingKey('ES256', 'retired');
    jwks.keys = [retired.jwk];
    const before = jwks.fetches;
    // A kid the cache does not know makes the API fetch the set again.
    expect((await asBearer(t, acme.slug, await token(acme.adminId, {}, {}, retired))).status).toBe(200);
    expect(jwks.fetches).toBe(before + 1);

    const next = await signingKey('ES256', 'next');
    jwks.keys = [next.jwk];
    const response = await asBearer(t, acme.slug, await token(acme.adminId, {}, {}, next));
    expect(response.body.data?.viewer).toEqual({ id: globalId('User', acme.adminId), name: 'acme admin' });
    expect(jwks.fetches).toBe(before + 2);

    expectRequestError(await asBearer(t, acme.slug, await token(acme.adminId, {}, {}, retired)), 401, 'UNAUTHENTICATED');
  });

  test('an unreachable key set is the server\'s failure (500), not the caller\'s (401)', async () => {
    await jwks.close();
    const unknown = await signingKey('ES256', 'unknown');
    const response = await asBearer(t, acme.slug, await token(acme.adminId, {}, {}, unknown));
    expectRequestError(response, 500, 'INTERNAL_SERVER_ERROR');
  });
});

describe('configuration', () => {
  const secret = 'x'.repeat(32);

  test('JWTs are on with JWT_SECRET or JWT_JWKS_URL, and need JWT_ISSUER and JWT_AUDIENCE', () => {
    expect(loadEnv({ JWT_SECRET: secret, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE })).toMatchObject({ JWT_SECRET: secret });
    expect(() => loadEnv({ JWT_SECRET: secret })).toThrow(
      /JWT_ISSUER="": is required with JWT_SECRET or JWT_JWKS_URL: the iss every token must carry\n {2}JWT_AUDIENCE="": is required/,
    );
    expect(() => loadEnv({ JWT_SECRET: secret, JWT_JWKS_URL: 'https://login.test/jwks', JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE })).toThrow(
      'JWT_JWKS_URL="https://login.test/jwks": set either JWT_SECRET (HS256) or JWT_JWKS_URL (RS256/ES256), not both',
    );
    expect(() => loadEnv({ JWT_JWKS_URL: 'ftp://login.test/jwks', JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE })).toThrow(
      'JWT_JWKS_URL="ftp://login.test/jwks": must be the http(s) URL of a JSON Web Key Set',
    );
    expect(() => loadEnv({ JWT_ISSUER: ISSUER })).toThrow('JWT_ISSUER="https://login.test": has no effect without JWT_SECRET or JWT_JWKS_URL');
  });

  test('a short JWT_SECRET is refused, and the message does not repeat it', () => {
    const short = 'short-but-secret';
    let error: unknown;
    try {
      loadEnv({ JWT_SECRET: short, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidEnvironmentError);
    expect((error as Error).message).toContain('JWT_SECRET=(hidden): must be at least 32 bytes, it has 16');
    expect((error as Error).message).not.toContain(short);
  });
});
