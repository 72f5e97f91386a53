/**
 * Where the k6 scripts send load, and what they read, from `k6 run -e NAME=value`: the one place
 * that reads __ENV (as quickpizza's lib/config.js does).
 */
export interface K6Config {
  /** Origin of the API, such as http://localhost:4000 (or http://api:4000 inside docker compose). */
  baseUrl: string;
  /** A profile of load/profiles/, by name. */
  profile: string;
  /** The seed file written by `npm run load -- seed`, relative to load/k6/ or absolute. */
  seedFile: string;
}

export function loadConfig(): K6Config {
  const profile = __ENV.PROFILE;
  if (!profile) throw new Error('PROFILE is required, such as: k6 run -e PROFILE=smoke -e BASE_URL=http://localhost:4000 load/k6/run-profile.ts');
  return {
    baseUrl: (__ENV.BASE_URL ?? 'http://localhost:4000').replace(/\/+$/, ''),
    profile,
    seedFile: __ENV.SEED_FILE ?? `../results/seed/${profile}.jsonl`,
  };
}
