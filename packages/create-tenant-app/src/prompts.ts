import path from 'node:path';
import * as clack from '@clack/prompts';
import { problemWith, STRATEGIES, type Strategy } from './options.ts';

/** The user left the questions (Ctrl-C, Esc): nothing was written. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
}

function answered<T>(value: T): Exclude<T, symbol> {
  if (clack.isCancel(value)) throw new CancelledError('cancelled: nothing was written');
  return value as Exclude<T, symbol>;
}

const STRATEGY_HINTS: Readonly<Record<Strategy, string>> = {
  shared: 'shared tables under Row-Level Security',
  schema: 'a schema and a role per tenant',
  database: 'a database per tenant',
};

/** The questions on a terminal, each with the default that `--yes` takes. */
export const terminalQuestions = {
  async directory(cwd: string): Promise<string> {
    return answered(
      await clack.text({
        message: 'Where should the project go?',
        placeholder: 'my-saas',
        // The folder's name becomes the project's npm name.
        validate: (value) => (value ? problemWith('name', path.basename(path.resolve(cwd, value))) : 'name a folder'),
      }),
    );
  },
  async strategy(): Promise<Strategy> {
    return answered(
      await clack.select({
        message: 'Isolation of a tenant created without naming one',
        options: STRATEGIES.map((strategy) => ({ value: strategy, label: strategy, hint: STRATEGY_HINTS[strategy] })),
        initialValue: 'shared' as Strategy,
      }),
    );
  },
  async scope(fallback: string): Promise<string> {
    return answered(
      await clack.text({
        message: 'npm scope of the packages',
        placeholder: `@${fallback}`,
        defaultValue: `@${fallback}`,
        validate: (value) => (value ? problemWith('scope', value) : undefined),
      }),
    );
  },
  async confirm(message: string): Promise<boolean> {
    return answered(await clack.confirm({ message, initialValue: true }));
  },
};

export type Questions = typeof terminalQuestions;
