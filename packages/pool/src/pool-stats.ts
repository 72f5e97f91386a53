/** Counters of one pool (one Postgres target) since it was created. */
export interface PoolStats {
  name: string;
  /** `host:port` of the Postgres server; the connection budget is per host. */
  host: string;
  /** Connections open now (in use + idle), and the most this pool may open. */
  total: number;
  max: number;
  idle: number;
  active: number;
  /** Checkouts waiting for a connection of this pool now. */
  pending: number;
  acquired: number;
  released: number;
  /** Connections closed because they came back broken or mid-transaction. */
  discarded: number;
  timeouts: number;
  /** Connections closed to make room for another pool under the host's budget. */
  evictions: number;
  /** Errors of idle connections (Postgres restarted, connection terminated). */
  idleErrors: number;
  waitMsSum: number;
  waitMsMax: number;
}

/** Counters of one tenant across the pools it uses. */
export interface TenantPoolStats {
  tenantId: string;
  active: number;
  pending: number;
  acquired: number;
  released: number;
  timeouts: number;
  /** Checkouts refused at once because the tenant's queue was full. */
  shed: number;
  waitMsSum: number;
  waitMsMax: number;
}

/** Budget of one Postgres host: the connections of all pools to it never exceed `budget`. */
export interface HostStats {
  host: string;
  budget: number;
  open: number;
  pending: number;
  pools: number;
  /** Connections closed to make room under the budget, across the pools of this host. */
  evictions: number;
}
