import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { issueDemoKeys, seedDemoTenants, TenantProvisioner, type DemoCredential } from '@tenant-app/db';
import { createHash } from 'node:crypto';

/**
 * Seeds the demo tenants (once) and returns an API key per demo tenant. Keys are stored only as
 * hashes in Postgres, so the clear keys are kept in the data folder (mode 0600) for the next start;
 * when they no longer match the database (a new cluster), fresh ones are issued.
 */
export async function demoCredentials(ownerUrl: string, dataDir: string): Promise<DemoCredential[]> {
  const file = path.join(dataDir, 'demo-credentials.json');
  const provisioner = new TenantProvisioner({ ownerUrl });
  const owner = provisioner.owner;
  try {
    await seedDemoTenants(provisioner);
    const saved = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DemoCredential[]) : [];
    if (saved.length > 0) {
      const hashes = saved.map((credential) => createHash('sha256').update(credential.apiKey).digest('hex'));
      const known = await owner
        .selectFrom('control.api_keys')
        .select('key_hash')
        .where('key_hash', 'in', hashes)
        .where('revoked_at', 'is', null)
        .execute();
      if (known.length === saved.length) return saved;
    }
    const issued = await issueDemoKeys(provisioner);
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${JSON.stringify(issued, null, 2)}\n`, { mode: 0o600 });
    return issued;
  } finally {
    await provisioner.close();
  }
}
