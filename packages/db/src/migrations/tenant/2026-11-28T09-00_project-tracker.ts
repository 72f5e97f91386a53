import { type Kysely, sql } from 'kysely';
import { ACCESS_ROLE, TENANT_SETTING } from '../../roles.ts';

const tenantTables = ['users', 'projects', 'tasks', 'comments'] as const;

/**
 * The project tracker's tables. Tenant migrations name no schema: the runner sets `search_path`
 * to the target, so the same file builds the shared schema and, later, a tenant's own schema or
 * database.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const access = sql.id(ACCESS_ROLE);
  // The sub-select makes Postgres evaluate the setting once per statement, not once per row;
  // `nullif` maps the '' that a used-then-ended setting leaves behind to NULL, so it matches nothing.
  const currentTenant = sql`(select nullif(current_setting(${sql.lit(TENANT_SETTING)}, true), '')::uuid)`;
  const statements = [
    sql`create table users (
          tenant_id uuid not null,
          id uuid not null,
          email text not null,
          name text not null,
          created_at timestamptz not null default now(),
          primary key (tenant_id, id),
          unique (tenant_id, email)
        )`,
    sql`create table projects (
          tenant_id uuid not null,
          id uuid not null default gen_random_uuid(),
          name text not null check (length(name) between 1 and 200),
          created_at timestamptz not null default now(),
          primary key (tenant_id, id)
        )`,
    sql`create index projects_by_age on projects (tenant_id, created_at, id)`,
    sql`create table tasks (
          tenant_id uuid not null,
          id uuid not null default gen_random_uuid(),
          project_id uuid not null,
          title text not null check (length(title) between 1 and 500),
          status text not null default 'TODO' check (status in ('TODO', 'IN_PROGRESS', 'DONE')),
          assignee_id uuid,
          created_at timestamptz not null default now(),
          updated_at timestamptz not null default now(),
          primary key (tenant_id, id),
          foreign key (tenant_id, project_id) references projects on delete cascade,
          foreign key (tenant_id, assignee_id) references users on delete set null (assignee_id)
        )`,
    sql`create index tasks_by_project on tasks (tenant_id, project_id, created_at, id)`,
    sql`create index tasks_by_assignee on tasks (tenant_id, assignee_id)`,
    sql`create table comments (
          tenant_id uuid not null,
          id uuid not null default gen_random_uuid(),
          task_id uuid not null,
          author_id uuid not null,
          body text not null check (length(body) between 1 and 10000),
          created_at timestamptz not null default now(),
          primary key (tenant_id, id),
          foreign key (tenant_id, task_id) references tasks on delete cascade,
          foreign key (tenant_id, author_id) references users
        )`,
    sql`create index comments_by_task on comments (tenant_id, task_id, created_at, id)`,
    sql`create index comments_by_author on comments (tenant_id, author_id)`,
  ];
  for (const table of tenantTables) {
    const name = sql.id(table);
    statements.push(
      sql`alter table ${name} enable row level security`,
      sql`alter table ${name} force row level security`,
      sql`create policy tenant_isolation on ${name}
            using (tenant_id = ${currentTenant})
            with check (tenant_id = ${currentTenant})`,
    );
  }
  // Grants come after the policies and name their columns: requests can write only what a resolver
  // needs, and can never change a row's tenant_id or id.
  statements.push(
    sql`grant select on users to ${access}`,
    sql`grant select, delete on projects to ${access}`,
    sql`grant insert (tenant_id, name), update (name) on projects to ${access}`,
    sql`grant select, delete on tasks to ${access}`,
    sql`grant insert (tenant_id, project_id, title, status, assignee_id),
          update (title, status, assignee_id, updated_at) on tasks to ${access}`,
    sql`grant select, delete on comments to ${access}`,
    sql`grant insert (tenant_id, task_id, author_id, body) on comments to ${access}`,
  );
  for (const statement of statements) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [...tenantTables].reverse()) {
    await sql`drop table ${sql.id(table)}`.execute(db);
  }
}
