/**
 * No connection became free within the acquire timeout, or the tenant's queue was full and the
 * checkout was refused at once. Either way the client should retry after a pause.
 */
export class PoolTimeoutError extends Error {
  override readonly name = 'PoolTimeoutError';
  readonly code = 'POOL_TIMEOUT';

  constructor(
    readonly poolName: string,
    readonly waitedMs: number,
    /** A hint for `Retry-After`, in seconds. */
    readonly retryAfterSeconds: number,
    readonly reason: 'timeout' | 'queue-full' = 'timeout',
  ) {
    super(
      reason === 'timeout'
        ? `no connection of pool "${poolName}" became free within ${waitedMs} ms`
        : `too many requests of this tenant are already waiting for pool "${poolName}"`,
    );
  }
}

/** Postgres could not be reached or refused the connection. */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
  readonly code = 'DATABASE_UNAVAILABLE';

  constructor(
    readonly poolName: string,
    cause: unknown,
  ) {
    super(`could not connect pool "${poolName}" to Postgres: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/** A query was issued after its request's transaction had ended (committed, rolled back, aborted). */
export class SessionClosedError extends Error {
  override readonly name = 'SessionClosedError';
  readonly code = 'SESSION_CLOSED';

  constructor(readonly state: string) {
    super(`the tenant session is ${state}: no more queries can run in it`);
  }
}

/** COMMIT was answered with ROLLBACK: an earlier statement had failed, nothing was written. */
export class TransactionRolledBackError extends Error {
  override readonly name = 'TransactionRolledBackError';
  readonly code = 'TRANSACTION_ROLLED_BACK';

  constructor() {
    super('the transaction was rolled back because one of its statements failed');
  }
}
