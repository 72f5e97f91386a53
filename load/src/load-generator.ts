import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';
import { errorCodeOf, OPERATION_NAMES, requestBody, tenantHeaders, type LoadTenant } from './operations.ts';
import { planSeconds, type Lane } from './load-plan.ts';
import { WeightedPicker, type OperationName } from './profile.ts';

/** What happened to each request, in columns (a million requests fit in a few tens of MB). */
export class SampleLog {
  /** Milliseconds since the start of the run, when the response ended. */
  readonly at: number[] = [];
  readonly latencyMs: number[] = [];
  /** Index into the tenant list; -1 when the request was lost with its connection. */
  readonly tenant: number[] = [];
  /** Index into OPERATION_NAMES; -1 as for `tenant`. */
  readonly operation: number[] = [];
  /** Index into `codes`; 0 is success. */
  readonly code: number[] = [];
  readonly codes: string[] = ['OK'];

  push(at: number, latencyMs: number, tenant: number, operation: number, code: string | undefined): void {
    let codeIndex = 0;
    if (code !== undefined) {
      codeIndex = this.codes.indexOf(code);
      if (codeIndex < 0) codeIndex = this.codes.push(code) - 1;
    }
    this.at.push(at);
    this.latencyMs.push(latencyMs);
    this.tenant.push(tenant);
    this.operation.push(operation);
    this.code.push(codeIndex);
  }

  get size(): number {
    return this.at.length;
  }
}

export interface GenerateOptions {
  /** Origin of the API, such as http://127.0.0.1:4000; requests go to /graphql. */
  origin: string;
  /** In rank order; `tenantWeights` and `pickTenant` index into it. */
  tenants: readonly LoadTenant[];
  tenantWeights?: readonly number[];
  /** Replaces the weighted pick, for plans that visit tenants in a set order. */
  pickTenant?: () => number;
  operations: Record<OperationName, number>;
  lanes: readonly Lane[];
  /** A request unanswered this long counts as a TIMEOUT error. @default 10 */
  timeoutSeconds?: number;
  /** Called about twice a second. */
  onProgress?: (progress: LoadProgress) => void;
  /** Stop each lane after this many requests (the memory benchmark visits each tenant once, in one lane). */
  amount?: number;
}

export interface LoadProgress {
  elapsedSeconds: number;
  plannedSeconds: number;
  requests: number;
  errors: number;
}

export interface GeneratedLoad {
  samples: SampleLog;
  /** Wall-clock time of the run. */
  seconds: number;
}

/**
 * Runs a load plan with autocannon and records every request with its tenant, operation, latency
 * and outcome. Each request picks its tenant and operation in autocannon's `setupRequest`.
 */
export async function generateLoad(options: GenerateOptions): Promise<GeneratedLoad> {
  const samples = new SampleLog();
  const tenantPicker = options.tenantWeights ? new WeightedPicker(options.tenantWeights) : undefined;
  const pickTenant = options.pickTenant ?? (() => tenantPicker?.pick(Math.random()) ?? Math.floor(Math.random() * options.tenants.length));
  const operationPicker = new WeightedPicker(OPERATION_NAMES.map((name) => options.operations[name]));
  const headers = options.tenants.map(tenantHeaders);
  const plannedSeconds = planSeconds(options.lanes);
  const started = performance.now();
  let errors = 0;

  // autocannon reports a response twice, in this order and in one synchronous turn: to the
  // request's `onResponse` (with the body and the request's context: tenant, operation) and then
  // as the instance's 'response' event (with the latency). The first hands its half to the second.
  let answered: { tenant: number; operation: number; code: string | undefined } | undefined;
  interface RequestContext {
    tenant?: number;
    operation?: number;
  }
  const request: autocannon.Request = {
    method: 'POST',
    path: '/graphql',
    setupRequest: (req, context: RequestContext) => {
      const tenant = pickTenant();
      const operation = operationPicker.pick(Math.random());
      context.tenant = tenant;
      context.operation = operation;
      return { ...req, headers: headers[tenant], body: requestBody(OPERATION_NAMES[operation]!, options.tenants[tenant]!, Math.random()) };
    },
    onResponse: (status: number, body: string, context: RequestContext) => {
      answered = { tenant: context.tenant ?? -1, operation: context.operation ?? -1, code: errorCodeOf(status, body) };
    },
  };

  const runInstance = (connections: number, seconds: number, overallRate: number | undefined) =>
    new Promise<void>((resolve, reject) => {
      const instance = autocannon(
        {
          url: options.origin,
          connections,
          duration: seconds,
          timeout: options.timeoutSeconds ?? 10,
          requests: [request],
          ...(overallRate ? { overallRate } : {}),
          ...(options.amount !== undefined ? { amount: options.amount } : {}),
        },
        (error) => (error ? reject(error) : resolve()),
      );
      instance.on('response', (_client: unknown, _status: number, _bytes: number, latency: number) => {
        const outcome = answered ?? { tenant: -1, operation: -1, code: 'UNMATCHED_RESPONSE' };
        answered = undefined;
        if (outcome.code !== undefined) errors += 1;
        samples.push(performance.now() - started, latency, outcome.tenant, outcome.operation, outcome.code);
      });
      instance.on('reqError', (error: Error) => {
        errors += 1;
        const code = error.message === 'request timed out' ? 'TIMEOUT' : 'CONNECTION_ERROR';
        samples.push(performance.now() - started, 0, -1, -1, code);
      });
    });

  const progress = setInterval(
    () =>
      options.onProgress?.({
        elapsedSeconds: (performance.now() - started) / 1000,
        plannedSeconds,
        requests: samples.size,
        errors,
      }),
    500,
  );
  try {
    await Promise.all(
      options.lanes.map(async (lane) => {
        await new Promise((resolve) => setTimeout(resolve, lane.start * 1000));
        await runInstance(lane.connections, lane.seconds, lane.rate);
      }),
    );
  } finally {
    clearInterval(progress);
  }
  options.onProgress?.({ elapsedSeconds: (performance.now() - started) / 1000, plannedSeconds, requests: samples.size, errors });
  return { samples, seconds: (performance.now() - started) / 1000 };
}
