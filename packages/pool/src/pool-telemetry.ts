import { performance } from 'node:perf_hooks';
import {
  context,
  metrics,
  SpanStatusCode,
  trace,
  type BatchObservableCallback,
  type Context,
  type Counter,
  type Histogram,
  type Meter,
  type ObservableUpDownCounter,
  type Span,
} from '@opentelemetry/api';

// The connection-pool conventions are still "development" in OTel's semantic conventions; their
// docs ask libraries to copy such names rather than depend on the incubating entry point.
const POOL_NAME = 'db.client.connection.pool.name';
const STATE = 'db.client.connection.state';
/** Buckets the conventions advise for connection durations, in seconds. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/** What a session's tenant looks like on spans and metrics; never its id on a metric. */
export interface SessionLabels {
  strategy: string;
  tier: string;
}

export type AcquireOutcome = 'acquired' | 'timeout' | 'shed' | 'error';

/** A pool as the metrics see it: the figures of one instant. */
export interface ObservedPool {
  /**
   * The metric's pool name. Each database tenant has a pool of its own; naming them one by one
   * would put every tenant id into the metrics (10,000 tenants, 10,000 series), so their figures
   * are summed per host and the tenant-level detail stays in spans and `tenantStats()`.
   */
  metricName: string;
  used: number;
  idle: number;
  max: number;
  pending: number;
}

/**
 * One checkout seen from the outside: a `pool.acquire` span for the wait, then a `pool.session`
 * span for the time the connection is held, under which the session's statements run so that
 * their SQL spans nest there.
 */
export class TracedCheckout {
  readonly #telemetry: PoolTelemetry;
  readonly #parent: Context;
  readonly #acquire: Span;
  readonly #metricAttributes: Record<string, string>;
  readonly #spanAttributes: Record<string, string>;
  #session: Span | undefined;
  #sessionContext: Context | undefined;
  #acquiredAt = 0;

  constructor(telemetry: PoolTelemetry, spanAttributes: Record<string, string>, metricAttributes: Record<string, string>) {
    this.#telemetry = telemetry;
    this.#parent = context.active();
    this.#spanAttributes = spanAttributes;
    this.#metricAttributes = metricAttributes;
    this.#acquire = telemetry.tracer.startSpan('pool.acquire', { attributes: spanAttributes }, this.#parent);
  }

  /** How many checkouts were ahead in the line when this one joined it. */
  queued(tenantAhead: number, hostAhead: number): void {
    this.#acquire.setAttributes({ 'pool.queue.tenant_length': tenantAhead, 'pool.queue.host_length': hostAhead });
  }

