import {
  DEFAULT_TENANT_STRATEGY,
  pendingControlMigrations,
  ProvisioningFailedError,
  TENANT_SLUG_PATTERN,
  TenantProvisioner,
  TIERS,
  type TenantStrategy,
  type Tier,
} from '@tenant-app/db';
import type { Env } from '../env.ts';
import type { AppPostgres } from '../postgres.ts';
import { CliFailure, EXIT, parseCommandLine, print, runCli, UsageError } from './cli.ts';

const HELP_COMMAND = 'npm run tenants -- --help';
const HELP = `Usage: npm run tenants -- <command> [options]

  create <slug> --name <name> --admin-email <email> [--strategy shared|schema|database]
         [--admin-name <name>] [--tier free|standard|enterprise] [--host <name>] [--own-role]
      Creates the tenant with its schema, database or role and its tables, makes <email> its
      admin, and prints the admin's API key (shown once). --strategy defaults to ${DEFAULT_TENANT_STRATEGY}
      (packages/db/src/default-strategy.ts). --host picks the Postgres host of a
      database tenant (default main); --own-role runs a shared tenant's transactions as its own role.
  list                            Lists the tenants: slug, strategy, tier, status.
  suspend <slug>                  Refuses the tenant's requests (within TENANT_CACHE_TTL_MS).
  resume <slug>                   Serves a suspended tenant again.
  delete <slug> --confirm <slug>  Deletes the tenant and all of its data, for good.

Postgres: DATABASE_URL (the owner login), or else the embedded server of DATA_DIR. DATABASE_HOSTS
names the other hosts of database tenants: {"eu": "postgres://owner:…@eu-db/postgres"}.
Exit codes: 0 done, 1 failed, 2 bad command line or environment (nothing done).`;

const STRATEGIES: readonly TenantStrategy[] = ['shared', 'schema', 'database'];
const TIER_NAMES = Object.keys(TIERS) as Tier[];
const EMAIL = /^[^@\s]+@[^@\s]+$/;

type Connect = () => Promise<AppPostgres>;

const commands: Record<string, (args: string[], env: Env, connect: Connect) => Promise<number>> = {
  async create(args, _env, connect) {
    const { values, positionals } = parseCommandLine(
      {
        args,
        allowPositionals: true,
        options: {
          name: { type: 'string' },
          strategy: { type: 'string', default: DEFAULT_TENANT_STRATEGY },
          'admin-email': { type: 'string' },
          'admin-name': { type: 'string' },
          tier: { type: 'string', default: 'free' },
          host: { type: 'string' },
          'own-role': { type: 'boolean', default: false },
        },
      },
      HELP_COMMAND,
    );
    const slug = slugOf('create', positionals);
    const name = required(values.name, '--name', 'the tenant\'s display name, such as --name "Acme Corporation"');
    if (name.length > 200) throw new UsageError(`--name is ${name.length} characters long: use at most 200`);
    const strategy = oneOf(values.strategy, STRATEGIES, 'strategy');
    const tier = oneOf(values.tier, TIER_NAMES, 'tier');
    const adminEmail = required(values['admin-email'], '--admin-email', "the e-mail of the tenant's first admin");
    if (!EMAIL.test(adminEmail)) throw new UsageError(`--admin-email "${adminEmail}" is not an e-mail address: use one such as ada@example.com`);
    if (values.host !== undefined && strategy !== 'database') {
      throw new UsageError(`--host places a database tenant on a Postgres host: drop it, or add --strategy database`);
    }
    return withProvisioner(connect, async (provisioner) => {
      const tenant = await provisioner
        .createTenant({
          slug,
          name,
          strategy,
          tier,
          ownRole: values['own-role'],
          ...(values.host === undefined ? {} : { host: values.host }),
        })
        .catch(async (error: unknown) => {
          if (error instanceof ProvisioningFailedError && (await provisioner.findTenant(slug))?.status === 'failed') {
            throw new CliFailure(
              `${error.message}\n${slug} is marked failed: once the cause is fixed, the same command resumes it; or delete it.`,
            );
          }
          throw error;
        });
      const admin = { email: adminEmail, name: values['admin-name'] ?? adminEmail.split('@')[0]!, role: 'admin' as const };
      const { userId } = await provisioner.addMember(tenant, admin);
      const apiKey = await provisioner.issueApiKey({ tenantId: tenant.id, userId, role: 'admin' });
      print(
        `created ${tenant.slug} (${strategyLabel(tenant)}, tier ${tenant.tier}) with admin ${admin.email}`,
        `API key of ${admin.email}, shown this once (only its hash is kept):`,
        apiKey,
      );
      return EXIT.ok;
    });
  },

  async list(args, _env, connect) {
    parseCommandLine({ args, options: {} }, HELP_COMMAND);
    return withProvisioner(connect, async (provisioner) => {
      const tenants = await provisioner.listTenants();
      if (tenants.length === 0) {
        print('no tenants yet: npm run tenants -- create <slug> … creates one');
        return EXIT.ok;
      }
      const rows = tenants.map((tenant) => [tenant.slug, strategyLabel(tenant), tenant.tier, tenant.status]);
      print(...table(['SLUG', 'STRATEGY', 'TIER', 'STATUS'], rows));
      return EXIT.ok;
    });
  },

  suspend: (args, env, connect) => changeStatus('suspend', args, env, connect),
  resume: (args, env, connect) => changeStatus('resume', args, env, connect),

  async delete(args, _env, connect) {
    const { values, positionals } = parseCommandLine(
      { args, allowPositionals: true, options: { confirm: { type: 'string' } } },
      HELP_COMMAND,
    );
    const slug = slugOf('delete', positionals);
    if (values.confirm !== slug) {
      throw new UsageError(
        `refusing to delete ${slug} without --confirm ${slug}: deleting drops its schema or database and all of its data, for good`,
      );
    }
    return withProvisioner(connect, async (provisioner) => {
      const deleted = await provisioner.deleteTenant(slug);
      print(deleted ? `deleted ${slug} and all of its data` : `no tenant ${slug}: nothing to delete`);
      return EXIT.ok;
    });
  },
};

