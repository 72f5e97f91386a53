export { PoolManager, type PoolManagerOptions, type SessionOptions, type BoundSession } from './pool-manager.ts';
export type { TenantSession, SessionState, BindingStatement } from './tenant-session.ts';
export type { PoolStats } from './pool-stats.ts';
export {
  PoolTimeoutError,
  DatabaseUnavailableError,
  SessionClosedError,
  TransactionRolledBackError,
} from './errors.ts';
