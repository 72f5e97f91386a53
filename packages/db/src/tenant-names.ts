/** Where a `schema` tenant's tables live. Slugs have no underscore, so no two slugs share a schema. */
export function tenantSchemaName(slug: string): string {
  return `t_${slug.replaceAll('-', '_')}`;
}

/**
 * The tenant's own role (and, for a `database` tenant, login and database). Roles and databases are
 * per server, not per database, so they are named by the tenant's id, never by its slug.
 */
export function tenantRoleName(tenantId: string): string {
  return `tenant_${tenantId.replaceAll('-', '')}`;
}

/** What a slug may look like; the control plane's check constraint says the same. */
export const TENANT_SLUG_PATTERN = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;
