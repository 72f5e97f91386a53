import { GraphQLError } from 'graphql';
import { DatabaseUnavailableError, PoolTimeoutError } from '@tenant-app/pool';
import { errors } from '@tenant-app/graphql';

/**
 * Maps an error of our infrastructure to what the client may see: a client error with its code
 * and HTTP status, or `undefined` for an unexpected error that must be masked and logged.
 */
export function toClientError(error: unknown): GraphQLError | undefined {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  if (original instanceof PoolTimeoutError) return errors.poolTimeout(original.retryAfterSeconds);
  if (original instanceof DatabaseUnavailableError) return errors.unavailable();
  if (original instanceof Error && original.name === 'PothosValidationError') return errors.badInput(original.message);
  if (original instanceof GraphQLError) return original;
  if (error instanceof GraphQLError && !error.originalError) return error;
  return undefined;
}
