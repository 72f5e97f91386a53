import { z } from 'zod';

const milliseconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
    DATABASE_RUNTIME_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
    DATA_DIR: z.string().min(1).default('.data'),
    EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
    SEED_DEMO: z.stringbool().optional(),
    DB_POOL_MAX: z.coerce.number().int().min(1).max(1000).default(10),
    DB_ACQUIRE_TIMEOUT_MS: milliseconds(5_000),
    DB_STATEMENT_TIMEOUT_MS: milliseconds(30_000),
    TENANT_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5_000),
    GRAPHIQL: z.stringbool().optional(),
  })
  .superRefine((env, ctx) => {
    if (env.DATABASE_URL && !env.DATABASE_RUNTIME_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_RUNTIME_URL'],
        message:
          'is required with DATABASE_URL: the API serves requests as a login that is a member of tenant_app_runtime, ' +
          'never as the owner of the tables (see "Your own Postgres" in the README)',
      });
    }
  });

export type Env = z.infer<typeof schema>;

/** Why the environment was refused: one line per variable, each naming the fix. */
export class InvalidEnvironmentError extends Error {
  override readonly name = 'InvalidEnvironmentError';
}

/** Reads and validates the environment once, at start; the rest of the app takes typed options. */
export function loadEnv(source: NodeJS.ProcessEnv): Readonly<Env> {
  const parsed = schema.safeParse(source);
  if (parsed.success) return Object.freeze(parsed.data);
  const lines = parsed.error.issues.map((issue) => {
    const variable = issue.path.join('.');
    return `  ${variable}=${JSON.stringify(source[variable] ?? '')}: ${issue.message}`;
  });
  throw new InvalidEnvironmentError(`invalid environment:\n${lines.join('\n')}`);
}
