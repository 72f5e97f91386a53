import type { Env } from './env.ts';

/** What the API holds of telemetry. */
export interface Telemetry {
  readonly enabled: boolean;
  /** Nothing to export: resolves at once. */
  shutdown(): Promise<void>;
}

/**
 * This project was created without telemetry (create-tenant-app --no-telemetry): no SDK starts,
 * so the @opentelemetry/api calls of the packages stay no-ops. To add it back, bring in an
 * OpenTelemetry SDK here; nothing else of the API changes.
 */
export async function startTelemetry(_env: Env): Promise<Telemetry> {
  return { enabled: false, shutdown: async () => {} };
}

/** The line `npm start` prints about telemetry. */
export function describeTelemetry(_variables: NodeJS.ProcessEnv): string {
  return 'OpenTelemetry: not included (no SDK; spans and metrics are no-ops)';
}
