import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { hashApiKey, issueDemoKeys, seedDemoTenants, TenantProvisioner, type DemoCredential } from '@tenant-app/db';

export interface DemoKeys {
  tenants: DemoCredential[];
  /** For the platform API (/platform/graphql). */
  platformKey: string;
}

/**
 * Seeds the demo tenants (once) and returns an API key per demo tenant and a platform key. Keys are
 * stored only as hashes in Postgres, so the clear keys are kept in the data folder (mode 0600) for
 * the next start; when they no longer match the database (a new cluster), fresh ones are issued.
 */
export async function demoCredentials(ownerUrl: string, dataDir: string): Promise<DemoKeys> {
  const file = path.join(dataDir, 'demo-credentials.json');
  const provisioner = new TenantProvisioner({ ownerUrl });
  try {
    await seedDemoTenants(provisioner);
    const saved = readSaved(file);
    if (saved && (await allKnown(provisioner, saved))) return saved;
    const issued = { tenants: await issueDemoKeys(provisioner), platformKey: await provisioner.issuePlatformKey('demo operator') };
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${JSON.stringify(issued, null, 2)}\n`, { mode: 0o600 });
    return issued;
  } finally {
    await provisioner.close();
  }
}

function readSaved(file: string): DemoKeys | undefined {
  if (!existsSync(file)) return undefined;
  const saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<DemoKeys>;
  // A file of an older layout is simply replaced.
  return Array.isArray(saved.tenants) && typeof saved.platformKey === 'string' ? (saved as DemoKeys) : undefined;
}

async function allKnown(provisioner: TenantProvisioner, saved: DemoKeys): Promise<boolean> {
  const tenantHashes = saved.tenants.map((credential) => hashApiKey(credential.apiKey));
  const { rows } = await sql<{ known: number }>`
    select (select count(*) from control.api_keys where key_hash = any(${tenantHashes}) and revoked_at is null)
         + (select count(*) from control.platform_keys where key_hash = ${hashApiKey(saved.platformKey)} and revoked_at is null)
         as known`.execute(provisioner.owner);
  return Number(rows[0]?.known) === tenantHashes.length + 1;
}
