import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InvalidEnvironmentError, loadEnv, type Env } from '../env.ts';
import { openPostgres, type AppPostgres } from '../postgres.ts';

/** Exit codes of every CLI of the app. */
export const EXIT = {
  ok: 0,
  /** The work failed (a tenant's migration, Postgres refused a step, no such tenant). */
  failed: 1,
  /** Bad command line or environment: nothing was done. */
  usage: 2,
} as const;

/** Bad input on the command line or in the environment; the message names the fix. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The work could not be done; the message says why and what to do. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

/** `parseArgs` whose errors (unknown option, missing value) become usage errors that point at the help. */
export function parseCommandLine<Config extends ParseArgsConfig>(config: Config, helpCommand: string) {
  try {
    return parseArgs(config);
  } catch (error) {
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(`${error.message}\n${helpCommand} lists the commands and options.`);
    }
    throw error;
  }
}

/** Lines on stdout: the CLIs' output, for people and for scripts alike. */
export function print(...lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Runs a CLI to its exit code. The environment is read as by `npm start` (apps/api/src/env.ts), and
 * `work` gets the same Postgres: DATABASE_URL's, or the embedded one for DATA_DIR (reused when
 * `npm start` runs it). Errors become one message on stderr; only a bug shows its stack trace.
 */
export async function runCli(work: (env: Env, connect: () => Promise<AppPostgres>) => Promise<number>): Promise<never> {
  let postgres: AppPostgres | undefined;
  let code: number;
  try {
    const env = loadEnv(process.env);
    code = await work(env, async () => (postgres = await openPostgres(env)));
  } catch (error) {
    if (error instanceof UsageError || error instanceof InvalidEnvironmentError) {
      process.stderr.write(`${error.message}\n`);
      code = EXIT.usage;
    } else if (error instanceof CliFailure) {
      process.stderr.write(`${error.message}\n`);
      code = EXIT.failed;
    } else {
      process.stderr.write(`${describe(error)}\n`);
      code = EXIT.failed;
    }
  } finally {
    await postgres?.close();
  }
  // Exit at once: a pool that a failed step left open must not keep the process alive.
  process.exit(code);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const bug = error instanceof TypeError || error instanceof ReferenceError || error instanceof RangeError;
  return bug ? (error.stack ?? error.message) : `error: ${error.message}`;
}
