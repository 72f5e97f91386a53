/** Counters of one pool since it was created. */
export interface PoolStats {
  name: string;
  /** Connections open now (in use + idle), and the most this pool may open. */
  total: number;
  max: number;
  idle: number;
  active: number;
  /** Checkouts waiting for a connection now. */
  pending: number;
  acquired: number;
  released: number;
  /** Connections closed because they came back broken or mid-transaction. */
  discarded: number;
  timeouts: number;
  /** Errors of idle connections (Postgres restarted, connection terminated). */
  idleErrors: number;
  waitMsSum: number;
  waitMsMax: number;
}

/** What a session reports back to its pool. */
export interface PoolCounters {
  released(discarded: boolean): void;
}