async function changeStatus(verb: 'suspend' | 'resume', args: string[], env: Env, connect: Connect): Promise<number> {
  const { positionals } = parseCommandLine({ args, allowPositionals: true, options: {} }, HELP_COMMAND);
  const slug = slugOf(verb, positionals);
  const [from, to] = verb === 'suspend' ? (['active', 'suspended'] as const) : (['suspended', 'active'] as const);
  return withProvisioner(connect, async (provisioner) => {
    const tenant = await provisioner.findTenant(slug);
    if (!tenant) throw new CliFailure(`no tenant ${slug}: npm run tenants -- list shows the tenants`);
    if (tenant.status === to) {
      print(`${slug} is already ${to}`);
      return EXIT.ok;
    }
    if (tenant.status !== from) {
      throw new CliFailure(
        `${slug} is ${tenant.status}, not ${from}: its provisioning did not complete; ` +
          `create it again with the same slug to finish it, or delete it`,
      );
    }
    await provisioner.setStatus(tenant.id, to);
    const delay = env.TENANT_CACHE_TTL_MS > 0 ? ` within ${env.TENANT_CACHE_TTL_MS} ms (TENANT_CACHE_TTL_MS)` : '';
    print(to === 'suspended' ? `suspended ${slug}: its requests are refused${delay}` : `resumed ${slug}: its requests are served${delay}`);
    return EXIT.ok;
  });
}

/** A provisioner on the app's Postgres, refused when the control plane is older than this code. */
async function withProvisioner(connect: Connect, work: (provisioner: TenantProvisioner) => Promise<number>): Promise<number> {
  const postgres = await connect();
  const pending = await pendingControlMigrations(postgres.ownerUrl);
  if (pending.length > 0) {
    throw new CliFailure(
      `the control plane lacks ${pending.length} migration(s) of this version (${pending.join(', ')}): run npm run migrate first`,
    );
  }
  const provisioner = new TenantProvisioner({ ownerUrl: postgres.ownerUrl, hosts: postgres.hosts });
  try {
    return await work(provisioner);
  } finally {
    await provisioner.close();
  }
}

function slugOf(command: string, positionals: string[]): string {
  const [slug, ...extra] = positionals;
  if (slug === undefined) throw new UsageError(`${command} needs the tenant's slug: npm run tenants -- ${command} <slug>`);
  if (extra.length > 0) throw new UsageError(`${command} takes one slug, but got: ${positionals.join(' ')}`);
  if (!TENANT_SLUG_PATTERN.test(slug)) {
    throw new UsageError(
      `bad slug "${slug}": use 3 to 40 lower-case letters, digits and dashes, starting with a letter ` +
        `and ending with a letter or digit, such as acme or acme-eu`,
    );
  }
  return slug;
}

function required(value: string | undefined, option: string, what: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${option} is required: ${what}`);
  return value.trim();
}

function oneOf<T extends string>(value: string, allowed: readonly T[], option: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`unknown ${option} "${value}": use --${option} ${alternatives(allowed)}`);
  }
  return value as T;
}

/** A schema tenant always has its own role, so only another strategy's is worth saying. */
function strategyLabel(tenant: { strategy: TenantStrategy; ownRole: boolean }): string {
  return tenant.ownRole && tenant.strategy !== 'schema' ? `${tenant.strategy} + own role` : tenant.strategy;
}

function alternatives(names: readonly string[]): string {
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names.join('');
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
}

await runCli(async (env, connect) => {
  const [command, ...args] = process.argv.slice(2);
  if (command === '--help' || command === '-h' || command === 'help') {
    print(HELP);
    return EXIT.ok;
  }
  if (command === undefined) throw new UsageError(`a command is required\n\n${HELP}`);
  const run = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (!run) {
    throw new UsageError(
      `unknown command "${command}": use ${alternatives(Object.keys(commands))} (npm run tenants -- --help tells more)`,
    );
  }
  return run(args, env, connect);
});
