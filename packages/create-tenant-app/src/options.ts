import validateNpmName from 'validate-npm-package-name';
import { z } from 'zod';
import { InvalidInputError } from './errors.ts';

export const STRATEGIES = ['shared', 'schema', 'database'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** What a generated project is made of. */
export interface ProjectOptions {
  /** npm name of the project (its root package.json): the target folder's name. */
  name: string;
  /** npm scope of the project's packages, without "@": `acme` names them `@acme/db`, `@acme/api`. */
  scope: string;
  /**
   * Isolation of tenants created without naming one (`tenants create`, the platform API's `createTenant`).
   * @default 'shared'
   */
  strategy: Strategy;
  /** Include packages/telemetry (OpenTelemetry traces and metrics). @default true */
  telemetry: boolean;
  /** Include load/ (load profiles, k6 scripts, the load runner, `npm run bench`). @default true */
  load: boolean;
}

/** Why npm refuses a name, in its own words ("name can only contain URL-friendly characters"). */
function npmNameProblem(name: string): string | undefined {
  const result = validateNpmName(name);
  if (result.validForNewPackages) return undefined;
  return [...(result.errors ?? []), ...(result.warnings ?? [])].join('; ');
}

const schema = z.object({
  name: z.string().superRefine((name, ctx) => {
    const problem = npmNameProblem(name);
    if (problem) {
      ctx.addIssue({
        code: 'custom',
        message: `the folder name "${name}" is the project's npm name, and npm refuses it (${problem}): use a name such as my-saas`,
      });
    }
  }),
  scope: z
    .string()
    .transform((scope) => scope.replace(/^@/, '').replace(/\/$/, ''))
    .superRefine((scope, ctx) => {
      const problem = scope === '' || scope.includes('/') ? 'a scope is one name' : npmNameProblem(`@${scope}/api`);
      if (problem) {
        ctx.addIssue({ code: 'custom', message: `--scope "${scope}" is not an npm scope (${problem}): use one such as @acme` });
      }
    }),
  strategy: z.enum(STRATEGIES, {
    error: (issue) => `--strategy "${String(issue.input)}" is not a strategy: use ${STRATEGIES.join(', ')}`,
  }),
  telemetry: z.boolean(),
  load: z.boolean(),
});

/** Checks the options before anything is written; every problem is one line of the error. */
export function validateOptions(input: { [K in keyof ProjectOptions]: unknown }): Readonly<ProjectOptions> {
  return Object.freeze(check(schema, input));
}

/** Checks the options known so far (the flags), so that a bad one fails before any question. */
export function validateGivenOptions(input: { [K in keyof ProjectOptions]?: unknown }): Partial<ProjectOptions> {
  return check(schema.partial(), input);
}

/** The error of one option, for a prompt to show while the user types. */
export function problemWith(option: 'name' | 'scope', value: string): string | undefined {
  const parsed = schema.shape[option].safeParse(value);
  return parsed.success ? undefined : parsed.error.issues[0]?.message;
}

function check<T>(validator: z.ZodType<T>, input: unknown): T {
  const parsed = validator.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(parsed.error.issues.map((issue) => issue.message).join('\n'));
  return parsed.data;
}

