import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** Codes of a request that was refused before any resolver ran, for a fault of the client's. */
const REQUEST_ERRORS = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'QUERY_TOO_COMPLEX', 'BAD_USER_INPUT']);

/**
 * A request refused before execution gets 400 whatever its Accept header, as our other client
 * errors do. Yoga follows the GraphQL-over-HTTP spec, which answers 200 to `application/json`
 * clients for parse and validation errors; a uniform 4xx keeps proxies, logs and alerts honest.
 * Variable values that do not fit their type come out of graphql-js with no code at all: they are
 * the client's bad input and are named so.
 */
export function useRequestErrorStatus(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      // Only whole-request failures: they carry no `data` (a failed mutation has `data: null`, and keeps its 200).
      if (Array.isArray(result) || Symbol.asyncIterator in result || 'data' in result || !result.errors?.length) return;
      const errors = result.errors.map((error) =>
        error.extensions?.['code'] || error.path
          ? error
          : new GraphQLError(error.message, { ...(error.nodes ? { nodes: error.nodes } : {}), extensions: { code: 'BAD_USER_INPUT' } }),
      );
      if (!errors.every((error) => REQUEST_ERRORS.has(String(error.extensions?.['code'])))) return;
      setResult({ ...result, errors, extensions: { ...result.extensions, http: { status: 400 } } });
    },
  };
}
