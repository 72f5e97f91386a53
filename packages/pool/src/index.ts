export { PoolManager, type PoolManagerOptions, type SessionOptions, type BoundSession } from './pool-manager.ts';
export type { TenantSession, SessionState, BindingStatement } from './tenant-session.ts';
export type { PoolStats, HostStats, TenantPoolStats } from './pool-stats.ts';
export type { TenantLimits } from './connection-scheduler.ts';
export type { PoolTarget } from './managed-pool.ts';
export {
  PoolTimeoutError,
  DatabaseUnavailableError,
  SessionClosedError,
  TransactionRolledBackError,
  isConnectionLost,
  isStatementCancelled,
} from './errors.ts';
