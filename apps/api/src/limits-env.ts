import { z } from 'zod';
import { DEFAULT_ABUSE_LIMITS, type AbuseLimits } from './abuse-limits.ts';
import type { Env } from './env.ts';
import type { ApiOptions } from './yoga.ts';

const positive = (example: number) => {
  const error = `must be a whole number of at least 1, such as ${example} (the default)`;
  return z.coerce.number({ error }).int({ error }).min(1, { error }).optional();
};

/** The variables of the abuse limits, part of the app's environment schema (`env.ts`). */
export const limitsEnvShape = {
  MAX_QUERY_DEPTH: positive(DEFAULT_ABUSE_LIMITS.maxDepth),
  MAX_QUERY_ALIASES: positive(DEFAULT_ABUSE_LIMITS.maxAliases),
  MAX_QUERY_DIRECTIVES: positive(DEFAULT_ABUSE_LIMITS.maxDirectives),
  MAX_QUERY_TOKENS: positive(DEFAULT_ABUSE_LIMITS.maxTokens),
  MAX_QUERY_COST: positive(DEFAULT_ABUSE_LIMITS.maxCost),
  MAX_REQUEST_BODY_BYTES: positive(DEFAULT_ABUSE_LIMITS.maxRequestBodyBytes),
  INTROSPECTION: z.stringbool({ error: 'must be true or false' }).optional(),
  RATE_LIMIT: z.stringbool({ error: 'must be true or false' }).default(true),
};

/** The API's limits as the environment sets them; unset ones keep the defaults of `DEFAULT_ABUSE_LIMITS`. */
export function apiLimitsFromEnv(env: Env): Pick<ApiOptions, 'limits' | 'rateLimit'> {
  const set = {
    maxDepth: env.MAX_QUERY_DEPTH,
    maxAliases: env.MAX_QUERY_ALIASES,
    maxDirectives: env.MAX_QUERY_DIRECTIVES,
    maxTokens: env.MAX_QUERY_TOKENS,
    maxCost: env.MAX_QUERY_COST,
    maxRequestBodyBytes: env.MAX_REQUEST_BODY_BYTES,
    // Schema discovery is for development: production answers neither introspection nor "Did you mean".
    introspection: env.INTROSPECTION ?? env.NODE_ENV !== 'production',
  };
  const limits = Object.fromEntries(Object.entries(set).filter(([, value]) => value !== undefined)) as Partial<AbuseLimits>;
  return env.RATE_LIMIT ? { limits } : { limits, rateLimit: false };
}
