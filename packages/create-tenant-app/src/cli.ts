#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import * as clack from '@clack/prompts';
import { createProject, USAGE } from './create-project.ts';
import { InvalidInputError, StepFailedError } from './errors.ts';
import { CancelledError, terminalQuestions } from './prompts.ts';
import { readTemplate } from './template-sources.ts';

// The build puts the template beside the compiled CLI (dist/template).
const TEMPLATE = fileURLToPath(new URL('./template/', import.meta.url));
const onTerminal = Boolean(process.stdin.isTTY && process.stdout.isTTY);

try {
  if (onTerminal) clack.intro('create-tenant-app');
  const created = await createProject({
    argv: process.argv.slice(2),
    // npm run create and npx run us from elsewhere; INIT_CWD is where the user typed the command.
    cwd: process.env.INIT_CWD ?? process.cwd(),
    sources: () => readTemplate(TEMPLATE),
    ...(onTerminal ? { questions: terminalQuestions } : {}),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  if (created === 'help') {
    process.stdout.write(`${USAGE}\n`);
  } else {
    process.stdout.write(
      [
        '',
        'Next:',
        `  cd ${created.directory}`,
        '  npm ci && npm start    # Postgres, demo tenants, GraphQL at http://localhost:4000/graphql',
        '  npm ci && npm test     # the whole suite against a real Postgres',
        '',
      ].join('\n'),
    );
  }
} catch (error) {
  const expected = error instanceof InvalidInputError || error instanceof CancelledError || error instanceof StepFailedError;
  process.stderr.write(`${expected ? (error as Error).message : error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = error instanceof StepFailedError ? 1 : error instanceof InvalidInputError || error instanceof CancelledError ? 2 : 1;
}
