import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type { TenantSession } from './tenant-session.ts';

/**
 * Runs every query of a Kysely instance on one request's `TenantSession`. There is one connection
 * per request, so acquiring and releasing are no-ops, and a `db.transaction()` inside a request
 * becomes a savepoint of the request's transaction instead of a second BEGIN.
 */
export class SessionDriver implements Driver {
  readonly #connection: SessionConnection;
  readonly #savepoints: string[] = [];

  constructor(readonly session: TenantSession) {
    this.#connection = new SessionConnection(session);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#connection;
  }

  async beginTransaction(_connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    if (settings.isolationLevel || settings.accessMode) {
      throw new Error(
        'a transaction inside a request is a savepoint of the request transaction: isolation level and access mode cannot be set',
      );
    }
    this.#savepoints.push(await this.session.savepoint());
  }

  async commitTransaction(): Promise<void> {
    await this.session.releaseSavepoint(this.#popSavepoint());
  }

  async rollbackTransaction(): Promise<void> {
    const name = this.#popSavepoint();
    await this.session.rollbackToSavepoint(name);
    await this.session.releaseSavepoint(name);
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {}

  #popSavepoint(): string {
    const name = this.#savepoints.pop();
    if (!name) throw new Error('no transaction is open in this request');
    return name;
  }
}

class SessionConnection implements DatabaseConnection {
  constructor(readonly session: TenantSession) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    return queryResultOf(await this.session.query(compiledQuery.sql, compiledQuery.parameters));
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported inside a tenant session: page with limit/offset or keyset');
  }
}

/** A statement's outcome as Kysely reports it: rows, and the rows a write touched. */
export function queryResultOf<R>({ command, rowCount, rows }: { command: string; rowCount: number | null; rows: unknown[] }): QueryResult<R> {
  const affects = command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE';
  return { rows: rows as R[], ...(affects ? { numAffectedRows: BigInt(rowCount ?? 0) } : {}) };
}
