import { RUNTIME_ROLE } from './roles.ts';

/** A migration of one target (the control plane, the shared schema, a tenant) failed. */
export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError';
  readonly code = 'MIGRATION_FAILED';

  constructor(
    readonly target: string,
    readonly migration: string | undefined,
    cause: unknown,
  ) {
    super(
      `migration ${migration ?? '(setup)'} of ${target} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** The runtime login could bypass Row-Level Security or lacks its grants; the API refuses it. */
export class UnsafeRuntimeRoleError extends Error {
  override readonly name = 'UnsafeRuntimeRoleError';
  readonly code = 'UNSAFE_RUNTIME_ROLE';

  constructor(
    readonly role: string,
    readonly reasons: string[],
    /** What to do about it, one sentence per kind of reason. */
    readonly fixes: string[],
  ) {
    super(`the runtime login "${role}" is not safe to serve tenants with: it ${reasons.join(', and it ')}. ${fixes.join(' ')}`);
  }
}

/** A tenant could not be provisioned; it is left `failed` and provisioning it again resumes it. */
export class ProvisioningFailedError extends Error {
  override readonly name = 'ProvisioningFailedError';
  readonly code = 'PROVISIONING_FAILED';

  constructor(
    readonly tenant: string,
    reason: string,
    cause?: unknown,
  ) {
    super(`provisioning tenant ${tenant} failed: ${reason}`, { cause });
  }
}

/** A tenant names a Postgres host that is not in the host map the caller was given. */
export class UnknownHostError extends Error {
  override readonly name = 'UnknownHostError';
  readonly code = 'UNKNOWN_HOST';

  constructor(
    readonly host: string,
    readonly known: string[],
  ) {
    super(`no Postgres host named "${host}" (known: ${known.join(', ')}): add its owner URL to the host map`);
  }
}

/** The main database has no tenant binding key: its migrations have not run (`npm run migrate`). */
export class MissingBindingKeyError extends Error {
  override readonly name = 'MissingBindingKeyError';
  readonly code = 'MISSING_BINDING_KEY';

  constructor() {
    super('the database has no tenant binding key: run its migrations first (npm run migrate)');
  }
}

/** The main database has no key to derive tenant login passwords with: its migrations have not run. */
export class MissingLoginKeyError extends Error {
  override readonly name = 'MissingLoginKeyError';
  readonly code = 'MISSING_LOGIN_KEY';

  constructor() {
    super('the database has no tenant login key: run its migrations first (npm run migrate)');
  }
}

/**
 * Postgres' clock and ours are too far apart for tenant binding tokens, whose expiry Postgres
 * checks: every binding would fail closed (no rows) or live longer than it should.
 */
export class ClockSkewError extends Error {
  override readonly name = 'ClockSkewError';
  readonly code = 'CLOCK_SKEW';

  constructor(
    readonly skewSeconds: number,
    readonly limitSeconds: number,
  ) {
    super(
      `the database clock is ${skewSeconds.toFixed(1)} s ${skewSeconds > 0 ? 'ahead of' : 'behind'} this host's; ` +
        `tenant bindings need them within ${limitSeconds} s: synchronise the clocks (NTP)`,
    );
  }
}
