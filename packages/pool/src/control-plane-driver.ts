import type { CompiledQuery, DatabaseConnection, Driver, QueryResult } from 'kysely';
import type pg from 'pg';
import { TransactionRolledBackError } from './errors.ts';
import { queryResultOf } from './session-driver.ts';
import { oneStatement, RESET_SESSION } from './tenant-session.ts';

/** A connection of the shared pool held for one control-plane statement. */
export interface ControlPlaneCheckout {
  client: pg.PoolClient;
  /** Sends on the held connection inside its checkout span, for tracing. */
  send<T>(statement: () => T): T;
  /** `destroy` closes the connection instead of returning it to the pool. */
  release(destroy: Error | undefined): void;
}

/**
 * Runs each statement of `PoolManager.unbound()` in a transaction of its own on a short checkout of
 * the shared pool: BEGIN, the session reset, the statement and COMMIT go out together and come back
 * in one round trip. In one transaction they stay on one server connection behind PgBouncer in
 * transaction mode; as four statements of their own, the reset could clean one server connection
 * while the statement ran on another, where SQL injected into an earlier request had left a setting
 * (a statement timeout of 1 ms) that fails every key lookup on it.
 */
export class ControlPlaneDriver implements Driver {
  readonly #connection: ControlPlaneConnection;

  constructor(checkout: () => Promise<ControlPlaneCheckout>) {
    this.#connection = new ControlPlaneConnection(checkout);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#connection;
  }

  async beginTransaction(): Promise<void> {
    throw new Error('the control plane runs each statement in a transaction of its own: use a function, or a tenant session');
  }

  async commitTransaction(): Promise<void> {}

  async rollbackTransaction(): Promise<void> {}

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {}
}

class ControlPlaneConnection implements DatabaseConnection {
  constructor(readonly checkout: () => Promise<ControlPlaneCheckout>) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { client, send, release } = await this.checkout();
    const [statement, commit] = await this.#inTransaction(client, send, compiledQuery).finally(() =>
      release(client.getTransactionStatus() === 'I' ? undefined : new Error('connection left mid-transaction')),
    );
    if (statement.status === 'rejected') throw statement.reason;
    if (commit.status === 'rejected') throw commit.reason;
    if (commit.value.command === 'ROLLBACK') throw new TransactionRolledBackError();
    return queryResultOf(statement.value);
  }

  async #inTransaction(client: pg.PoolClient, send: ControlPlaneCheckout['send'], compiledQuery: CompiledQuery) {
    // Their failures show in the statement's: it runs in the transaction they open.
    send(() => client.query('begin')).catch(() => undefined);
    send(() => client.query(RESET_SESSION)).catch(() => undefined);
    const statement = send(() => client.query(oneStatement(compiledQuery.sql, compiledQuery.parameters)));
    const commit = send(() => client.query('commit'));
    return Promise.allSettled([statement, commit]);
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the control plane does not stream: its statements are lookups of one row');
  }
}
