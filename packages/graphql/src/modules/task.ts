import type { TaskRow, TaskStatus } from '@tenant-app/db';
import { builder } from '../builder.ts';
import { databaseId, pageSize, text } from '../arguments.ts';
import { errors } from '../errors.ts';
import { anyId, defineLoader, firstChildrenOf, oneByKey, loadNodes } from '../loaders.ts';
import { ProjectRef, projectById } from './project.ts';
import { UserRef, userById } from './user.ts';

export const taskById = defineLoader<string, TaskRow | null>(async (db, ids) =>
  oneByKey(ids, await db.selectFrom('tasks').selectAll().where('id', '=', anyId(ids)).execute(), (row) => row.id),
);

const firstTasksOfProject = firstChildrenOf('tasks', 'project_id');

const taskCountOfProject = defineLoader<string, number>(async (db, projectIds) => {
  const rows = await db
    .selectFrom('tasks')
    .select(['project_id', (eb) => eb.fn.countAll<string>().as('count')])
    .where('project_id', '=', anyId(projectIds))
    .groupBy('project_id')
    .execute();
  const counts = new Map(rows.map((row) => [row.project_id, Number(row.count)]));
  return projectIds.map((id) => counts.get(id) ?? 0);
});

const TaskStatusEnum = builder.enumType('TaskStatus', {
  values: ['TODO', 'IN_PROGRESS', 'DONE'] as const satisfies readonly TaskStatus[],
});

export const TaskRef = builder.node(builder.objectRef<TaskRow>('Task'), {
  id: { resolve: (task) => task.id },
  loadMany: (ids, ctx) => loadNodes(taskById(ctx), ids),
  fields: (t) => ({
    title: t.exposeString('title'),
    status: t.field({ type: TaskStatusEnum, resolve: (task) => task.status }),
    createdAt: t.string({ resolve: (task) => task.created_at.toISOString() }),
    updatedAt: t.string({ resolve: (task) => task.updated_at.toISOString() }),
    project: t.field({
      type: ProjectRef,
      resolve: async (task, _args, ctx) => {
        const project = await projectById(ctx).load(task.project_id);
        if (!project) throw errors.notFound('project');
        return project;
      },
    }),
    assignee: t.field({
      type: UserRef,
      nullable: true,
      resolve: (task, _args, ctx) => (task.assignee_id ? userById(ctx).load(task.assignee_id) : null),
    }),
  }),
});

builder.objectFields(ProjectRef, (t) => ({
  tasks: t.field({
    type: [TaskRef],
    args: { first: t.arg.int({ defaultValue: 50 }) },
    resolve: (project, args, ctx) => {
      return firstTasksOfProject(ctx, pageSize('first', args.first, 50, 100)).load(project.id);
    },
  }),
  taskCount: t.int({ resolve: (project, _args, ctx) => taskCountOfProject(ctx).load(project.id) }),
}));

builder.queryFields((t) => ({
  task: t.field({
    type: TaskRef,
    nullable: true,
    args: { id: t.arg.globalID({ required: true, for: TaskRef }) },
    resolve: (_root, args, ctx) => taskById(ctx).load(databaseId(args.id)),
  }),
}));

async function visibleAssignee(ctx: Parameters<typeof userById>[0], globalId: { id: string; typename: string } | null | undefined) {
  if (!globalId) return null;
  const user = await userById(ctx).load(databaseId(globalId));
  if (!user) throw errors.notFound('assignee');
  return user.id;
}

builder.mutationFields((t) => ({
  createTask: t.field({
    type: TaskRef,
    args: {
      projectId: t.arg.globalID({ required: true, for: ProjectRef }),
      title: t.arg.string({ required: true }),
      assigneeId: t.arg.globalID({ for: UserRef }),
    },
    resolve: async (_root, args, ctx) => {
      const title = text('title', args.title, 500);
      const [project, assigneeId] = await Promise.all([
        projectById(ctx).load(databaseId(args.projectId)),
        visibleAssignee(ctx, args.assigneeId),
      ]);
      if (!project) throw errors.notFound('project');
      return ctx.db
        .insertInto('tasks')
        .values({ tenant_id: ctx.tenant.id, project_id: project.id, title, assignee_id: assigneeId })
        .returningAll()
        .executeTakeFirstOrThrow();
    },
  }),
  updateTask: t.field({
    type: TaskRef,
    args: {
      id: t.arg.globalID({ required: true, for: TaskRef }),
      title: t.arg.string(),
      status: t.arg({ type: TaskStatusEnum }),
    },
    resolve: async (_root, args, ctx) => {
      const patch = {
        ...(args.title != null ? { title: text('title', args.title, 500) } : {}),
        ...(args.status != null ? { status: args.status } : {}),
      };
      const task = await ctx.db
        .updateTable('tasks')
        .set({ ...patch, updated_at: new Date() })
        .where('id', '=', databaseId(args.id))
        .returningAll()
        .executeTakeFirst();
      if (!task) throw errors.notFound('task');
      return task;
    },
  }),
  assignTask: t.field({
    type: TaskRef,
    args: {
      taskId: t.arg.globalID({ required: true, for: TaskRef }),
      userId: t.arg.globalID({ for: UserRef }),
    },
    resolve: async (_root, args, ctx) => {
      const assigneeId = await visibleAssignee(ctx, args.userId);
      const task = await ctx.db
        .updateTable('tasks')
        .set({ assignee_id: assigneeId, updated_at: new Date() })
        .where('id', '=', databaseId(args.taskId))
        .returningAll()
        .executeTakeFirst();
      if (!task) throw errors.notFound('task');
      return task;
    },
  }),
}));
