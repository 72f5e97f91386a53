import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';

interface RequestScope {
  requestId: string;
}

const scopes = new AsyncLocalStorage<RequestScope>();

/**
 * Everything a request runs (context, resolvers, DataLoader batches, Yoga's own logging) sees its
 * request id, so every log line of a request carries it — with or without OpenTelemetry, whose
 * context only propagates when an SDK is started. A caller's `x-request-id` is kept when it is a
 * plain token; anything else gets a fresh id rather than an echo of what was sent.
 */
export function useRequestScope(): Plugin {
  return {
    instrumentation: {
      request({ request }, wrapped) {
        const requestId = request.headers.get('x-request-id')?.match(/^[\w-]{1,64}$/)?.[0] ?? randomUUID();
        return scopes.run({ requestId }, wrapped);
      },
    },
  };
}

/** The id of the request being served, when called inside one. */
export function currentRequestId(): string | undefined {
  return scopes.getStore()?.requestId;
}
