/**
 * The GraphQL operations of the load mix, shared by the k6 scripts and the Node runner (no Node or
 * k6 API here). Bodies are built once per tenant and operation where they can be, since a load
 * generator that serializes JSON per request measures itself.
 */
import type { OperationName } from './profile.ts';

/** `projects → tasks → assignee, comments → author`: one statement per level, whatever the list sizes. */
export const NESTED_READ = `query NestedRead {
  projects(first: 10) {
    edges { node { name taskCount tasks(first: 10) { title status assignee { name } comments(first: 5) { body author { name } } } } }
  }
}`;

/** The first page of projects, as a list view shows it. */
export const LIST = `query ListProjects {
  projects(first: 20) { edges { cursor node { id name createdAt } } pageInfo { hasNextPage endCursor } }
}`;

/** A write that keeps the data the same size from run to run: a task's status moves on. */
const MUTATION = `mutation UpdateTask($id: ID!, $status: TaskStatus!) {
  updateTask(id: $id, status: $status) { id status updatedAt }
}`;

const STATUSES = ['TODO', 'IN_PROGRESS', 'DONE'] as const;

export const OPERATION_NAMES: readonly OperationName[] = ['nestedRead', 'list', 'mutation'];

/** A tenant as the load generators see it: who to be, and what a mutation may touch. */
export interface LoadTenant {
  slug: string;
  strategy: string;
  apiKey: string;
  /** Relay ids of a few of the tenant's tasks. */
  taskIds: string[];
}

/**
 * The JSON body of one request. Reads have one body per operation; a mutation picks one of the
 * tenant's tasks and a status from `random` (a number in [0, 1)).
 */
export function requestBody(operation: OperationName, tenant: LoadTenant, random: number): string {
  switch (operation) {
    case 'nestedRead':
      return NESTED_READ_BODY;
    case 'list':
      return LIST_BODY;
    case 'mutation': {
      const slot = Math.floor(random * tenant.taskIds.length * STATUSES.length);
      const id = tenant.taskIds[slot % tenant.taskIds.length];
      if (id === undefined) throw new Error(`tenant ${tenant.slug} has no tasks for the mutation: seed it with tasks`);
      const status = STATUSES[Math.floor(slot / tenant.taskIds.length) % STATUSES.length];
      return JSON.stringify({ query: MUTATION, variables: { id, status } });
    }
  }
}

const NESTED_READ_BODY = JSON.stringify({ query: NESTED_READ });
const LIST_BODY = JSON.stringify({ query: LIST });

/** Request headers of a tenant's admin. */
export function tenantHeaders(tenant: LoadTenant): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-tenant-id': tenant.slug,
    authorization: `Bearer ${tenant.apiKey}`,
  };
}

/**
 * What went wrong with a response, as a code: the first GraphQL error's `extensions.code`, else
 * `HTTP_<status>`; undefined for a success. The body is parsed only when it can hold an error.
 */
export function errorCodeOf(status: number, body: string): string | undefined {
  if (status === 200 && !body.includes('"errors"')) return undefined;
  try {
    const parsed = JSON.parse(body) as { errors?: { extensions?: { code?: unknown } }[] };
    const code = parsed.errors?.[0]?.extensions?.code;
    if (typeof code === 'string') return code;
  } catch {
    // Not JSON (a proxy's error page, a truncated body): the status says what there is to say.
  }
  return status === 200 ? 'GRAPHQL_ERROR' : `HTTP_${status}`;
}
