import { context, trace } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';
import { currentRequestId } from './request-scope.ts';

/**
 * JSON lines on stdout; secrets that could reach a log line are redacted. A line written while a
 * request is served carries its request id and, when it is traced, its trace and span ids, so a
 * log line leads to its trace and back.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: ['req.headers.authorization', '*.apiKey', '*.password'],
    mixin() {
      const requestId = currentRequestId();
      if (!requestId) return {};
      const span = trace.getSpan(context.active());
      if (!span) return { requestId };
      const { traceId, spanId } = span.spanContext();
      return { requestId, trace_id: traceId, span_id: spanId };
    },
  });
}
