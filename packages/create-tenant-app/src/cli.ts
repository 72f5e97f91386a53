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
    const install = created.installed ? 'npm ci' : 'npm install';
    process.stdout.write(
      [
        '',
        'Next:',
        `  cd ${created.directory}`,
        `  ${install} && npm start    # Postgres, demo tenants, GraphQL at http://localhost:4000/graphql`,
        `  ${install} && npm test     # the whole suite against a real Postgres`,
        '',
      ].join('\n'),
    );
  }
} catch (error) {
  if (error instanceof InvalidInputError || error instanceof CancelledError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
  } else if (error instanceof StepFailedError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  } else {
    // A bug: its stack trace is what a report needs.
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  }
}
