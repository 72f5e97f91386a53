import {
  looksLikeApiKey,
  type Principal,
  type RequestResolution,
  type TenantRecord,
  type TenantRegistry,
} from '@tenant-app/db';
import { errors } from '@tenant-app/graphql';
import type { JwtVerifier } from './jwt-verifier.ts';

const SLUG = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A JWS in compact form: three base64url parts, the last empty for `alg: none` (refused by the verifier). */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * The tenant and the caller of a request, or the client error that explains why there is none.
 * Headers are checked for shape before any SQL runs: a malformed tenant or key never reaches
 * Postgres, and a JWT reaches it only once verified. The bearer is an API key or, when `jwt` is
 * given, a JWT whose subject must be a member of the tenant.
 */
export async function resolveRequestIdentity(
  headers: Headers,
  registry: TenantRegistry,
  jwt: JwtVerifier | undefined,
): Promise<{ tenant: TenantRecord; principal: Principal }> {
  const tenantRef = headers.get('x-tenant-id');
  if (tenantRef === null || tenantRef.trim() === '') throw errors.tenantRequired();
  if (!SLUG.test(tenantRef) && !UUID.test(tenantRef)) throw errors.tenantHeaderInvalid();

  const authorization = headers.get('authorization') ?? '';
  const [scheme, credential, ...rest] = authorization.split(' ');
  if (scheme?.toLowerCase() !== 'bearer' || !credential || rest.length > 0) throw errors.unauthenticated();

  let resolution: RequestResolution;
  if (looksLikeApiKey(credential)) {
    resolution = await registry.resolve(tenantRef.toLowerCase(), credential);
  } else if (jwt && JWT.test(credential)) {
    const userId = await jwt.verify(credential);
    if (userId === undefined) throw errors.unauthenticated();
    resolution = await registry.resolveMember(tenantRef.toLowerCase(), userId);
  } else {
    throw errors.unauthenticated();
  }
  switch (resolution.outcome) {
    case 'unauthenticated':
      throw errors.unauthenticated();
    case 'tenant-not-found':
      throw errors.tenantNotFound();
    case 'forbidden':
      throw errors.forbidden(
        looksLikeApiKey(credential) ? 'this API key belongs to another tenant' : 'this user is not a member of this tenant',
      );
    case 'suspended':
      throw errors.tenantSuspended();
    case 'ok':
      return { tenant: resolution.tenant, principal: resolution.principal };
  }
}
