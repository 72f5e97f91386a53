import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';
import { freePort } from '@tenant-app/db/testing';

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tenant-app-quick-start-'));
chmodSync(dataDir, 0o755);
const running = new Set<ChildProcess>();

afterAll(async () => {
  for (const child of running) await stop(child);
  rmSync(dataDir, { recursive: true, force: true });
});


/** `npm start` exactly as the README says, in its own process group; resolves with what it printed once ready. */
async function npmStart(env: Record<string, string>): Promise<{ child: ChildProcess; output: string }> {
  const child = spawn('npm', ['start'], {
    cwd: repositoryRoot,
    env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not get ready:\n${output}`)), 60_000);
    const check = () => {
      if (/curl .*platform\/graphql/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${output}`));
    });
  });
  return { child, output };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
  running.delete(child);
}

function curlLines(output: string): string[] {
  return output.split('\n').filter((line) => line.startsWith('curl '));
}

async function run(curl: string) {
  const { stdout } = await promisify(execFile)('bash', ['-c', curl]);
  return JSON.parse(stdout);
}

const projectNames = (body: { data: { projects: { edges: { node: { name: string } }[] } } }) =>
  body.data.projects.edges.map((edge) => edge.node.name).sort();

test('npm start serves a demo tenant of every strategy, and the printed curl commands work; a second start reuses the data', async () => {
  const env = { DATA_DIR: dataDir, PORT: String(await freePort()), EMBEDDED_POSTGRES_PORT: String(await freePort()) };

  const first = await npmStart(env);
  const curls = curlLines(first.output);
  expect(first.output).toMatch(/# Acme Corporation \(acme, shared\)/);
  expect(first.output).toMatch(/# Globex Corporation \(globex, schema\)/);
  expect(first.output).toMatch(/# Initech \(initech, database\)/);
  expect(first.output).toMatch(/# Umbrella Corporation \(umbrella, shared \+ own role\)/);
  const [acme, globex, initech, umbrella, platform] = await Promise.all(curls.map(run));
  expect(acme.errors).toBeUndefined();
  expect(acme.data.tenant.name).toBe('Acme Corporation');
  expect(projectNames(acme)).toEqual(['Giant magnet', 'Instant tunnel', 'Rocket skates']);
  expect(projectNames(globex)).toEqual(['Doomsday device', 'Hammock district']);
  expect(projectNames(initech)).toEqual(['TPS reports', 'Y2K patch']);
  expect(projectNames(umbrella)).toEqual(['Hive maintenance']);
  expect(platform.data.tenants.map((tenant: { slug: string }) => tenant.slug)).toEqual(['acme', 'globex', 'initech', 'umbrella']);
  await stop(first.child);

  const second = await npmStart(env);
  expect(curlLines(second.output)).toEqual(curlLines(first.output));
  expect(projectNames(await run(curls[2]!))).toEqual(['TPS reports', 'Y2K patch']);
  await stop(second.child);
}, 120_000);
