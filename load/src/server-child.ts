import { fork, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerProcessConfig, ServerReply, ServerRequest } from './server-process.ts';

export interface ServerUsage {
  /** User + system CPU time of the server process since it started. */
  cpuMs: number;
  memory: NodeJS.MemoryUsage;
}

export interface ServerChild {
  /** Such as http://127.0.0.1:41234; the API is at /graphql, the platform API at /platform/graphql. */
  origin: string;
  pid: number;
  /** CPU and memory of the server process; `gc` collects garbage first (only with `exposeGc`). */
  usage(options?: { gc?: boolean }): Promise<ServerUsage>;
  close(): Promise<void>;
}

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'server-process.ts');
const READY_TIMEOUT_MS = 60_000;
const USAGE_TIMEOUT_MS = 10_000;

/**
 * Starts the API in a child process (`server-process.ts`) and resolves once it listens. Its output
 * (pino logs) goes to `logFile`. `exposeGc` lets memory figures be taken after a full collection.
 */
export async function startServerChild(
  config: ServerProcessConfig,
  options: { logFile: string; exposeGc?: boolean },
): Promise<ServerChild> {
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = fork(ENTRY, [JSON.stringify(config)], {
      execArgv: ['--import', 'tsx', ...(options.exposeGc ? ['--expose-gc'] : [])],
      // As the Dockerfile runs it: graphql-js, for one, checks more on every call in development.
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', log, log, 'ipc'],
    });
  } finally {
    closeSync(log);
  }
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within ${READY_TIMEOUT_MS} ms: see ${options.logFile}`)), READY_TIMEOUT_MS);
    child.on('message', (reply: ServerReply) => {
      if (reply.type === 'ready') resolve(reply.port);
      if (reply.type === 'failed') reject(new Error(`the server failed to start:\n${reply.message}`));
    });
    child.once('exit', (code) => reject(new Error(`the server exited with code ${code} before it was ready: see ${options.logFile}`)));
  }).finally(() => child.removeAllListeners('message'));

  let nextId = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    origin: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    usage: (usageOptions = {}) =>
      new Promise<ServerUsage>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          child.off('message', onReply);
          reject(new Error(`the server process (pid ${child.pid}) did not report its usage: see ${options.logFile}`));
        }, USAGE_TIMEOUT_MS);
        const onReply = (reply: ServerReply) => {
          if (reply.type !== 'usage' || reply.id !== id) return;
          clearTimeout(timer);
          child.off('message', onReply);
          resolve({ cpuMs: reply.cpuMicros / 1000, memory: reply.memory });
        };
        child.on('message', onReply);
        child.send({ type: 'usage', id, gc: usageOptions.gc ?? false } satisfies ServerRequest);
      }),
    close: async () => {
      if (child.exitCode === null && child.connected) child.send({ type: 'close' } satisfies ServerRequest);
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
