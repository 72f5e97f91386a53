import type { PlatformPrincipal, TenantProvisioner } from '@tenant-app/db';
import type { HostStats, PoolStats, TenantPoolStats } from '@tenant-app/pool';

/** What the platform API's resolvers get: the operator, and the owner's tools. */
export interface PlatformContext {
  operator: PlatformPrincipal;
  /** Runs as the owner role: creates and changes tenants. */
  provisioner: TenantProvisioner;
  poolStats(): { hosts: HostStats[]; pools: PoolStats[]; tenants: TenantPoolStats[] };
  /** Tells this process that a tenant changed, so that cached resolutions are dropped now. */
  tenantsChanged(): void;
}
