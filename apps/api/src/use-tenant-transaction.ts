import { GraphQLError, getOperationAST, type ExecutionResult, type GraphQLErrorExtensions, type Source } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { SessionClosedError } from '@tenant-app/pool';
import type { ApiContext } from './context.ts';
import { toClientError } from './errors.ts';

/**
 * A new error in `error`'s place: its path and its locations. graphql-jit's errors hold locations
 * without the AST nodes they come from, and Yoga rebuilds every error from its nodes, or from its
 * source and positions, when it writes the response; so the locations become positions in the
 * document's source, or they would be lost.
 */
function inPlaceOf(error: GraphQLError, message: string, extensions: GraphQLErrorExtensions | undefined, source: Source | undefined): GraphQLError {
  const place =
    error.nodes || !error.locations || !source
      ? { nodes: error.nodes }
      : { source, positions: error.locations.map((location) => positionIn(source.body, location)) };
  return new GraphQLError(message, { ...place, path: error.path, ...(extensions ? { extensions } : {}) });
}

/** The offset of a 1-based line and column, counting line breaks as graphql-js does. */
function positionIn(body: string, location: { line: number; column: number }): number {
  let lineStart = 0;
  const lineBreak = /\r\n|[\n\r]/g;
  for (let line = 1; line < location.line; line += 1) {
    if (!lineBreak.exec(body)) break;
    lineStart = lineBreak.lastIndex;
  }
  return lineStart + location.column - 1;
}

function maskUnexpected(result: ExecutionResult, context: ApiContext, source: Source | undefined): ExecutionResult {
  if (!result.errors?.length) return result;
  const errors = result.errors.map((error) => {
    const clientError = toClientError(error);
    if (clientError) return inPlaceOf(error, clientError.message, clientError.extensions, source);
    const cause = error.originalError ?? error;
    // A client that goes away stops every resolver still running: expected, so not logged as an error.
    if (cause instanceof SessionClosedError && context.bound.session.state === 'aborted') {
      context.log.debug({ path: error.path?.join('.') }, 'resolver stopped: the client went away');
    } else {
      context.log.error({ err: cause, path: error.path?.join('.') }, 'resolver failed');
    }
    return inPlaceOf(error, 'Unexpected error.', { code: 'INTERNAL_SERVER_ERROR', requestId: context.requestId }, source);
  });
  return { ...result, errors };
}

/**
 * One transaction per GraphQL operation: it opens with the first query (nothing happens for an
 * operation that touches no table) and ends here, before the response is written, so a client never
 * sees success for a write that was not committed. Any error rolls a mutation back as a whole and
 * its data is withheld, because none of it was kept.
 */
export function useTenantTransaction(): Plugin<ApiContext> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const context = args.contextValue as ApiContext;
      const { session } = context.bound;
      setExecuteFn(async (executionArgs) => {
        let result: Awaited<ReturnType<typeof executeFn>>;
        try {
          result = await executeFn(executionArgs);
        } catch (error) {
          await session.rollback();
          throw error;
        }
        if (Symbol.asyncIterator in result) {
          await session.rollback();
          return result;
        }
        if (result.errors?.length) {
          await session.rollback();
          const isMutation = getOperationAST(args.document, args.operationName)?.operation === 'mutation';
          return maskUnexpected(isMutation ? { ...result, data: null } : result, context, args.document.loc?.source);
        }
        try {
          await session.commit();
        } catch (error) {
          return maskUnexpected({ data: null, errors: [new GraphQLError('the transaction failed', { originalError: error as Error })] }, context, undefined);
        }
        context.log.debug({ statements: session.statements }, 'transaction committed');
        return result;
      });
    },
  };
}
