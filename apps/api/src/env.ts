import { z } from 'zod';
import { limitsEnvShape } from './limits-env.ts';
import { checkJwtEnv, jwtEnvShape, SECRET_VARIABLES } from './jwt-env.ts';

const milliseconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const postgresUrl = z.url({ protocol: /^postgres(ql)?$/, error: 'must be a URL such as postgres://user:password@host:5432/database' });

/** `{"name": "postgres://owner:…@host/db"}`: owner logins of the hosts that hold `database` tenants. */
const hostMap = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object such as {"eu": "postgres://owner:…@eu-db/postgres"}' });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string().min(1), postgresUrl));

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DATABASE_URL: postgresUrl.optional(),
    DATABASE_RUNTIME_URL: postgresUrl.optional(),
    DATABASE_HOSTS: hostMap.optional(),
    DATA_DIR: z.string().min(1).default('.data'),
    EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
    SEED_DEMO: z.stringbool().optional(),
    DB_POOL_MAX: z.coerce.number().int().min(1).max(1000).default(10),
    DB_CONNECTION_BUDGET: z.coerce.number().int().min(1).max(10_000).default(40),
    DB_ACQUIRE_TIMEOUT_MS: milliseconds(5_000),
    DB_STATEMENT_TIMEOUT_MS: milliseconds(30_000),
    DB_PREPARED_STATEMENTS: z.stringbool({ error: 'must be true or false (false behind PgBouncer before 1.21 in transaction mode)' }).default(true),
    TENANT_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5_000),
    GRAPHIQL: z.stringbool().optional(),
    // The OpenTelemetry SDK reads every OTEL_* variable itself; these two are checked here so that a
    // typo fails at start with a clear message instead of silently exporting nothing.
    OTEL_SDK_DISABLED: z.stringbool().default(false),
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://localhost:4318' }).optional(),
    ...limitsEnvShape,
    ...jwtEnvShape,
  })
  .superRefine((env, ctx) => {
    checkJwtEnv(env, ctx);
    if (env.DB_CONNECTION_BUDGET < env.DB_POOL_MAX) {
      ctx.addIssue({
        code: 'custom',
        path: ['DB_CONNECTION_BUDGET'],
        message: `must be at least DB_POOL_MAX (${env.DB_POOL_MAX}): the shared pool counts against it`,
      });
    }
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

/** Every variable the API reads (besides the OTEL_* ones the OpenTelemetry SDK reads itself). */
export const ENVIRONMENT_VARIABLES: readonly string[] = Object.keys(schema.shape);

/** Why the environment was refused: one line per variable, each naming the fix. */
export class InvalidEnvironmentError extends Error {
  override readonly name = 'InvalidEnvironmentError';
}

/** Reads and validates the environment once, at start; the rest of the app takes typed options. */
export function loadEnv(source: NodeJS.ProcessEnv): Readonly<Env> {
  const parsed = schema.safeParse(source);
  if (parsed.success) return Object.freeze(parsed.data);
  const lines = parsed.error.issues.map((issue) => {
    const [variable = '', ...inside] = issue.path.map(String);
    const where = inside.length > 0 ? `${inside.join('.')}: ` : '';
    const value = SECRET_VARIABLES.has(variable) ? '(hidden)' : JSON.stringify(source[variable] ?? '');
    return `  ${variable}=${value}: ${where}${issue.message}`;
  });
  throw new InvalidEnvironmentError(`invalid environment:\n${lines.join('\n')}`);
}
