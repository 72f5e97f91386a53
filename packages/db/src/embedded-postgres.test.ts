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
