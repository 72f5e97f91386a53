import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { composeProject } from './composition.ts';
import { InvalidInputError, StepFailedError } from './errors.ts';
import { validateGivenOptions, validateOptions, type ProjectOptions } from './options.ts';
import type { Questions } from './prompts.ts';
import { assertEmptyTarget, writeProject } from './write-project.ts';
import type { TemplateSources } from './template-sources.ts';

export const USAGE = `Usage: npx create-tenant-app <folder> [options]     (in this repository: npm run create -- <folder> …)

Creates a multi-tenant GraphQL API on PostgreSQL in <folder> (new or empty; its name is the
project's npm name). On a terminal it asks for whatever the options leave open; elsewhere, or
with --yes, it takes the defaults.

  --strategy shared|schema|database  isolation of tenants created without naming one (default shared)
  --scope @name                      npm scope of the packages (default: the folder's name)
  --no-telemetry                     leave out packages/telemetry (OpenTelemetry); for now with --no-load
  --no-load                          leave out load/ (load profiles, k6 scripts, npm run load/bench)
  --no-install                       do not run npm install
  --no-git                           do not git init and commit
  -y, --yes                          take the defaults for every question
  -h, --help                         this text

Exit codes: 0 created, 1 created but install or git failed, 2 bad input (nothing written).`;

/** Where and how to run: the command line, the folder it is relative to, the questions if on a terminal. */
export interface CreateProjectRun {
  argv: readonly string[];
  cwd: string;
  /** Reads the template (the build's output); only called once the input is known to be good. */
  sources: () => Promise<TemplateSources>;
  /** The questions to ask about what the flags leave open; none off a terminal or with --yes. */
  questions?: Questions;
  /** Progress lines for the user. */
  log: (line: string) => void;
}

export interface CreatedProject {
  directory: string;
  options: ProjectOptions;
  files: string[];
  /** Whether npm install ran (and fitted the lockfile to the project). */
  installed: boolean;
}

/** Parses the command line, asks what is left open, writes the project, installs it and commits it. */
export async function createProject(run: CreateProjectRun): Promise<CreatedProject | 'help'> {
  const flags = parseCommandLine(run.argv);
  if (flags.help) return 'help';
  const given = validateGivenOptions({ strategy: flags.strategy, scope: flags.scope });
  const questions = flags.yes ? undefined : run.questions;

  const folder = flags.folder ?? (await questions?.directory(run.cwd));
  if (folder === undefined) throw new InvalidInputError(`name the project's folder: npx create-tenant-app my-saas\n\n${USAGE}`);
  const directory = path.resolve(run.cwd, folder);
  const name = path.basename(directory);
  validateGivenOptions({ name });
  await assertEmptyTarget(directory);

  const ask = async <T>(value: T | undefined, question: (() => Promise<T>) | undefined, fallback: T): Promise<T> =>
    value ?? (question ? await question() : fallback);
  const options = validateOptions({
    name,
    strategy: await ask(given.strategy, questions?.strategy, 'shared'),
    scope: await ask(given.scope, questions && (() => questions.scope(name)), name),
    telemetry: await ask(flags.telemetry, questions && (() => questions.confirm('Include telemetry (OpenTelemetry traces and metrics)?')), true),
    load: await ask(flags.load, questions && (() => questions.confirm('Include the load profiles and benchmarks?')), true),
  });
  // Composed before the last questions: a choice that cannot build is refused at once.
  const files = composeProject(await run.sources(), options);
  const install = await ask(flags.install, questions && (() => questions.confirm('Run npm install?')), true);
  const git = await ask(flags.git, questions && (() => questions.confirm('Initialise a git repository?')), true);

  await writeProject(files, directory);
  run.log(`created ${directory}: ${files.size} files, packages @${options.scope}/*, new tenants ${options.strategy}`);
  if (install) await step(run, directory, 'npm', ['install', '--no-audit', '--no-fund'], 'npm install');
  if (git) {
    await step(run, directory, 'git', ['init', '--quiet', '--initial-branch=main'], 'git init');
    await step(run, directory, 'git', ['add', '--all'], 'git add --all');
    await step(run, directory, 'git', ['commit', '--quiet', '--message', 'Initial commit from create-tenant-app'], 'git commit');
  }
  return { directory, options, files: [...files.keys()].sort(), installed: install };
}

interface Flags {
  folder?: string;
  strategy?: string;
  scope?: string;
  telemetry?: boolean;
  load?: boolean;
  install?: boolean;
  git?: boolean;
  yes?: boolean;
  help?: boolean;
}

function parseCommandLine(argv: readonly string[]): Flags {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      allowNegative: true,
      options: {
        strategy: { type: 'string' },
        scope: { type: 'string' },
        telemetry: { type: 'boolean' },
        load: { type: 'boolean' },
        install: { type: 'boolean' },
        git: { type: 'boolean' },
        yes: { type: 'boolean', short: 'y' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (positionals.length > 1) throw new InvalidInputError(`one folder at a time, not ${positionals.join(', ')}`);
    return { ...values, ...(positionals[0] === undefined ? {} : { folder: positionals[0] }) };
  } catch (error) {
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      throw new InvalidInputError(`${error.message}\n\n${USAGE}`);
    }
    throw error;
  }
}

/** Runs one command in the new project; its output goes to the user as it comes. */
async function step(run: CreateProjectRun, cwd: string, command: string, args: string[], label: string): Promise<void> {
  run.log(`${label} …`);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', resolve);
  }).catch((error: Error) => {
    throw new StepFailedError(`${label} could not start (${error.message}): the project is in ${cwd}; run it there yourself`);
  });
  if (code !== 0) throw new StepFailedError(`${label} failed (exit code ${code}): the project is in ${cwd}; run it there again`);
}
