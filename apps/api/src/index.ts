export { createApi, type Api, type ApiOptions } from './yoga.ts';
export { loadEnv, InvalidEnvironmentError, ENVIRONMENT_VARIABLES, type Env } from './env.ts';
export { createLogger } from './logger.ts';
export { startServer, type RunningServer } from './server.ts';
