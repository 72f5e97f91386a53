import { randomBytes } from 'node:crypto';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { recordTelemetry, type RecordedMetric, type RecordedSpan, type TelemetryRecorder } from '@tenant-app/telemetry/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApi, provisionTenant, type TestApi, type TestTenant } from './support.ts';

let recorder: TelemetryRecorder;
let t: TestApi;
let acme: TestTenant;

beforeAll(async () => {
  // Before the pools exist: their instruments are made with the pool manager.
  recorder = await recordTelemetry();
  t = await createTestApi({ maxConnections: 1, acquireTimeoutMs: 300 });
  acme = await provisionTenant(t.database.provisioner, 'acme', { projects: 2, tasksPerProject: 2, commentsPerTask: 1 });
});
afterAll(async () => {
  await t?.close();
  await recorder?.stop();
});

/** A W3C traceparent as a caller (a gateway, a browser) would send it. */
function callerTrace() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

function traceOf(traceId: string): RecordedSpan[] {
  return recorder.spans().filter((span) => span.spanContext().traceId === traceId);
}

const parentOf = (span: RecordedSpan) => span.parentSpanContext?.spanId;
const idOf = (span: RecordedSpan) => span.spanContext().spanId;

test('a nested query is one trace: request, GraphQL execute, pool wait and hold, and its SQL inside the hold', async () => {
  const caller = callerTrace();
  const response = await t.graphql(
    acme,
    'query Nested { projects(first: 5) { edges { node { name tasks { title assignee { name } comments { body author { name } } } } } } }',
    {},
    { headers: { traceparent: caller.header } },
  );
  expect(response.body.errors).toBeUndefined();
  const spans = traceOf(caller.traceId);

  const request = spans.find((span) => span.kind === SpanKind.SERVER)!;
  expect(request.name).toBe('POST /graphql');
  expect(parentOf(request)).toBe(caller.spanId);
  expect(request.attributes).toMatchObject({ 'http.response.status_code': 200, 'tenant.id': acme.id, 'graphql.operation.name': 'Nested' });

  const execute = spans.find((span) => span.name === 'query Nested')!;
  expect(parentOf(execute)).toBe(idOf(request));
  expect(spans.filter((span) => span.name === 'graphql.parse' || span.name === 'graphql.validate').map(parentOf)).toEqual([
    idOf(request),
    idOf(request),
  ]);

  const tenantSpans = spans.filter((span) => span.attributes['tenant.id'] === acme.id && span.name.startsWith('pool.'));
  const acquire = tenantSpans.find((span) => span.name === 'pool.acquire')!;
  const session = tenantSpans.find((span) => span.name === 'pool.session')!;
  expect(tenantSpans).toHaveLength(2);
  for (const span of [acquire, session]) {
    expect(parentOf(span)).toBe(idOf(execute));
    expect(span.attributes).toMatchObject({
      'tenant.strategy': 'shared',
      'tenant.tier': expect.any(String),
      'db.client.connection.pool.name': 'shared',
    });
  }
  expect(acquire.attributes).toMatchObject({ 'pool.acquire.outcome': 'acquired', 'pool.queue.tenant_length': 0 });
  expect(acquire.status.code).not.toBe(SpanStatusCode.ERROR);
  // The wait ends where the hold begins.
  expect(hrMs(session.startTime)).toBeGreaterThanOrEqual(hrMs(acquire.endTime) - 1);

  const sql = spans.filter((span) => span.instrumentationScope.name === '@opentelemetry/instrumentation-pg');
  const sessionSql = sql.filter((span) => parentOf(span) === idOf(session));
  // BEGIN, the session reset, the tenant binding, one batched read per level of the query (however
  // many rows), COMMIT.
  const statements = sessionSql.map((span) => span.name.split(' ')[0]);
  expect(statements.slice(0, 2)).toEqual(['pg.query:BEGIN', 'pg.query:RESET']);
  expect(statements.at(-1)).toBe('pg.query:COMMIT');
  expect(statements.slice(2, -1)).toEqual(Array(statements.length - 3).fill('pg.query:SELECT'));
  expect(statements.length).toBeGreaterThanOrEqual(6);
  // Connecting happens inside the wait; the only other SQL is the control plane's (the key lookup,
  // in a transaction of its own with the session reset), on checkouts of its own.
  const acquires = new Set(spans.filter((span) => span.name === 'pool.acquire').map(idOf));
  for (const span of sql.filter((span) => parentOf(span) !== idOf(session))) {
    if (span.name === 'pg.connect') expect(acquires).toContain(parentOf(span));
    else expect(span.attributes['db.query.text']).toMatch(/\bcontrol\.\w+\(|^(begin|reset all|commit)$/);
  }
});

test('a request that times out waiting for a connection has an errored pool.acquire and is counted', async () => {
  const holder = t.pools.openSession({ tenantId: 'holder', binding: [], schema: 'public' });
  await holder.session.query('select 1', []);
  const caller = callerTrace();
  let response;
  try {
    response = await t.graphql(acme, '{ projects { edges { node { name } } } }', {}, { headers: { traceparent: caller.header } });
  } finally {
    await holder.session.commit();
  }
  expect(response.status).toBe(503);
  const spans = traceOf(caller.traceId);
  const timedOut = spans.filter((span) => span.name === 'pool.acquire' && span.attributes['pool.acquire.outcome'] === 'timeout');
  expect(timedOut).toHaveLength(1);
  expect(timedOut[0]!.status.code).toBe(SpanStatusCode.ERROR);
  expect(timedOut[0]!.events.map((event) => event.name)).toContain('exception');
  expect(spans.find((span) => span.kind === SpanKind.SERVER)!.attributes['http.response.status_code']).toBe(503);

  const timeouts = pointsOf(await recorder.metrics(), 'db.client.connection.timeouts');
  expect(timeouts.reduce((sum, point) => sum + (point.value as number), 0)).toBe(1);
  expect(timeouts[0]!.attributes).toMatchObject({ 'error.type': 'timeout', 'db.client.connection.pool.name': expect.stringMatching(/^shared@/) });
});

test('pool metrics follow the conventions: wait and use time per pool, connections by state, no tenant ids', async () => {
  recorder.reset();
  for (let i = 0; i < 3; i++) expect((await t.graphql(acme, '{ tenant { name } projects { edges { node { name } } } }')).status).toBe(200);
  const metrics = await recorder.metrics();

  for (const name of ['db.client.connection.wait_time', 'db.client.connection.use_time']) {
    const points = pointsOf(metrics, name).filter((point) => point.attributes['tenant.strategy'] === 'shared');
    expect(points.length, name).toBeGreaterThan(0);
    const histogram = points[0]!.value as { count: number; sum: number; buckets: { boundaries: number[] } };
    expect(histogram.count, name).toBeGreaterThanOrEqual(3);
    // Seconds, not milliseconds: a local checkout takes well under a second.
    expect(histogram.sum / histogram.count, name).toBeLessThan(1);
    expect(histogram.buckets.boundaries).toContain(0.005);
  }
  const counts = pointsOf(metrics, 'db.client.connection.count');
  expect(counts.map((point) => point.attributes['db.client.connection.state']).sort()).toEqual(['idle', 'used']);
  expect(counts.find((point) => point.attributes['db.client.connection.state'] === 'idle')!.value).toBe(1);
  expect(pointsOf(metrics, 'db.client.connection.max')[0]!.value).toBe(1);
  expect(pointsOf(metrics, 'db.client.connection.create_time').length).toBeGreaterThan(0);

  const attributeValues = metrics.flatMap((metric) => metric.dataPoints.flatMap((point) => Object.values(point.attributes)));
  expect(attributeValues).not.toContain(acme.id);
});

function pointsOf(metrics: RecordedMetric[], name: string) {
  return metrics.filter((metric) => metric.descriptor.name === name).flatMap((metric) => metric.dataPoints as { attributes: Record<string, unknown>; value: unknown }[]);
}

function hrMs([seconds, nanos]: [number, number]): number {
  return seconds * 1000 + nanos / 1e6;
}
