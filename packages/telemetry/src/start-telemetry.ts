import { createRequire } from 'node:module';
import type { NodeSDKConfiguration } from '@opentelemetry/sdk-node';

export interface TelemetryOptions {
  /** `service.name`, unless OTEL_SERVICE_NAME names it. */
  serviceName: string;
  /** OTEL_SDK_DISABLED=true: no SDK at all, every span and metric call is a no-op. */
  disabled?: boolean;
  /**
   * Where spans and metrics go. By default the standard OTEL_* variables decide (OTLP/HTTP to
   * OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_METRICS_EXPORTER=prometheus for a scrape endpoint, …);
   * tests pass in-memory ones.
   */
  spanProcessors?: NodeSDKConfiguration['spanProcessors'];
  metricReaders?: NodeSDKConfiguration['metricReaders'];
}

export interface Telemetry {
  readonly enabled: boolean;
  /** Exports what is buffered and stops; never throws (a collector that is down is not our failure). */
  shutdown(): Promise<void>;
}

const require = createRequire(import.meta.url);

/**
 * Starts the OpenTelemetry SDK: traces and metrics exported as the OTEL_* environment says, and
 * SQL spans from `@opentelemetry/instrumentation-pg`. Call it before the first pool is made.
 * The SDK and its exporters are loaded only here (they weigh ~30 MB of memory), so a process with
 * telemetry off never loads them.
 */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  if (options.disabled) return { enabled: false, shutdown: async () => {} };
  const [{ NodeSDK }, { PgInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-pg'),
  ]);
  const sdk = new NodeSDK({
    ...(process.env.OTEL_SERVICE_NAME ? {} : { serviceName: options.serviceName }),
    // Only statements of a traced request: health checks and pool upkeep would be root spans of their own.
    instrumentations: [
      new PgInstrumentation({
        requireParentSpan: true,
        // A statement kept prepared is named after a hash of its text, and the instrumentation
        // names its span after that; its operation, as for unnamed statements, reads better.
        requestHook: (span, { query }) => {
          if (query.name) span.updateName(`pg.query:${query.text.trimStart().split(/\s/, 1)[0]!.toUpperCase()}`);
        },
      }),
    ],
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    ...(options.metricReaders ? { metricReaders: options.metricReaders } : {}),
  });
  sdk.start();
  // The pg instrumentation patches pg through require hooks, when pg is required after it is
  // registered. Our packages import pg as ES modules, which those hooks never see; requiring it
  // here lets the hook patch pg's Client prototype, which every connection (made before or after)
  // shares.
  require('pg');
  return {
    enabled: true,
    shutdown: () => sdk.shutdown().catch(() => undefined),
  };
}
