import { pino, type Logger } from 'pino';

/** JSON lines on stdout; secrets that could reach a log line are redacted. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: ['req.headers.authorization', '*.apiKey', '*.password'],
  });
}