  /** Runs `work` (asking pg-pool for the connection, which may open one) inside the `pool.acquire` span. */
  waiting<T>(work: () => T): T {
    return context.with(trace.setSpan(this.#parent, this.#acquire), work);
  }

  acquired(waitedMs: number, opened: boolean): void {
    this.#acquire.setAttributes({ 'pool.acquire.outcome': 'acquired', 'pool.connection.opened': opened });
    this.#acquire.end();
    this.#telemetry.waitTime.record(waitedMs / 1000, this.#metricAttributes);
    this.#acquiredAt = performance.now();
    this.#session = this.#telemetry.tracer.startSpan('pool.session', { attributes: this.#spanAttributes }, this.#parent);
    this.#sessionContext = trace.setSpan(this.#parent, this.#session);
  }

  failed(outcome: Exclude<AcquireOutcome, 'acquired'>, error: Error): void {
    this.#acquire.setAttribute('pool.acquire.outcome', outcome);
    this.#acquire.recordException(error);
    this.#acquire.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    this.#acquire.end();
    if (outcome !== 'error') this.#telemetry.timeouts.add(1, { ...this.#metricAttributes, 'error.type': outcome });
  }

  /** Runs `work` (a statement sent on the held connection) inside the `pool.session` span. */
  within<T>(work: () => T): T {
    return this.#sessionContext ? context.with(this.#sessionContext, work) : work();
  }

  /** The connection went back to the pool, or was closed (`discarded`) because it was not clean. */
  released(discarded: boolean): void {
    if (!this.#session) return;
    this.#session.setAttribute('pool.connection.discarded', discarded);
    this.#session.end();
    this.#session = undefined;
    this.#telemetry.useTime.record((performance.now() - this.#acquiredAt) / 1000, this.#metricAttributes);
  }
}

/**
 * The pool manager's spans and `db.client.connection.*` metrics, through `@opentelemetry/api`
 * only: without an SDK every call is a no-op. Instruments are made when the manager is built, so
 * an SDK started before that (as the app does) receives them.
 */
export class PoolTelemetry {
  readonly tracer = trace.getTracer('@tenant-app/pool');
  readonly #meter: Meter;
  readonly waitTime: Histogram;
  readonly useTime: Histogram;
  readonly createTime: Histogram;
  readonly timeouts: Counter;
  readonly #gauges: ObservableUpDownCounter[];
  readonly #observe: BatchObservableCallback;

  constructor(pools: () => Iterable<ObservedPool>) {
    this.#meter = metrics.getMeter('@tenant-app/pool');
    const duration = (name: string, description: string) =>
      this.#meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
    this.waitTime = duration('db.client.connection.wait_time', 'The time it took to obtain an open connection from the pool');
    this.useTime = duration('db.client.connection.use_time', 'The time between borrowing a connection and returning it to the pool');
    this.createTime = duration('db.client.connection.create_time', 'The time it took to create a new connection');
    this.timeouts = this.#meter.createCounter('db.client.connection.timeouts', {
      unit: '{timeout}',
      description: 'Checkouts that failed: waited too long (timeout) or refused because the queue was full (queue-full)',
    });
    const count = this.#meter.createObservableUpDownCounter('db.client.connection.count', {
      unit: '{connection}',
      description: 'The number of connections that are currently in the state described by the state attribute',
    });
    const max = this.#meter.createObservableUpDownCounter('db.client.connection.max', {
      unit: '{connection}',
      description: 'The maximum number of open connections allowed',
    });
    const idleMax = this.#meter.createObservableUpDownCounter('db.client.connection.idle.max', {
      unit: '{connection}',
      description: 'The maximum number of idle open connections allowed',
    });
    const pending = this.#meter.createObservableUpDownCounter('db.client.connection.pending_requests', {
      unit: '{request}',
      description: 'The number of current pending requests for an open connection',
    });
    this.#gauges = [count, max, idleMax, pending];
    this.#observe = (result) => {
      const totals = new Map<string, ObservedPool>();
      for (const pool of pools()) {
        const total = totals.get(pool.metricName);
        if (!total) {
          totals.set(pool.metricName, { ...pool });
          continue;
        }
        total.used += pool.used;
        total.idle += pool.idle;
        total.pending += pool.pending;
        total.max = Math.max(total.max, pool.max);
      }
      for (const pool of totals.values()) {
        const name = { [POOL_NAME]: pool.metricName };
        result.observe(count, pool.used, { ...name, [STATE]: 'used' });
        result.observe(count, pool.idle, { ...name, [STATE]: 'idle' });
        result.observe(max, pool.max, name);
        result.observe(idleMax, pool.max, name);
        result.observe(pending, pool.pending, name);
      }
    };
    this.#meter.addBatchObservableCallback(this.#observe, this.#gauges);
  }

  checkout(tenantId: string, poolName: string, metricName: string, labels: SessionLabels): TracedCheckout {
    return new TracedCheckout(
      this,
      {
        'tenant.id': tenantId,
        'tenant.strategy': labels.strategy,
        'tenant.tier': labels.tier,
        [POOL_NAME]: poolName,
      },
      { [POOL_NAME]: metricName, 'tenant.strategy': labels.strategy, 'tenant.tier': labels.tier },
    );
  }

  connectionCreated(metricName: string, seconds: number): void {
    this.createTime.record(seconds, { [POOL_NAME]: metricName });
  }

  /** Stops reporting this manager's pools (it is closing). */
  close(): void {
    this.#meter.removeBatchObservableCallback(this.#observe, this.#gauges);
  }
}
