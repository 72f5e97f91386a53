import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { sql } from 'kysely';
import type { ProjectRow } from '@tenant-app/db';
import { builder } from '../builder.ts';
import { databaseId, pageSize, text } from '../arguments.ts';
import { errors } from '../errors.ts';
import { anyId, defineLoader, oneByKey, loadNodes } from '../loaders.ts';

export const projectById = defineLoader<string, ProjectRow | null>(async (db, ids) =>
  oneByKey(ids, await db.selectFrom('projects').selectAll().where('id', '=', anyId(ids)).execute(), (row) => row.id),
);

export const ProjectRef = builder.node(builder.objectRef<ProjectRow>('Project'), {
  id: { resolve: (project) => project.id },
  loadMany: (ids, ctx) => loadNodes(projectById(ctx), ids),
  fields: (t) => ({
    name: t.exposeString('name'),
    createdAt: t.string({ resolve: (project) => project.created_at.toISOString() }),
  }),
});

// Keyset cursor: (created_at, id) matches the index, so page N costs what page 1 costs. It carries
// created_at as Postgres prints it, to the microsecond: a JavaScript Date keeps milliseconds only,
// and a rounded cursor sorts before its own row, so the next page would repeat this one.
type PagedProject = ProjectRow & { cursor_at: string };
const cursorOf = (project: PagedProject) => Buffer.from(`${project.cursor_at}|${project.id}`).toString('base64url');
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function parseCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt = '', id] = Buffer.from(cursor, 'base64url').toString().split('|');
  // Only the form cursorOf writes, of a real date: a forged cursor is a client error, not a database one.
  const milliseconds = `${createdAt.slice(0, 23)}Z`;
  const date = new Date(milliseconds);
  if (!id || !CURSOR_TIME.test(createdAt) || Number.isNaN(date.getTime()) || date.toISOString() !== milliseconds) {
    throw errors.badInput('after is not a cursor of this connection');
  }
  return { createdAt, id: databaseId({ id, typename: 'Project' }) };
}

builder.queryFields((t) => ({
  projects: t.connection({
    type: ProjectRef,
    args: {},
    resolve: (_root, args, ctx) => {
      pageSize('first', args.first, 20, 100);
      if (args.last != null || args.before != null) throw errors.badInput('projects pages forward only: use first and after');
      return resolveCursorConnection(
        { args: { ...args, first: args.first ?? 20 }, toCursor: cursorOf, defaultSize: 20, maxSize: 100 },
        async ({ after, limit }: ResolveCursorConnectionArgs) => {
          let query = ctx.db
            .selectFrom('projects')
            .selectAll()
            .select(sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursor_at'))
            .orderBy('created_at')
            .orderBy('id')
            .limit(limit);
          if (after) {
            const position = parseCursor(after);
            const createdAt = sql<Date>`${position.createdAt}::timestamptz`;
            query = query.where((eb) =>
              eb.or([
                eb('created_at', '>', createdAt),
                eb.and([eb('created_at', '=', createdAt), eb('id', '>', position.id)]),
              ]),
            );
          }
          return query.execute();
        },
      );
    },
  }),
  project: t.field({
    type: ProjectRef,
    nullable: true,
    args: { id: t.arg.globalID({ required: true, for: ProjectRef }) },
    resolve: (_root, args, ctx) => projectById(ctx).load(databaseId(args.id)),
  }),
}));

builder.mutationFields((t) => ({
  createProject: t.field({
    type: ProjectRef,
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) =>
      ctx.db
        .insertInto('projects')
        .values({ tenant_id: ctx.tenant.id, name: text('name', args.name, 200) })
        .returningAll()
        .executeTakeFirstOrThrow(),
  }),
}));
