import type { CommentRow } from '@tenant-app/db';
import { builder } from '../builder.ts';
import { databaseId, pageSize, text } from '../arguments.ts';
import { errors } from '../errors.ts';
import { anyId, defineLoader, firstChildrenOf, loadNodes, oneByKey } from '../loaders.ts';
import { TaskRef, taskById } from './task.ts';
import { UserRef, userById } from './user.ts';

const firstCommentsOfTask = firstChildrenOf('comments', 'task_id');

const commentById = defineLoader<string, CommentRow | null>(async (db, ids) =>
  oneByKey(ids, await db.selectFrom('comments').selectAll().where('id', '=', anyId(ids)).execute(), (row) => row.id),
);

const CommentRef = builder.node(builder.objectRef<CommentRow>('Comment'), {
  id: { resolve: (comment) => comment.id },
  loadMany: (ids, ctx) => loadNodes(commentById(ctx), ids),
  fields: (t) => ({
    body: t.exposeString('body'),
    createdAt: t.string({ resolve: (comment) => comment.created_at.toISOString() }),
    author: t.field({
      type: UserRef,
      resolve: async (comment, _args, ctx) => {
        const author = await userById(ctx).load(comment.author_id);
        if (!author) throw errors.notFound('author');
        return author;
      },
    }),
  }),
});

builder.objectFields(TaskRef, (t) => ({
  comments: t.field({
    type: [CommentRef],
    args: { first: t.arg.int({ defaultValue: 50 }) },
    resolve: async (task, args, ctx) => {
      return firstCommentsOfTask(ctx, pageSize('first', args.first, 50, 100)).load(task.id);
    },
  }),
}));

builder.mutationFields((t) => ({
  addComment: t.field({
    type: CommentRef,
    args: {
      taskId: t.arg.globalID({ required: true, for: TaskRef }),
      body: t.arg.string({ required: true }),
    },
    resolve: async (_root, args, ctx) => {
      const body = text('body', args.body, 10_000);
      const task = await taskById(ctx).load(databaseId(args.taskId));
      if (!task) throw errors.notFound('task');
      return ctx.db
        .insertInto('comments')
        .values({ tenant_id: ctx.tenant.id, task_id: task.id, author_id: ctx.viewer.userId, body })
        .returningAll()
        .executeTakeFirstOrThrow();
    },
  }),
}));
