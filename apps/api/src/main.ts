import { InvalidEnvironmentError, loadEnv } from './env.ts';
import { createLogger } from './logger.ts';
import { startServer } from './server.ts';

const demoQuery = JSON.stringify({
  query: '{ tenant { name } viewer { name } projects(first: 3) { edges { node { name taskCount tasks(first: 2) { title status assignee { name } } } } } }',
});

async function main(): Promise<void> {
  let env;
  try {
    env = loadEnv(process.env);
  } catch (error) {
    if (!(error instanceof InvalidEnvironmentError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  const logger = createLogger(env.LOG_LEVEL);
  const running = await startServer(env, logger);

  const lines = [
    '',
    `tenant-app is serving GraphQL at ${running.url} (${running.database})`,
    ...(running.telemetry ? [running.telemetry] : []),
    ...(env.GRAPHIQL ?? env.NODE_ENV !== 'production' ? [`GraphiQL: open ${running.url} in a browser`] : []),
  ];
  for (const credential of running.credentials) {
    lines.push(
      '',
      `# ${credential.name} (${credential.slug}, ${credential.strategy}), as ${credential.email} (${credential.role})`,
      `curl -s ${running.url} -H 'content-type: application/json' -H 'x-tenant-id: ${credential.slug}' ` +
        `-H 'authorization: Bearer ${credential.apiKey}' -d '${demoQuery}'`,
    );
  }
  if (running.platformKey) {
    lines.push(
      '',
      '# Platform API (operators: tenants, pool figures)',
      `curl -s ${running.url.replace(/\/graphql$/, '/platform/graphql')} -H 'content-type: application/json' ` +
        `-H 'authorization: Bearer ${running.platformKey}' ` +
        `-d '{"query":"{ tenants { slug strategy tier status } poolStats { hosts { host budget open } } }"}'`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await running.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
