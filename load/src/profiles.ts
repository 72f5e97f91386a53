import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Profile } from './profile.ts';

/** `load/`, whatever the working directory. */
const LOAD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROFILES_DIR = path.join(LOAD_DIR, 'profiles');
export const RESULTS_DIR = path.join(LOAD_DIR, 'results');

/** Where the seeding command writes a profile's tenants and keys, and the runner reads them. */
export function seedFileOf(profileName: string): string {
  return path.join(RESULTS_DIR, 'seed', `${profileName}.jsonl`);
}

const positive = z.number().positive();
const count = z.number().int().min(0);
const stage = z.object({ durationSeconds: positive, target: count });
const strategyShare = z.number().min(0).max(1);

const profileSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes, such as zipf-1000'),
    description: z.string().min(1),
    tenants: z.object({
      count: z.number().int().min(1).max(100_000),
      mix: z.object({ shared: strategyShare.optional(), schema: strategyShare.optional(), database: strategyShare.optional() }).strict(),
      tier: z.enum(['free', 'standard', 'enterprise']),
      data: z.object({ projects: count, tasksPerProject: count, commentsPerTask: count }).strict(),
    }),
    distribution: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('uniform') }).strict(),
      z.object({ kind: z.literal('zipf'), exponent: positive }).strict(),
      z.object({ kind: z.literal('hot'), factor: positive }).strict(),
    ]),
    operations: z.object({ nestedRead: z.number().min(0), list: z.number().min(0), mutation: z.number().min(0) }).strict(),
    arrival: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('constant-arrival-rate'), rate: positive, durationSeconds: positive, vus: z.number().int().min(1) }).strict(),
      z.object({ kind: z.literal('ramping-vus'), startVUs: count, stages: z.array(stage).min(1) }).strict(),
      z
        .object({ kind: z.literal('ramping-arrival-rate'), startRate: count, vus: z.number().int().min(1), stages: z.array(stage).min(1) })
        .strict(),
    ]),
    thresholds: z.object({ p95Ms: positive, p99Ms: positive, errorRate: z.number().min(0).max(1) }).strict(),
  })
  .strict()
  .superRefine((profile, ctx) => {
    const shares = Object.values(profile.tenants.mix).reduce((sum, share) => sum + share, 0);
    if (Math.abs(shares - 1) > 0.01) {
      ctx.addIssue({ code: 'custom', path: ['tenants', 'mix'], message: `the shares add up to ${shares}: they must add up to 1` });
    }
    const { nestedRead, list, mutation } = profile.operations;
    if (nestedRead + list + mutation <= 0) {
      ctx.addIssue({ code: 'custom', path: ['operations'], message: 'at least one operation needs a weight above 0' });
    }
    if (mutation > 0 && profile.tenants.data.projects * profile.tenants.data.tasksPerProject === 0) {
      ctx.addIssue({ code: 'custom', path: ['operations', 'mutation'], message: 'mutations update tasks: give the tenants tasks in tenants.data' });
    }
  });

/** A malformed profile file; the message names the file, the field and the fix. */
export class InvalidProfileError extends Error {
  override readonly name = 'InvalidProfileError';
}

export function profileNames(): string[] {
  return readdirSync(PROFILES_DIR)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort();
}

/** Reads and validates `load/profiles/<name>.json`. */
export function loadProfile(name: string): Profile {
  if (!profileNames().includes(name)) {
    throw new InvalidProfileError(`there is no profile "${name}": use one of ${profileNames().join(', ')}`);
  }
  const file = path.join(PROFILES_DIR, `${name}.json`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InvalidProfileError(`${file} is not JSON: ${(error as Error).message}`);
  }
  const parsed = profileSchema.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(profile)'}: ${issue.message}`);
    throw new InvalidProfileError(`${file} is not a valid load profile:\n${lines.join('\n')}`);
  }
  if (parsed.data.name !== name) throw new InvalidProfileError(`${file} names itself "${parsed.data.name}": the name must match the file`);
  return Object.freeze(parsed.data satisfies Profile);
}
