import { context, metrics as metricsApi, propagation, trace } from '@opentelemetry/api';
import { metrics, tracing } from '@opentelemetry/sdk-node';
import { startTelemetry } from './start-telemetry.ts';

/** A reader that exports nowhere: a test collects from it when it wants the figures. */
class CollectingReader extends metrics.MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

export type RecordedSpan = tracing.ReadableSpan;
export type RecordedMetric = metrics.MetricData;

export interface TelemetryRecorder {
  /** Every span ended so far. */
  spans(): RecordedSpan[];
  /** The metrics as they stand now (cumulative since the start). */
  metrics(): Promise<RecordedMetric[]>;
  reset(): void;
  /** Stops the SDK and unregisters it, so later tests in the process run without telemetry. */
  stop(): Promise<void>;
}

/**
 * Starts the real SDK set-up (`startTelemetry`, pg instrumentation included) with in-memory
 * exporters instead of the OTEL_* ones. Start it before the pools a test makes.
 */
export async function recordTelemetry(): Promise<TelemetryRecorder> {
  const exporter = new tracing.InMemorySpanExporter();
  const reader = new CollectingReader();
  const telemetry = await startTelemetry({
    serviceName: 'tenant-app-test',
    spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
    metricReaders: [reader],
  });
  return {
    spans: () => exporter.getFinishedSpans(),
    async metrics() {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
    },
    reset: () => exporter.reset(),
    async stop() {
      await telemetry.shutdown();
      trace.disable();
      metricsApi.disable();
      context.disable();
      propagation.disable();
    },
  };
}
