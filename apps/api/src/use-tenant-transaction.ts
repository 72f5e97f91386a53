import { GraphQLError, getOperationAST, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { SessionClosedError } from '@tenant-app/pool';
import type { ApiContext } from './context.ts';
import { toClientError } from './errors.ts';

function maskUnexpected(result: ExecutionResult, context: ApiContext): ExecutionResult {
  if (!result.errors?.length) return result;
  const errors = result.errors.map((error) => {
    const clientError = toClientError(error);
    if (clientError) {
      return clientError === error ? error : new GraphQLError(clientError.message, { ...clientError, path: error.path, nodes: error.nodes });
    }
    const cause = error.originalError ?? error;
    // A client that goes away stops every resolver still running: expected, so not logged as an error.
    if (cause instanceof SessionClosedError && context.bound.session.state === 'aborted') {
      context.log.debug({ path: error.path?.join('.') }, 'resolver stopped: the client went away');
    } else {
      context.log.error({ err: cause, path: error.path?.join('.') }, 'resolver failed');
    }
    return new GraphQLError('Unexpected error.', {
      path: error.path,
      nodes: error.nodes,
      extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: context.requestId },
    });
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
          return maskUnexpected(isMutation ? { ...result, data: null } : result, context);
        }
        try {
          await session.commit();
        } catch (error) {
          return maskUnexpected({ data: null, errors: [new GraphQLError('the transaction failed', { originalError: error as Error })] }, context);
        }
        context.log.debug({ statements: session.statements }, 'transaction committed');
        return result;
      });
    },
  };
}
