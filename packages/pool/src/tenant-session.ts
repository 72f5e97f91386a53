import { createHash } from 'node:crypto';
import type pg from 'pg';
import { SessionClosedError, TransactionRolledBackError } from './errors.ts';

/** A statement sent right after BEGIN to bind the transaction to its tenant. */
export interface BindingStatement {
  text: string;
  values: readonly unknown[];
}

/** Where a session gets its one connection and gives it back. */
export interface SessionConnections {
  checkout(): Promise<pg.PoolClient>;
  /** `destroy` closes the connection instead of returning it to the pool. */
  release(client: pg.PoolClient, destroy: Error | undefined): void;
  /** Sends a statement on the held connection: inside its `pool.session` span, for tracing. */
  send<T>(statement: () => T): T;
}

export type SessionState = 'idle' | 'open' | 'committed' | 'rolled-back' | 'aborted';

export interface QueryOutcome {
  command: string;
  rowCount: number | null;
  rows: unknown[];
}

/**
 * Puts every setting of the connection's session back to the login's defaults (those of the
 * connection's startup, of ALTER ROLE/DATABASE and of the server): SQL injected into an earlier
 * transaction on this connection may have left `SET statement_timeout = 1`, `search_path`,
 * `default_transaction_read_only` or a `set_config(..., false)` behind, which outlive COMMIT on a
 * pooled connection and behind PgBouncer. Sent inside the transaction, so PgBouncer's transaction
 * mode runs it on the server connection the transaction uses. RESET ALL leaves `role` and
 * `session_authorization` alone: the binding sets the role of every transaction, and the login
 * cannot change its session authorization. See README, Security.
 */
export const RESET_SESSION = 'reset all';

/**
 * A statement for the extended protocol, always: a message of it carries exactly one statement, so
 * SQL text that reaches a session with more after a `;` (a COMMIT that would end the binding, a
 * second statement) is refused by Postgres rather than run. pg sends text without parameters as a
 * simple query, which runs any number of statements. `queryMode` is pg's (since 8.11); its types
 * do not have it yet.
 */
export function oneStatement(text: string, values: readonly unknown[], name?: string): pg.QueryConfig {
  return { text, values: values as unknown[], queryMode: 'extended', ...(name ? { name } : {}) } as pg.QueryConfig;
}

/** The name a statement is prepared under: the same text gets the same name on every connection. */
function preparedName(text: string): string {
  return `tenant_app_${createHash('sha1').update(text).digest('hex').slice(0, 32)}`;
}

/**
 * Fails the transaction, before its first query runs, when the connection holds a statement that
 * SQL prepared (`PREPARE`). SQL injected into an earlier transaction could have deallocated one of
 * our statements and prepared its own text under that name, to run in the next tenant's
 * transaction under that tenant's binding. Ours are prepared by the protocol (`from_sql` false),
 * which SQL cannot do. The cast fails, with the names in its message, when there is one.
 */
const PREPARED_BY_SQL_GUARD =
  "select ('statements prepared by SQL on this connection: ' || string_agg(name, ', '))::integer " +
  'from pg_catalog.pg_prepared_statements where from_sql having count(*) > 0';

/** SQLSTATE of a named statement the connection does not hold (deallocated by SQL). */
const NO_SUCH_STATEMENT = '26000';

/**
 * One request's transaction on one connection, opened lazily by its first query and ended once.
 *
 * The first query does not wait for BEGIN, the session reset and the binding: with pg's pipeline
 * mode the four go out back to back and are answered in one round trip. Postgres runs them in
 * order, so the query sees a clean session and the binding, and if either fails the query fails
 * with it (fail closed).
 */
export class TenantSession {
  #state: SessionState = 'idle';
  #client: Promise<pg.PoolClient> | undefined;
  #bound: Promise<unknown> | undefined;
  #savepoints = 0;
  /** Why the connection must be closed rather than reused, once something showed it. */
  #unfitBecause: Error | undefined;
  readonly #connections: SessionConnections;
  readonly #binding: readonly BindingStatement[];
  readonly #preparedStatements: boolean;

  /**
   * With `preparedStatements`, queries and the binding are prepared on the connection under a name
   * derived from their text, and Postgres parses, rewrites and plans each once per connection
   * instead of on every execution; only for statement texts that every session of the pool shares.
   */
  constructor(connections: SessionConnections, binding: readonly BindingStatement[], { preparedStatements = false } = {}) {
    this.#connections = connections;
    this.#binding = binding;
    this.#preparedStatements = preparedStatements;
  }

  get state(): SessionState {
    return this.#state;
  }

  /** Statements this session sent, binding and transaction control included. */
  statements = 0;

