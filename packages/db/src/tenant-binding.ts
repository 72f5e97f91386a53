import { TENANT_SETTING } from './roles.ts';

/** A statement that binds a transaction to a tenant; the pool sends it right after BEGIN. */
export interface BindingStatement {
  text: string;
  values: readonly unknown[];
}

/**
 * The binding of a `shared` tenant: a transaction-local setting that the RLS policies read. The
 * tenant id travels as a bound parameter, never spliced into SQL text.
 */
export function sharedTenantBinding(tenantId: string): BindingStatement[] {
  return [{ text: 'select set_config($1, $2, true)', values: [TENANT_SETTING, tenantId] }];
}
