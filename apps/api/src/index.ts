export { createApi, type Api, type ApiOptions } from './yoga.ts';
export type { JwtOptions } from './jwt-verifier.ts';
export { loadEnv, InvalidEnvironmentError, ENVIRONMENT_VARIABLES, type Env } from './env.ts';
export { createLogger } from './logger.ts';
export { startServer, type RunningServer } from './server.ts';
export { startTelemetry, type Telemetry } from './telemetry.ts';
