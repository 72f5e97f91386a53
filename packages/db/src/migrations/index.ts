import type { Migration, MigrationProvider } from 'kysely';
import * as controlPlane from './control/2026-11-28T09-00_control-plane.ts';
import * as tenantStrategies from './control/2026-11-28T10-00_tenant-strategies.ts';
import * as platformKeys from './control/2026-11-28T10-30_platform-keys.ts';
import * as tenantMigrationState from './control/2026-11-28T10-45_tenant-migration-state.ts';
import * as derivedTenantPasswords from './control/2026-11-30T09-00_derived-tenant-passwords.ts';
import * as memberResolution from './control/2026-11-30T12-00_member-resolution.ts';
import * as lookupsUnderTenantRoles from './control/2026-11-30T13-00_lookups-under-tenant-roles.ts';
import * as apiKeyUse from './control/2026-11-30T14-00_api-key-use.ts';
import * as credentialGatedLookups from './control/2026-12-01T09-00_credential-gated-lookups.ts';
import * as noTemporaryObjects from './control/2026-12-03T09-00_no-temporary-objects.ts';
import * as indexedTenantLookups from './control/2026-12-04T09-00_indexed-tenant-lookups.ts';
import * as signedMemberLookups from './control/2026-12-04T10-00_signed-member-lookups.ts';
import * as projectTracker from './tenant/2026-11-28T09-00_project-tracker.ts';
import * as verifiedTenantBinding from './tenant/2026-11-29T09-00_verified-tenant-binding.ts';
import * as bindingSearchesTempLast from './tenant/2026-12-01T09-00_binding-searches-temp-last.ts';
import * as bindingCheckInPlpgsql from './tenant/2026-12-01T10-00_binding-check-in-plpgsql.ts';
import * as bindingCheckInOneQuery from './tenant/2026-12-02T09-00_binding-check-in-one-query.ts';
import * as bindingCheckLookupThenHash from './tenant/2026-12-07T23-00_binding-check-lookup-then-hash.ts';

/**
 * Migrations are listed here rather than discovered on disk, so they run the same from sources,
 * from a bundle and under a test runner. Names are ISO dates and never change once released.
 */
function staticProvider(migrations: Record<string, Migration>): MigrationProvider {
  return { getMigrations: async () => migrations };
}

export const controlMigrations = staticProvider({
  '2026-11-28T09-00_control-plane': controlPlane,
  '2026-11-28T10-00_tenant-strategies': tenantStrategies,
  '2026-11-28T10-30_platform-keys': platformKeys,
  '2026-11-28T10-45_tenant-migration-state': tenantMigrationState,
  '2026-11-30T09-00_derived-tenant-passwords': derivedTenantPasswords,
  '2026-11-30T12-00_member-resolution': memberResolution,
  '2026-11-30T13-00_lookups-under-tenant-roles': lookupsUnderTenantRoles,
  '2026-11-30T14-00_api-key-use': apiKeyUse,
  '2026-12-01T09-00_credential-gated-lookups': credentialGatedLookups,
  '2026-12-03T09-00_no-temporary-objects': noTemporaryObjects,
  '2026-12-04T09-00_indexed-tenant-lookups': indexedTenantLookups,
  '2026-12-04T10-00_signed-member-lookups': signedMemberLookups,
});

export const tenantMigrations = staticProvider({
  '2026-11-28T09-00_project-tracker': projectTracker,
  '2026-11-29T09-00_verified-tenant-binding': verifiedTenantBinding,
  '2026-12-01T09-00_binding-searches-temp-last': bindingSearchesTempLast,
  '2026-12-01T10-00_binding-check-in-plpgsql': bindingCheckInPlpgsql,
  '2026-12-02T09-00_binding-check-in-one-query': bindingCheckInOneQuery,
  '2026-12-07T23-00_binding-check-lookup-then-hash': bindingCheckLookupThenHash,
});
