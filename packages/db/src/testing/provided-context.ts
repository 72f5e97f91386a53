/** What the global setup hands to every test file (through vitest's provide/inject). */
declare module 'vitest' {
  export interface ProvidedContext {
    postgresSuperuserUrl: string;
  }
}

/** The migrated database each test file clones its own from. */
export const TEMPLATE_DATABASE = 'tenant_app_template';
