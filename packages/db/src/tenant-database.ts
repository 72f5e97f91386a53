import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

export type TaskStatus = 'TODO' | 'IN_PROGRESS' | 'DONE';

type CreatedAt = ColumnType<Date, never, never>;

/**
 * Every tenant table leads with `tenant_id`: in its primary key, its indexes and its foreign keys.
 * Rows can therefore never reference another tenant's rows, RLS predicates stay index-friendly,
 * and a tenant can move between strategies (shared, schema, database) unchanged.
 */
export interface UsersTable {
  tenant_id: string;
  id: string;
  email: string;
  name: string;
  created_at: CreatedAt;
}

export interface ProjectsTable {
  tenant_id: string;
  id: Generated<string>;
  name: string;
  created_at: CreatedAt;
}

export interface TasksTable {
  tenant_id: string;
  id: Generated<string>;
  project_id: string;
  title: string;
  status: Generated<TaskStatus>;
  assignee_id: string | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, never, Date>;
}

export interface CommentsTable {
  tenant_id: string;
  id: Generated<string>;
  task_id: string;
  author_id: string;
  body: string;
  created_at: CreatedAt;
}

/** The tables a request sees through `ctx.db`, whatever the tenant's strategy. */
export interface TenantDatabase {
  users: UsersTable;
  projects: ProjectsTable;
  tasks: TasksTable;
  comments: CommentsTable;
}

export type UserRow = Selectable<UsersTable>;
export type ProjectRow = Selectable<ProjectsTable>;
export type TaskRow = Selectable<TasksTable>;
export type CommentRow = Selectable<CommentsTable>;
export type NewTask = Insertable<TasksTable>;
export type TaskPatch = Updateable<TasksTable>;
