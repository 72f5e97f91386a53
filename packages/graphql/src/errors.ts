import { GraphQLError } from 'graphql';

function clientError(message: string, code: string, status?: number, headers?: Record<string, string>): GraphQLError {
  const http = status === undefined ? {} : { http: { status, ...(headers ? { headers } : {}) } };
  return new GraphQLError(message, { extensions: { code, ...http } });
}

/** Errors a client can act on. Everything else is masked by the server and logged. */
export const errors = {
  tenantRequired: () =>
    clientError('name the tenant in the x-tenant-id header (its id or slug)', 'TENANT_REQUIRED', 400),
  tenantHeaderInvalid: () =>
    clientError(
      'x-tenant-id must be a tenant slug (a-z, 0-9, "-", 3 to 40 characters) or a tenant id (UUID)',
      'BAD_USER_INPUT',
      400,
    ),
  tenantNotFound: () => clientError('no tenant matches x-tenant-id', 'TENANT_NOT_FOUND', 404),
  tenantSuspended: () => clientError('this tenant is suspended', 'TENANT_SUSPENDED', 403),
  unauthenticated: () =>
    clientError('send a valid API key as "Authorization: Bearer <key>"', 'UNAUTHENTICATED', 401, {
      'www-authenticate': 'Bearer',
    }),
  forbidden: (message = 'these credentials may not do this for this tenant') => clientError(message, 'FORBIDDEN', 403),
  badInput: (message: string) => clientError(message, 'BAD_USER_INPUT', 400),
  /** A foreign tenant's id gets exactly this too: it must not be told apart from a missing one. */
  notFound: (what: string) => clientError(`${what} not found`, 'NOT_FOUND'),
  poolTimeout: (retryAfterSeconds: number) =>
    clientError('the service is busy: retry shortly', 'POOL_TIMEOUT', 503, { 'retry-after': String(retryAfterSeconds) }),
  rateLimited: (retryAfterSeconds: number) =>
    clientError('this tenant sends requests faster than its tier allows: retry later', 'RATE_LIMITED', 429, {
      'retry-after': String(retryAfterSeconds),
    }),
  /** The tenant's tier bounds every statement (`statement_timeout`): one ran longer and was stopped. */
  statementTimeout: () =>
    clientError(
      "a statement of this request ran longer than this tenant's tier allows and was stopped: ask for less, or retry shortly",
      'STATEMENT_TIMEOUT',
      503,
      { 'retry-after': '1' },
    ),
  unavailable: () => clientError('the database is unavailable: retry shortly', 'SERVICE_UNAVAILABLE', 503, { 'retry-after': '1' }),
};
