import type { UserRow } from '@tenant-app/db';
import { builder } from '../builder.ts';
import { anyId, defineLoader, oneByKey, loadNodes } from '../loaders.ts';

export const userById = defineLoader<string, UserRow | null>(async (db, ids) =>
  oneByKey(ids, await db.selectFrom('users').selectAll().where('id', '=', anyId(ids)).execute(), (row) => row.id),
);

export const UserRef = builder.node(builder.objectRef<UserRow>('User'), {
  id: { resolve: (user) => user.id },
  loadMany: (ids, ctx) => loadNodes(userById(ctx), ids),
  fields: (t) => ({
    email: t.exposeString('email'),
    name: t.exposeString('name'),
  }),
});
