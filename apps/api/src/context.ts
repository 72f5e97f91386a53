import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import {
  sessionPlanFor,
  type TenantBindingKey,
  type TenantDatabase,
  type TenantLoginKey,
  type TenantRecord,
  type TenantProvisioner,
  type TenantRegistry,
} from '@tenant-app/db';
import type { SessionOptions } from '@tenant-app/pool';
import { errors, type GraphQLContext, type TenantApiKeys } from '@tenant-app/graphql';
import type { BoundSession, PoolManager } from '@tenant-app/pool';
import { resolveRequestIdentity } from './request-identity.ts';
import { toClientError } from './errors.ts';
import type { TenantRateLimiter } from './rate-limit.ts';
import type { JwtVerifier } from './jwt-verifier.ts';

export interface ApiContext extends GraphQLContext {
  requestId: string;
  log: Logger;
  /** The request's transaction; `db` runs on it. Ended by `useTenantTransaction`. */
  bound: BoundSession<TenantDatabase>;
}

export interface ContextDependencies {
  pools: PoolManager;
  registry: TenantRegistry;
  logger: Logger;
  /** Signs every request's tenant binding (`loadTenantBindingKey`, once at start). */
  bindingKey: TenantBindingKey;
  /** Derives `database` tenants' passwords (`loadTenantLoginKey`, once at start). */
  loginKey: TenantLoginKey;
  /** How a tenant's session is opened; `sessionPlanFor` unless an experiment needs another. */
  sessionPlan?: (tenant: TenantRecord) => SessionOptions;
  /** Counts the request against its tenant's rate before any of its SQL runs. @default no limit */
  rateLimiter?: TenantRateLimiter;
  /** Verifies `Authorization: Bearer <JWT>`. @default JWTs are refused (401) */
  jwt?: JwtVerifier;
  /** The owner's tools, through which tenant admins manage their keys. @default key management refused (FORBIDDEN) */
  provisioner?: TenantProvisioner;
}

/** Builds a request's context: who the tenant and the caller are, and a database bound to them. */
export async function createApiContext(request: Request, deps: ContextDependencies): Promise<ApiContext> {
  const requestId = request.headers.get('x-request-id')?.match(/^[\w-]{1,64}$/)?.[0] ?? randomUUID();
  const log = deps.logger.child({ requestId });
  let identity: Awaited<ReturnType<typeof resolveRequestIdentity>>;
  try {
    identity = await resolveRequestIdentity(request.headers, deps.registry, deps.jwt);
  } catch (error) {
    const clientError = toClientError(error);
    if (clientError) throw clientError;
    log.error({ err: error }, 'resolving the tenant failed');
    // Built here rather than by the server's masking, so that it carries the request id to report.
    throw new GraphQLError('Unexpected error.', {
      extensions: { code: 'INTERNAL_SERVER_ERROR', requestId, http: { status: 500 } },
    });
  }
  const { tenant, principal } = identity;
  await deps.rateLimiter?.take(tenant);
  const plan = deps.sessionPlan ? deps.sessionPlan(tenant) : sessionPlanFor(tenant, deps.bindingKey, deps.loginKey);
  const bound = deps.pools.openSession<TenantDatabase>(plan);
  // A client may go away while its tenant is resolved or its rate waited for: the event has fired
  // by then, and a write of that request would still run, after a later request of the same client.
  const abort = () => void bound.session.abort();
  if (request.signal?.aborted) abort();
  else request.signal?.addEventListener('abort', abort, { once: true });
  return {
    requestId,
    log: log.child({ tenant: tenant.slug }),
    tenant: { id: tenant.id, slug: tenant.slug, name: tenant.name },
    viewer: principal,
    db: bound.db,
    apiKeys: tenantApiKeys(tenant.id, deps),
    bound,
  };
}

/**
 * A tenant's keys through the owner's connection: the runtime login can neither read nor change
 * `control.api_keys`, so SQL injected into a request cannot reach another tenant's keys. The
 * tenant id is the one the request was resolved to, never an argument.
 */
function tenantApiKeys(tenantId: string, deps: ContextDependencies): TenantApiKeys {
  const { provisioner, registry } = deps;
  if (!provisioner) {
    const refuse = () => Promise.reject(errors.forbidden('this server does not manage API keys'));
    return { list: refuse, revoke: refuse };
  }
  return {
    list: (limit) => provisioner.listApiKeys(tenantId, limit),
    revoke: async (id) => {
      const key = await provisioner.revokeApiKey(id, tenantId);
      // This process refuses the key from its next request on; others within their cache TTL.
      if (key) registry.invalidate();
      return key;
    },
  };
}
