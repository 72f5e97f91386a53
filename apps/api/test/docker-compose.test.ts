import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { parse } from 'yaml';
import { ENVIRONMENT_VARIABLES, loadEnv } from '../src/index.ts';

// No Docker engine runs where the tests run; what can be checked without one is that the compose
// file says what the code reads: variables, ports, credentials and the paths it mounts.
const root = path.resolve(import.meta.dirname, '../../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

interface Service {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  command?: string[];
  depends_on?: Record<string, unknown>;
}
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const { postgres, pgbouncer, jaeger, api } = compose.services as Record<'postgres' | 'pgbouncer' | 'jaeger' | 'api', Service>;
const environment = api.environment!;

test('the API service sets only variables the API or the OpenTelemetry SDK reads, with values it accepts', () => {
  for (const name of Object.keys(environment)) {
    if (!name.startsWith('OTEL_')) expect(ENVIRONMENT_VARIABLES, name).toContain(name);
  }
  const env = loadEnv(environment);
  expect(api.ports).toContain(`${env.PORT}:${env.PORT}`);
  expect(api.ports!.map((port) => port.split(' ')[0])).toContain(
    `${environment.OTEL_EXPORTER_PROMETHEUS_PORT}:${environment.OTEL_EXPORTER_PROMETHEUS_PORT}`,
  );
  expect(api.build).toBe('.');
  expect(read('Dockerfile')).toMatch(/CMD \["node", "--import", "tsx", "apps\/api\/src\/main.ts"\]/);
  expect(existsSync(path.join(root, 'apps/api/src/main.ts'))).toBe(true);
});

test('requests go through PgBouncer in transaction mode, as a login that PgBouncer and Postgres both know', () => {
  const runtime = new URL(environment.DATABASE_RUNTIME_URL!);
  const owner = new URL(environment.DATABASE_URL!);
  const ini = read('deploy/pgbouncer/pgbouncer.ini');
  expect(runtime.hostname).toBe('pgbouncer');
  expect(ini).toMatch(new RegExp(`^listen_port = ${runtime.port}$`, 'm'));
  expect(pgbouncer.ports).toContain(`${runtime.port}:${runtime.port}`);
  expect(ini).toMatch(/^pool_mode = transaction$/m);
  const database = runtime.pathname.slice(1);
  expect(ini).toMatch(new RegExp(`^${database} = host=postgres port=5432 dbname=${database}$`, 'm'));
  expect(read('deploy/pgbouncer/userlist.txt')).toContain(`"${runtime.username}" "${runtime.password}"`);

  // Migrations and provisioning go straight to Postgres as the owner.
  expect(owner.hostname).toBe('postgres');
  expect(owner.pathname.slice(1)).toBe(database);
  const init = read('deploy/postgres/init.sql');
  expect(init).toContain(`CREATE ROLE ${owner.username} LOGIN PASSWORD '${owner.password}'`);
  expect(init).toContain(`CREATE DATABASE ${database} OWNER ${owner.username}`);
  expect(init).toContain(`CREATE ROLE ${runtime.username} LOGIN PASSWORD '${runtime.password}' IN ROLE tenant_app_runtime`);
  expect(postgres.volumes).toContain('./deploy/postgres/init.sql:/docker-entrypoint-initdb.d/10-tenant-app.sql:ro');
  for (const volume of [...postgres.volumes!, ...pgbouncer.volumes!].filter((entry) => entry.startsWith('./'))) {
    expect(existsSync(path.join(root, volume.split(':')[0]!)), volume).toBe(true);
  }
});

test('traces go to Jaeger over OTLP/HTTP, and its UI is published', () => {
  const endpoint = new URL(environment.OTEL_EXPORTER_OTLP_ENDPOINT!);
  expect(endpoint.hostname).toBe('jaeger');
  expect(jaeger.ports!.map((port) => port.split(' ')[0])).toEqual(expect.arrayContaining([`${endpoint.port}:4318`, '16686:16686']));
  expect(Object.keys(api.depends_on!)).toEqual(expect.arrayContaining(['postgres', 'pgbouncer', 'jaeger']));
});

const composeClient = ['docker-compose', 'docker'].find((command) => {
  try {
    execFileSync(command, command === 'docker' ? ['compose', 'version'] : ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});

// .ci/run installs Debian's docker-compose, which validates a file without an engine.
test.skipIf(!composeClient)('the compose client accepts the file', () => {
  const args = [...(composeClient === 'docker' ? ['compose'] : []), '-f', path.join(root, 'docker-compose.yml'), '--profile', 'load', 'config', '--services'];
  expect(execFileSync(composeClient!, args, { encoding: 'utf8' }).split('\n').filter(Boolean).sort()).toEqual([
    'api',
    'jaeger',
    'k6',
    'pgbouncer',
    'postgres',
  ]);
});
