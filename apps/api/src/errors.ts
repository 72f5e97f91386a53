import { GraphQLError } from 'graphql';
import { DatabaseUnavailableError, isConnectionLost, isStatementCancelled, PoolTimeoutError } from '@tenant-app/pool';
import { errors } from '@tenant-app/graphql';

/**
 * Maps an error of our infrastructure to what the client may see: a client error with its code
 * and HTTP status, or `undefined` for an unexpected error that must be masked and logged.
 */
export function toClientError(error: unknown): GraphQLError | undefined {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  if (original instanceof PoolTimeoutError) return errors.poolTimeout(original.retryAfterSeconds);
  // A connection that could not be opened, and one that Postgres ended under a statement
  // (pg_terminate_backend, a restart, a failover): the same transient fault to the client, which
  // should retry — never a 500. A COMMIT cut off this way may or may not have been applied, as
  // with any lost answer; the transaction never commits half of a request.
  if (original instanceof DatabaseUnavailableError || isConnectionLost(original)) return errors.unavailable();
  if (isStatementCancelled(original)) return errors.statementTimeout();
  if (original instanceof Error && original.name === 'PothosValidationError') return errors.badInput(original.message);
  if (original instanceof GraphQLError) return original;
  if (error instanceof GraphQLError && !error.originalError) return error;
  return undefined;
}
