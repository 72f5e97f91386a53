/**
 * The group role that holds every privilege the API needs at run time. The login the API connects
 * with is a member of it and is never the owner of the tables, a superuser, or BYPASSRLS:
 * `assertSafeRuntimeRole` refuses to start otherwise.
 */
export const RUNTIME_ROLE = 'tenant_app_runtime';

/**
 * The group role that holds the privileges on tenant tables. The runtime role is a member; so is
 * every tenant's own role, which reaches only its own schema (the only schema it has USAGE on).
 * Grants cannot go to the runtime role itself: it is a member of every tenant role, and Postgres
 * forbids the circle.
 */
export const ACCESS_ROLE = 'tenant_app_access';

/** The schema that holds the tables of every `shared` tenant. */
export const SHARED_SCHEMA = 'app';

/**
 * The transaction-local setting that names the bound tenant. Policies trust it only together with
 * `TENANT_TOKEN_SETTING`: on its own, any SQL could set it.
 */
export const TENANT_SETTING = 'app.tenant_id';

/**
 * The transaction-local setting that carries the binding's token: `<key id>.<expiry>.<mac>`, an
 * HMAC-SHA256 over the tenant setting, the `role` setting, the key id and the expiry (see
 * `tenant-binding-key.ts`).
 */
export const TENANT_TOKEN_SETTING = 'app.tenant_token';

/**
 * The schema, one per database, that holds the binding keys and the function the RLS policies
 * call to verify a binding. Nobody but its owner has USAGE on it.
 */
export const BINDING_SCHEMA = 'tenant_binding';
