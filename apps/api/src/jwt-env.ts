import { z } from 'zod';
import type { JwtOptions } from './jwt-verifier.ts';

/** The variables of JWT sign-in, part of the app's environment schema (`env.ts`). */
export const jwtEnvShape = {
  JWT_SECRET: z.string().optional(),
  JWT_JWKS_URL: z
    .url({ protocol: /^https?$/, error: 'must be the http(s) URL of a JSON Web Key Set, such as https://issuer.example/.well-known/jwks.json' })
    .optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
};

type JwtEnv = { [name in keyof typeof jwtEnvShape]?: string | undefined };

/** The variables' values hidden from error messages, which end up in logs. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set(['JWT_SECRET']);

/** Adds an issue, naming the variable and the fix, for each inconsistent JWT setting. */
export function checkJwtEnv(env: JwtEnv, ctx: z.RefinementCtx): void {
  const issue = (variable: string, message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
  const on = env.JWT_SECRET !== undefined || env.JWT_JWKS_URL !== undefined;
  if (env.JWT_SECRET !== undefined && env.JWT_JWKS_URL !== undefined) {
    issue('JWT_JWKS_URL', 'set either JWT_SECRET (HS256) or JWT_JWKS_URL (RS256/ES256), not both');
  }
  if (env.JWT_SECRET !== undefined) {
    const bytes = Buffer.byteLength(env.JWT_SECRET);
    if (bytes < 32) issue('JWT_SECRET', `must be at least 32 bytes, it has ${bytes}: generate one with \`openssl rand -base64 48\``);
  }
  for (const variable of ['JWT_ISSUER', 'JWT_AUDIENCE'] as const) {
    if (on && env[variable] === undefined) {
      issue(variable, `is required with JWT_SECRET or JWT_JWKS_URL: the ${variable === 'JWT_ISSUER' ? 'iss' : 'aud'} every token must carry`);
    }
    // Most likely a misspelt JWT_SECRET or JWT_JWKS_URL: without this, JWTs would silently be refused.
    if (!on && env[variable] !== undefined) issue(variable, 'has no effect without JWT_SECRET or JWT_JWKS_URL: set one to accept JWTs');
  }
}

/** The API's JWT options as the environment sets them (checked by `checkJwtEnv`); undefined when JWTs are off. */
export function jwtOptionsFromEnv(env: JwtEnv): JwtOptions | undefined {
  const { JWT_SECRET: secret, JWT_JWKS_URL: jwksUrl, JWT_ISSUER: issuer, JWT_AUDIENCE: audience } = env;
  if (issuer === undefined || audience === undefined) return undefined;
  if (secret !== undefined) return { secret, issuer, audience };
  if (jwksUrl !== undefined) return { jwksUrl, issuer, audience };
  return undefined;
}
