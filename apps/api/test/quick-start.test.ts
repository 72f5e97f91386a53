import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tenant-app-quick-start-'));
chmodSync(dataDir, 0o755);
const running = new Set<ChildProcess>();

afterAll(async () => {
  for (const child of running) await stop(child);
  rmSync(dataDir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

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
      if (/curl .*globex/.test(output)) {
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

test('npm start serves the demo tenants, and the printed curl commands work; a second start reuses the data', async () => {
  const env = { DATA_DIR: dataDir, PORT: String(await freePort()), EMBEDDED_POSTGRES_PORT: String(await freePort()) };

  const first = await npmStart(env);
  const [acmeCurl, globexCurl] = curlLines(first.output);
  expect(acmeCurl).toContain("x-tenant-id: acme");
  const { stdout: acmeBody } = await promisify(execFile)('bash', ['-c', acmeCurl!]);
  const acme = JSON.parse(acmeBody);
  expect(acme.errors).toBeUndefined();
  expect(acme.data.tenant.name).toBe('Acme Corporation');
  expect(acme.data.projects.edges.map((edge: { node: { name: string } }) => edge.node.name).sort()).toEqual([
    'Giant magnet',
    'Instant tunnel',
    'Rocket skates',
  ]);
  const { stdout: globexBody } = await promisify(execFile)('bash', ['-c', globexCurl!]);
  expect(JSON.parse(globexBody).data.tenant.name).toBe('Globex Corporation');
  await stop(first.child);

  const second = await npmStart(env);
  expect(curlLines(second.output)).toEqual(curlLines(first.output));
  const { stdout: again } = await promisify(execFile)('bash', ['-c', acmeCurl!]);
  expect(JSON.parse(again).data.projects.edges).toHaveLength(3);
  await stop(second.child);
}, 120_000);
