import { execFile } from 'node:child_process';
import pg from 'pg';
import { expect, inject, test } from 'vitest';
import { startEmbeddedPostgres } from './index.ts';

test('starting on a data folder that a server already runs connects to that server, and stopping leaves it running', async () => {
  const running = new URL(inject('postgresSuperuserUrl'));
  // A port nobody listens on: the running server's own port is read from its data folder.
  const reused = await startEmbeddedPostgres({ dataDir: inject('postgresDataDir'), port: 1, reuseRunning: true });
  expect({ reused: reused.reused, port: reused.port }).toEqual({ reused: true, port: Number(running.port) });

  await reused.stop();
  const client = new pg.Client({ connectionString: reused.url() });
  await client.connect();
  try {
    expect((await client.query('select 1 as alive')).rows).toEqual([{ alive: 1 }]);
  } finally {
    await client.end();
  }
});

test('a process that loads it keeps the exit code it set: a failed test run must not exit 0', async () => {
  const script = `await import(${JSON.stringify(new URL('./embedded-postgres.ts', import.meta.url).href)}); process.exitCode = 3;`;
  const code = await new Promise<number | null>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], (error) => resolve(error ? (error.code as number) : 0));
  });
  expect(code).toBe(3);
});
