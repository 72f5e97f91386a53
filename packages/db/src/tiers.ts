/** What a tier lets one tenant take from the database. */
export interface TierLimits {
  /** Connections the tenant may hold at once, on the shared pool too. */
  maxConnections: number;
  /** Requests that may wait for a connection; more are refused at once with POOL_TIMEOUT. */
  maxQueue: number;
  /** `SET LOCAL statement_timeout` of every transaction of the tenant. */
  statementTimeoutMs: number;
  /** Requests per second the tenant may send, sustained; more are refused with RATE_LIMITED (429). */
  requestsPerSecond: number;
  /** Requests the tenant may send beyond `requestsPerSecond` in a burst, refilled at that rate. */
  burst: number;
}

export const TIERS = {
  free: { maxConnections: 2, maxQueue: 20, statementTimeoutMs: 5_000, requestsPerSecond: 20, burst: 100 },
  standard: { maxConnections: 4, maxQueue: 100, statementTimeoutMs: 15_000, requestsPerSecond: 100, burst: 500 },
  enterprise: { maxConnections: 8, maxQueue: 500, statementTimeoutMs: 30_000, requestsPerSecond: 500, burst: 2_500 },
} as const satisfies Record<string, TierLimits>;

export type Tier = keyof typeof TIERS;

/** Limits of a tier by name; an unknown name (a tier removed from code) gets the smallest. */
export function tierLimits(tier: string): TierLimits {
  return (TIERS as Record<string, TierLimits>)[tier] ?? TIERS.free;
}
