/** What the global setup hands to every test file (through vitest's provide/inject). */
declare module 'vitest' {
  export interface ProvidedContext {
    postgresSuperuserUrl: string;
    /** The data folder of the test cluster, for tests of the embedded server itself. */
    postgresDataDir: string;
  }
}

/** The migrated database each test file clones its own from. */
export const TEMPLATE_DATABASE = 'tenant_app_template';
