import { startTelemetry as startSdk, type Telemetry } from '@tenant-app/telemetry';
import type { Env } from './env.ts';

export type { Telemetry };

/**
 * The one place the API starts OpenTelemetry (traces and metrics as the OTEL_* variables say).
 * It runs before the first pool is made: instruments are created with the pool manager.
 */
export function startTelemetry(env: Env): Promise<Telemetry> {
  return startSdk({ serviceName: 'tenant-app-api', disabled: env.OTEL_SDK_DISABLED });
}

/** Where the OTEL_* variables send traces and metrics, as `npm start` prints it. */
export function describeTelemetry(variables: NodeJS.ProcessEnv): string {
  const endpoint = variables.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318';
  const metrics = variables.OTEL_METRICS_EXPORTER?.includes('prometheus')
    ? `, Prometheus metrics on :${variables.OTEL_EXPORTER_PROMETHEUS_PORT ?? 9464}/metrics`
    : '';
  return `OpenTelemetry: OTLP/HTTP to ${endpoint}${metrics} (OTEL_SDK_DISABLED=true turns it off)`;
}
