/**
 * The seed file: what the seeding command created, one JSON object per line, appended as each
 * tenant is complete (so an interrupted seeding resumes where it stopped). It holds API keys: it is
 * written with mode 0600 under the git-ignored `load/results/`. Read by the Node runner and, through
 * k6's `open()`, by the k6 scripts; so no Node or k6 API here.
 */
import type { LoadTenant } from './operations.ts';
import type { Strategy } from './profile.ts';

export interface SeededTenant extends LoadTenant {
  kind: 'tenant';
  /** Rank in the profile's distribution. */
  index: number;
  id: string;
  strategy: Strategy;
  tier: string;
}

export interface PlatformKeyLine {
  kind: 'platform-key';
  /** A platform operator's key, for `poolStats` on /platform/graphql. */
  key: string;
}

export type SeedLine = SeededTenant | PlatformKeyLine;

export interface SeedFile {
  /** By rank (index), whatever order they were written in. */
  tenants: SeededTenant[];
  platformKey: string | undefined;
}

export function parseSeedFile(text: string): SeedFile {
  const tenants: SeededTenant[] = [];
  let platformKey: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as SeedLine;
    if (record.kind === 'tenant') tenants.push(record);
    else if (record.kind === 'platform-key') platformKey = record.key;
  }
  tenants.sort((a, b) => a.index - b.index);
  return { tenants, platformKey };
}
