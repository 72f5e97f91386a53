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

/**
 * SQLSTATEs of a session that Postgres ended: admin_shutdown (pg_terminate_backend, a fast or smart
 * shutdown), crash_shutdown (another backend crashed), cannot_connect_now (starting or shutting
 * down). Class 08 holds the connection exceptions.
 */
const SESSION_ENDED = new Set(['57P01', '57P02', '57P03']);
/** What pg and Node report when the socket went away under a query, or a query is sent on a broken connection. */
const SOCKET_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT']);
const CONNECTION_GONE = /^(Connection terminated|Client has encountered a connection error and is not queryable)/;

/**
 * True when `error` says that the connection a statement ran on is gone — Postgres ended the
 * session, or the socket closed — rather than that the statement failed: a fault of the
 * infrastructure, transient like a refused connection (DatabaseUnavailableError), which a client
 * should retry. The pool discards such a connection; the caller may map the error to "unavailable".
 */
export function isConnectionLost(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (SESSION_ENDED.has(code) || /^08[0-9A-Z]{3}$/.test(code) || SOCKET_GONE.has(code))) return true;
  return CONNECTION_GONE.test(error.message);
}

/**
 * Postgres stopped a statement before it finished (SQLSTATE 57014): it ran past the
 * `statement_timeout` the tenant's binding sets, or an operator cancelled it. The connection stays
 * usable; the transaction is aborted and rolled back as any failed one.
 */
export function isStatementCancelled(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === '57014';
}
