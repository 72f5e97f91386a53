import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestDatabase, freePort, type TestDatabase } from '@tenant-app/db/testing';
import { provisionTenant, type TestTenant } from './support.ts';

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
}

/**
 * A real OTLP/HTTP receiver, as a collector or Jaeger runs one on 4318: it takes the JSON encoding
 * of the OTLP protocol on /v1/traces and /v1/metrics and keeps what arrives.
 */
class OtlpReceiver {
  readonly spans: OtlpSpan[] = [];
  readonly metricNames = new Set<string>();
  readonly #server: Server;

  constructor() {
    this.#server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        const payload = JSON.parse(body);
        if (request.url === '/v1/traces') {
          for (const resource of payload.resourceSpans ?? [])
            for (const scope of resource.scopeSpans ?? []) this.spans.push(...scope.spans);
        } else if (request.url === '/v1/metrics') {
          for (const resource of payload.resourceMetrics ?? [])
            for (const scope of resource.scopeMetrics ?? []) for (const metric of scope.metrics) this.metricNames.add(metric.name);
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

let database: TestDatabase;
let acme: TestTenant;
let receiver: OtlpReceiver;
let server: ChildProcess;
let output = '';
let apiUrl: string;
let prometheusUrl: string;

beforeAll(async () => {
  database = await createTestDatabase();
  acme = await provisionTenant(database.provisioner, 'acme', { projects: 2, tasksPerProject: 2, commentsPerTask: 1 });
  receiver = new OtlpReceiver();
  const endpoint = await receiver.listen();
  const [port, prometheusPort] = [await freePort(), await freePort()];
  apiUrl = `http://127.0.0.1:${port}/graphql`;
  prometheusUrl = `http://127.0.0.1:${prometheusPort}/metrics`;
  // The server as it runs in production, configured by the standard OTEL_* variables only.
  server = spawn(process.execPath, ['--import', 'tsx', 'apps/api/src/main.ts'], {
    cwd: repositoryRoot,
    env: {
      ...process.env,
      DATABASE_URL: database.ownerUrl,
      DATABASE_RUNTIME_URL: database.runtimeUrl,
      PORT: String(port),
      SEED_DEMO: 'false',
      LOG_LEVEL: 'debug',
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_METRIC_EXPORT_INTERVAL: '200',
      OTEL_METRICS_EXPORTER: 'otlp,prometheus',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(prometheusPort),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (chunk) => (output += chunk));
  server.stderr!.on('data', (chunk) => (output += chunk));
  await waitFor(() => output.includes('serving GraphQL at'), () => `the server did not start:\n${output}`, 60_000);
}, 90_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  await receiver?.close();
  await database?.close();
});

async function waitFor(check: () => boolean, failure: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(failure());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("a request's trace reaches an OTLP/HTTP receiver, with pool and SQL spans, and its log lines carry its ids", async () => {
  const traceId = randomBytes(16).toString('hex');
  const response = await fetch(apiUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-tenant-id': acme.slug,
      authorization: `Bearer ${acme.adminKey}`,
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      'x-request-id': 'otlp-export-test',
    },
    body: JSON.stringify({ query: 'query Tasks { projects { edges { node { name tasks { title } } } } }' }),
  });
  expect(response.status).toBe(200);

  const names = () => new Set(receiver.spans.filter((span) => span.traceId === traceId).map((span) => span.name));
  const expected = ['POST /graphql', 'query Tasks', 'pool.acquire', 'pool.session', 'graphql.parse', 'graphql.validate'];
  await waitFor(
    () => expected.every((name) => names().has(name)) && [...names()].some((name) => name.startsWith('pg.query:SELECT')),
    () => `spans of the trace that arrived: ${[...names()].join(', ')}`,
  );
  const tenantId = (span: OtlpSpan) => span.attributes?.find((attribute) => attribute.key === 'tenant.id')?.value.stringValue;
  const session = receiver.spans.find((span) => span.traceId === traceId && span.name === 'pool.session' && tenantId(span) === acme.id);
  expect(session).toBeDefined();
  const tenantSql = receiver.spans.filter((span) => span.traceId === traceId && span.parentSpanId === session!.spanId);
  expect(tenantSql.map((span) => span.name.split(' ')[0])).toEqual(expect.arrayContaining(['pg.query:BEGIN', 'pg.query:COMMIT']));

  const lines = output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
  // Lines of the request's own logger carry its request id; every line written inside its trace
  // (Yoga's own too) carries the trace id.
  const requestLines = lines.filter((line) => line.requestId === 'otlp-export-test');
  expect(requestLines.map((line) => line.msg)).toContain('transaction committed');
  expect(requestLines.every((line) => line.trace_id === traceId)).toBe(true);
  expect(lines.filter((line) => line.trace_id === traceId && line.requestId === undefined).length).toBeGreaterThan(0);
});

test('the pool metrics arrive over OTLP and on the Prometheus scrape endpoint', async () => {
  await waitFor(
    () => ['db.client.connection.count', 'db.client.connection.wait_time', 'db.client.connection.use_time'].every((name) => receiver.metricNames.has(name)),
    () => `metrics that arrived: ${[...receiver.metricNames].join(', ')}`,
  );
  const scrape = await (await fetch(prometheusUrl)).text();
  expect(scrape).toMatch(/^db_client_connection_count\{.*db_client_connection_state="idle".*\} \d+/m);
  expect(scrape).toMatch(/^db_client_connection_wait_time_count\{.*db_client_connection_pool_name="shared@/m);
  expect(scrape).not.toContain(acme.id);
});