  async query(text: string, values: readonly unknown[]): Promise<QueryOutcome> {
    if (this.#state !== 'idle' && this.#state !== 'open') throw new SessionClosedError(this.#state);
    const client = await this.#open();
    if (this.#state !== 'open') throw new SessionClosedError(this.#state);
    this.statements += 1;
    const result = this.#send(client, text, values);
    // Report the binding's own error rather than the "transaction is aborted" that follows it; pg
    // may settle both from one read, the query's first.
    const [bound, outcome] = await Promise.allSettled([this.#bound, result]);
    if (bound.status === 'rejected') throw bound.reason;
    if (outcome.status === 'rejected') throw outcome.reason;
    return { command: outcome.value.command, rowCount: outcome.value.rowCount, rows: outcome.value.rows };
  }

  /** Nested transactions inside a request become savepoints of the request's transaction. */
  async savepoint(): Promise<string> {
    const name = `sp_${++this.#savepoints}`;
    await this.query(`savepoint ${name}`, []);
    return name;
  }

  async releaseSavepoint(name: string): Promise<void> {
    await this.query(`release savepoint ${name}`, []);
  }

  async rollbackToSavepoint(name: string): Promise<void> {
    await this.query(`rollback to savepoint ${name}`, []);
  }

  /** Commits and releases. Throws if Postgres rolled back instead; the connection is released either way. */
  async commit(): Promise<void> {
    await this.#end('commit');
  }

  /** Rolls back and releases. Never throws: a connection that cannot roll back is destroyed. */
  async rollback(): Promise<void> {
    await this.#end('rollback').catch(() => undefined);
  }

  /**
   * The client went away: no further query may start, and the transaction is rolled back. A query
   * already on the wire finishes first (bounded by the statement timeout), because the ROLLBACK
   * queues behind it on the same connection; the connection is counted until it is really free.
   */
  async abort(): Promise<void> {
    await this.#end('rollback', 'aborted').catch(() => undefined);
  }

  async #end(outcome: 'commit' | 'rollback', finalState?: SessionState): Promise<void> {
    if (this.#state !== 'idle' && this.#state !== 'open') return;
    const wasOpen = this.#state === 'open';
    this.#state = finalState ?? (outcome === 'commit' ? 'committed' : 'rolled-back');
    if (!wasOpen || !this.#client) return;
    const client = await this.#client;
    let failure: unknown;
    try {
      this.statements += 1;
      const result = await this.#connections.send(() => client.query(outcome));
      if (outcome === 'commit' && result.command === 'ROLLBACK') failure = new TransactionRolledBackError();
    } catch (error) {
      failure = error;
    }
    if (failure && this.#state === 'committed') this.#state = 'rolled-back';
    // A connection that is not back at "idle, no transaction" must never serve another tenant.
    const clean = failure === undefined || failure instanceof TransactionRolledBackError;
    const idle = client.getTransactionStatus() === 'I';
    this.#release(client, this.#unfitBecause ?? (clean && idle ? undefined : new Error('connection left mid-transaction')));
    if (failure) throw failure;
  }

  #open(): Promise<pg.PoolClient> {
    if (this.#client) return this.#client;
    this.#client = this.#connections.checkout().then((client) => {
      if (this.#state !== 'idle') {
        // The request ended while it waited for a connection.
        this.#release(client, undefined);
        throw new SessionClosedError(this.#state);
      }
      this.#state = 'open';
      this.statements += 2 + this.#binding.length;
      const begin = this.#connections.send(() => client.query('begin'));
      const reset = this.#connections.send(() => client.query(RESET_SESSION));
      const opening: Promise<unknown>[] = [begin, reset];
      if (this.#preparedStatements) {
        // Ahead of the binding, which is itself prepared: a binding statement that SQL replaced
        // must never run, not even in a transaction that then fails.
        this.statements += 1;
        const guard = this.#connections.send(() => client.query(PREPARED_BY_SQL_GUARD));
        guard.catch((error: unknown) => (this.#unfitBecause = error as Error));
        opening.push(guard);
      }
      for (const statement of this.#binding) opening.push(this.#send(client, statement.text, statement.values));
      this.#bound = Promise.all(opening);
      // Errors surface through the first query; this keeps them from being reported as unhandled.
      this.#bound.catch(() => undefined);
      return client;
    });
    return this.#client;
  }

  /** Sends one statement, prepared under its name when the session prepares statements. */
  #send(client: pg.PoolClient, text: string, values: readonly unknown[]): Promise<pg.QueryResult> {
    const name = this.#preparedStatements ? preparedName(text) : undefined;
    const result = this.#connections.send(() => client.query(oneStatement(text, values, name)));
    if (name) {
      result.catch((error: unknown) => {
        // pg believes the statement prepared and only binds it: every later use would fail too.
        if ((error as { code?: unknown }).code === NO_SUCH_STATEMENT) this.#unfitBecause = error as Error;
      });
    }
    return result;
  }

  #release(client: pg.PoolClient, destroyBecause: Error | undefined): void {
    this.#connections.release(client, destroyBecause);
  }
}
