import { looksLikeApiKey, type Principal, type TenantRecord, type TenantRegistry } from '@tenant-app/db';
import { errors } from '@tenant-app/graphql';

const SLUG = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The tenant and the caller of a request, or the client error that explains why there is none.
 * Headers are checked for shape before any SQL runs: a malformed tenant or key never reaches
 * Postgres.
 */
export async function resolveRequestIdentity(
  headers: Headers,
  registry: TenantRegistry,
): Promise<{ tenant: TenantRecord; principal: Principal }> {
  const tenantRef = headers.get('x-tenant-id');
  if (tenantRef === null || tenantRef.trim() === '') throw errors.tenantRequired();
  if (!SLUG.test(tenantRef) && !UUID.test(tenantRef)) throw errors.tenantHeaderInvalid();

  const authorization = headers.get('authorization') ?? '';
  const [scheme, apiKey, ...rest] = authorization.split(' ');
  if (scheme?.toLowerCase() !== 'bearer' || !apiKey || rest.length > 0 || !looksLikeApiKey(apiKey)) {
    throw errors.unauthenticated();
  }

  const resolution = await registry.resolve(tenantRef.toLowerCase(), apiKey);
  switch (resolution.outcome) {
    case 'unauthenticated':
      throw errors.unauthenticated();
    case 'tenant-not-found':
      throw errors.tenantNotFound();
    case 'forbidden':
      throw errors.forbidden('this API key belongs to another tenant');
    case 'suspended':
      throw errors.tenantSuspended();
    case 'ok':
      return { tenant: resolution.tenant, principal: resolution.principal };
  }
}
