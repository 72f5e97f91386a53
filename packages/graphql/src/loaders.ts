import DataLoader from 'dataloader';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { CommentRow, TaskRow } from '@tenant-app/db';
import type { GraphQLContext } from './context.ts';
import { isUuid } from './arguments.ts';

type Batch<K, V, P> = (db: GraphQLContext['db'], keys: readonly K[], parameter: P) => Promise<V[]>;

/**
 * Declares a DataLoader whose instances live and die with one request's context, so batches and
 * caches never cross requests or tenants. A loader with a parameter (`P`, a page size say) gets
 * one DataLoader per parameter value, and its batch function is given that value.
 */
export function defineLoader<K, V, P = undefined>(batch: Batch<K, V, P>) {
  const byContext = new WeakMap<GraphQLContext, Map<P, DataLoader<K, V>>>();
  return (ctx: GraphQLContext, ...[parameter]: P extends undefined ? [] : [P]): DataLoader<K, V> => {
    let loaders = byContext.get(ctx);
    if (!loaders) byContext.set(ctx, (loaders = new Map()));
    let loader = loaders.get(parameter as P);
    if (!loader) loaders.set(parameter as P, (loader = new DataLoader((keys) => batch(ctx.db, keys, parameter as P))));
    return loader;
  };
}

/** Orders rows to match the keys DataLoader asked for; a key without a row gets null. */
export function oneByKey<K, R>(keys: readonly K[], rows: readonly R[], keyOf: (row: R) => K): (R | null)[] {
  const found = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => found.get(key) ?? null);
}

/** Groups rows under the keys DataLoader asked for; a key without rows gets []. */
export function manyByKey<K, R>(keys: readonly K[], rows: readonly R[], keyOf: (row: R) => K): R[][] {
  const groups = new Map<K, R[]>(keys.map((key) => [key, []]));
  for (const row of rows) groups.get(keyOf(row))?.push(row);
  return keys.map((key) => groups.get(key)!);
}

/** The tables read a page per parent, with the column that names the parent. */
interface PagedChildren {
  tasks: { parent: 'project_id'; row: TaskRow };
  comments: { parent: 'task_id'; row: CommentRow };
}

/**
 * A loader of the first `limit` rows of `table` under each of many parents, in creation order, in
 * one statement: a parent with thousands of children reads `limit`. One loader per page size.
 */
export function firstChildrenOf<T extends keyof PagedChildren>(table: T, parent: PagedChildren[T]['parent']) {
  type Row = PagedChildren[T]['row'];
  return defineLoader<string, Row[], number>(async (db, parentIds, limit) => {
    // Kysely types a query by a table named literally; here the table is a type parameter, so the
    // query is built untyped and its rows are `table`'s. `parent` is one of PagedChildren's column
    // names, never input, so it is written into the window clause as it is.
    const rows = (await (db as unknown as Kysely<Record<string, Record<string, unknown>>>)
      .selectFrom((eb) =>
        eb
          .selectFrom(table)
          .selectAll()
          .select(sql<number>`row_number() over (partition by ${sql.raw(parent)} order by created_at, id)`.as('position'))
          .where(sql.ref(parent), '=', anyId(parentIds))
          .as('ranked'),
      )
      .selectAll()
      .where('position', '<=', limit)
      .orderBy('position')
      .execute()) as unknown as Row[];
    return manyByKey(parentIds, rows, (row) => (row as Record<string, unknown>)[parent] as string);
  });
}

/** Nodes for the relay `node`/`nodes` queries: an id that is not a UUID is simply not found. */
export function loadNodes<V>(loader: DataLoader<string, V | null>, ids: readonly string[]): Promise<V | null>[] {
  return ids.map((id) => (isUuid(id) ? loader.load(id.toLowerCase()) : Promise.resolve(null)));
}

/**
 * `= any($1::uuid[])` instead of `in ($1, $2, …)`: one parameter whatever the batch size, so a
 * batch of 2 and a batch of 200 are the same statement to Postgres (one plan, one text).
 */
export function anyId(ids: readonly string[]): RawBuilder<string> {
  return sql<string>`any(${[...ids]}::uuid[])`;
}
