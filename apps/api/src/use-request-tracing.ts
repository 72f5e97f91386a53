import { context, propagation, SpanKind, SpanStatusCode, trace, type Span, type TextMapGetter } from '@opentelemetry/api';
import { getOperationAST, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ApiContext } from './context.ts';

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

/**
 * One trace per HTTP request: a server span (continuing the caller's `traceparent`), with the
 * GraphQL parse, validate and execute phases under it. Everything a request does runs inside its
 * span's context, so the pool's spans, SQL spans and log lines land in the same trace. Yoga's
 * instrumentation hooks wrap each phase, which is what an active context needs. Not a plugin of the
 * ecosystem: @envelop/opentelemetry 9 depends on the 1.x trace SDK (a second SDK generation beside
 * ours), and @graphql-hive/plugin-opentelemetry brings the Hive gateway runtime and an SDK of its own.
 */
export function useRequestTracing(): Plugin<ApiContext> {
  const tracer = trace.getTracer('@tenant-app/api');
  const requestSpans = new WeakMap<Request, Span>();
  const executeSpans = new WeakMap<object, Span>();

  const phase = <T>(name: string, work: () => T): T => {
    const span = tracer.startSpan(name);
    return context.with(trace.setSpan(context.active(), span), () => {
      try {
        return work();
      } finally {
        span.end();
      }
    });
  };

  return {
    instrumentation: {
      request({ request }, wrapped) {
        const url = new URL(request.url);
        const parent = propagation.extract(context.active(), request.headers, headerGetter);
        const span = tracer.startSpan(
          `${request.method} ${url.pathname}`,
          {
            kind: SpanKind.SERVER,
            attributes: { 'http.request.method': request.method, 'url.path': url.pathname, 'url.scheme': url.protocol.slice(0, -1) },
          },
          parent,
        );
        requestSpans.set(request, span);
        return context.with(trace.setSpan(parent, span), async () => {
          try {
            await wrapped();
          } catch (error) {
            span.recordException(error as Error);
            span.setStatus({ code: SpanStatusCode.ERROR });
            throw error;
          } finally {
            span.end();
          }
        });
      },
      parse: (_payload, wrapped) => phase('graphql.parse', wrapped),
      validate: (_payload, wrapped) => phase('graphql.validate', wrapped),
      execute({ context: executionContext }, wrapped) {
        const span = tracer.startSpan('graphql.execute');
        executeSpans.set(executionContext, span);
        return context.with(trace.setSpan(context.active(), span), async () => {
          try {
            await wrapped();
          } finally {
            span.end();
          }
        });
      },
    },
    onExecute({ args }) {
      const executeSpan = executeSpans.get(args.contextValue);
      const requestSpan = requestSpans.get(args.contextValue.request);
      const operation = getOperationAST(args.document, args.operationName);
      const type = operation?.operation ?? 'unknown';
      const name = operation?.name?.value;
      const attributes = {
        'graphql.operation.type': type,
        ...(name ? { 'graphql.operation.name': name } : {}),
        'tenant.id': args.contextValue.tenant.id,
        'tenant.slug': args.contextValue.tenant.slug,
      };
      executeSpan?.updateName(name ? `${type} ${name}` : type);
      executeSpan?.setAttributes(attributes);
      requestSpan?.setAttributes(attributes);
      return {
        onExecuteDone({ result }) {
          if (!executeSpan || !('errors' in result) || !result.errors?.length) return;
          const codes = [...new Set(result.errors.map((error: GraphQLError) => String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR')))];
          executeSpan.setAttributes({ 'graphql.error.count': result.errors.length, 'graphql.error.codes': codes });
          executeSpan.setStatus({ code: SpanStatusCode.ERROR, message: codes.join(', ') });
        },
      };
    },
    onResponse({ request, response }) {
      const span = requestSpans.get(request);
      if (!span) return;
      span.setAttribute('http.response.status_code', response.status);
      if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    },
  };
}
