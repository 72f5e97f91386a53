import { randomInt, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { TenantProvisioner, tenantSchemaName, type TenantStrategy } from '@tenant-app/db';
import { startExtraCluster, superuserQuery, type ExtraCluster, type TestDatabase } from '@tenant-app/db/testing';
import { clusterTestDatabase, createTestApi, globalId, provisionTenant, type TestApi, type TestTenant } from './support.ts';

/**
 * Isolation under fire: many tenants of every strategy, thousands of random reads and writes with
 * dozens in flight — a share of them naming other tenants' rows — while the runtime login's
 * backends are terminated, a lock drives statements into their timeout, the pool is exhausted and a
 * tenant's queue overflows, clients abort mid-flight and Postgres is stopped and started. Every
 * response is checked against a model of what each tenant owns; afterwards every acknowledged write
 * is in the database, nothing is left in a transaction or checked out, and every tenant is served
 * exactly its own rows again.
 *
 * Every worker draws its operations from a PRNG seeded from SEED (printed with every failure;
 * ISOLATION_FUZZ_SEED=<seed> sets it). The same seed gives the same draws; which rows they land on
 * also depends on which writes were acknowledged, and the faults run on a clock, so a failing run
 * replays closely rather than exactly.
 */
const SEED = Number(process.env['ISOLATION_FUZZ_SEED'] ?? randomInt(2 ** 31));
const WORKERS = 48;
const LOAD_MS = 30_000;
/** No request may take longer (a hang is a failure): waits are bounded by the acquire timeout and the tiers' statement timeouts. */
const REQUEST_BOUND_MS = 20_000;
const ACQUIRE_TIMEOUT_MS = 1_500;

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Kind = 'Project' | 'Task' | 'Comment' | 'User';
/** What a failed or aborted mutation may have left: `definite` failures wrote nothing, `uncertain` ones may have committed. */
type Outcome = 'acked' | 'uncertain' | 'definite';

/** A tenant's ground truth: the rows it owns (seeded, or written by an acknowledged mutation). */
interface Model {
  tenant: TestTenant;
  label: string;
  projects: string[];
  projectName: Map<string, string>;
  tasks: string[];
  taskProject: Map<string, string>;
  comments: string[];
  commentBody: Map<string, string>;
  users: string[];
  /** Per task: its title when first known and every update sent for it, in order, with its outcome. */
  titles: Map<string, { initial: string; updates: { title: string; outcome: Outcome }[] }>;
  /** Tasks with an update in flight: one at a time per task keeps the final title decidable. */
  updating: Set<string>;
  /** Texts this tenant's mutations wrote, by outcome; `never` for mutations that must not write (foreign ids). */
  markers: Map<string, Outcome | 'never'>;
  /** Ids this tenant was shown that the model did not know yet (a concurrent write): checked against the database afterwards. */
  seen: Map<string, Kind>;
  counter: number;
}

/** Which tenant owns an id: seeded rows, users and acknowledged writes. */
const owners = new Map<string, Model>();
const models: Model[] = [];
const violations: string[] = [];
const tally = {
  requests: 0,
  byOp: {} as Record<string, number>,
  outcomes: {} as Record<string, number>,
  aborted: 0,
  /** STATEMENT_TIMEOUT while the lock held statements past the tier's timeout. */
  statementTimeouts: 0,
  maxInFlight: 0,
  slowestMs: 0,
  faults: { terminateRounds: 0, backendsTerminated: 0, lockWindows: 0, floodRequests: 0, shed: 0, restarts: 0 },
};
/** While a lock holds statements past their timeout (see holdLock): the only time STATEMENT_TIMEOUT is expected. */
let lockWindow: { from: number; to: number } | undefined;
const count = (record: Record<string, number>, key: string) => (record[key] = (record[key] ?? 0) + 1);

function violation(message: string): void {
  if (violations.length < 50) violations.push(message);
}

function decode(id: string): { kind: string; uuid: string } | undefined {
  const [kind, uuid, ...rest] = Buffer.from(id, 'base64').toString().split(':');
  return kind && uuid && rest.length === 0 ? { kind, uuid } : undefined;
}

/** Texts of seeded rows start with the slug; texts the fuzz writes start with "fz <slug> ". */
function ownText(model: Model, text: string): boolean {
  const slug = model.tenant.slug;
  return text.startsWith(`${slug} `) || text.startsWith(`fz ${slug} `) || text.endsWith(`@${slug}.test`);
}

/** Every id and every text anywhere in a response must be the requesting tenant's. */
function checkOwnership(model: Model, value: unknown, where: string): void {
  if (Array.isArray(value)) {
    for (const item of value) checkOwnership(model, item, where);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [field, child] of Object.entries(value)) {
    if (field === 'tenant' && child && typeof child === 'object') {
      const tenant = child as { id?: string; slug?: string };
      if (tenant.id !== model.tenant.id || tenant.slug !== model.tenant.slug) violation(`${where}: tenant ${JSON.stringify(child)}`);
      continue;
    }
    if (field === 'id' && typeof child === 'string') {
      const owner = owners.get(child);
      if (owner && owner !== model) violation(`${where}: ${model.label} was shown ${owner.label}'s ${decode(child)?.kind} ${child}`);
      if (!owner) {
        const decoded = decode(child);
        if (!decoded || !['Project', 'Task', 'Comment', 'User'].includes(decoded.kind)) violation(`${where}: unknown id ${child}`);
        else model.seen.set(child, decoded.kind as Kind);
      }
    } else if (['name', 'title', 'body', 'email'].includes(field) && typeof child === 'string') {
      if (!ownText(model, child)) violation(`${where}: ${model.label} was shown the ${field} "${child}"`);
    } else {
      checkOwnership(model, child, where);
    }
  }
}

interface Response {
  status: number;
  text: string;
  body: { data?: Record<string, any> | null; errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[] };
}

/** Client-facing messages of the codes a request may fail with under faults (errors.ts of graphql and api). */
const FAULT_ERRORS: Record<string, { message: string; statuses: number[] }> = {
  POOL_TIMEOUT: { message: 'the service is busy: retry shortly', statuses: [503] },
  SERVICE_UNAVAILABLE: { message: 'the database is unavailable: retry shortly', statuses: [503] },
  STATEMENT_TIMEOUT: {
    message: "a statement of this request ran longer than this tenant's tier allows and was stopped: ask for less, or retry shortly",
    statuses: [503],
  },
};

/** Words of SQL, of Postgres and of stack traces: none may reach a client (as in error-codes.test.ts). */
const INTERNALS = ['select', 'insert', 'update ', 'permission', 'relation', 'violates', 'postgres', 'sql', 'app.', 'control.', 'tenant_app', 'stack', ' at ', '.ts:', '.js:', 'node_modules', 'terminat', 'canceling'];

interface Operation {
  name: string;
  query: string;
  variables?: Record<string, unknown>;
  apiKey: string;
  mutation: boolean;
  /** The field and the message of the NOT_FOUND that a foreign or missing id must get; for a read, its field must be null. */
  notFound?: { field: string; message?: string };
  /** Checks the data of a response without errors (ownership is checked for every response). */
  check?(data: Record<string, any>, where: string): void;
  /** Records the outcome of a mutation in the model. */
  settle?(outcome: Outcome, data: Record<string, any> | null | undefined): void;
}

function foreignOrMissing(model: Model, random: Random, kind: Kind): string {
  if (random() < 0.25) return globalId(kind, randomUUID());
  const other = pick(random, models.filter((candidate) => candidate !== model));
  const ids = { Project: other.projects, Task: other.tasks, Comment: other.comments, User: other.users }[kind];
  return pick(random, ids);
}

const marker = (model: Model, what: string) => `fz ${model.tenant.slug} ${what}${++model.counter}`;

const TREE = `{
  projects(first: 100) { edges { node { id name taskCount
    tasks(first: 100) { id title status project { id } assignee { id name } comments(first: 3) { id body author { id email } } }
  } } pageInfo { hasNextPage } }
}`;

/** The next operation of a worker: reads and writes of the tenant's own rows, and of other tenants' (foreign) and missing ids. */
function nextOperation(model: Model, random: Random): Operation {
  const { tenant } = model;
  const roll = random();
  const admin = tenant.adminKey;
  const anyKey = random() < 0.5 ? tenant.adminKey : tenant.memberKey;

  if (roll < 0.16) {
    const known = new Set(model.projects);
    const tasksOf = new Map<string, number>();
    for (const task of model.tasks) tasksOf.set(model.taskProject.get(task)!, (tasksOf.get(model.taskProject.get(task)!) ?? 0) + 1);
    return {
      name: 'tree',
      query: TREE,
      apiKey: anyKey,
      mutation: false,
      check(data, where) {
        const edges: { node: { id: string; name: string; taskCount: number; tasks: { id: string; project: { id: string } }[] } }[] = data['projects'].edges;
        const returned = new Set(edges.map((edge) => edge.node.id));
        // Acknowledged before this request was sent, so committed before its snapshot.
        for (const id of known) if (!returned.has(id)) violation(`${where}: acknowledged project ${id} of ${model.label} missing`);
        for (const { node } of edges) {
          if (known.has(node.id) && node.name !== model.projectName.get(node.id)) violation(`${where}: project ${node.id} renamed to ${node.name}`);
          if (node.taskCount < (tasksOf.get(node.id) ?? 0)) violation(`${where}: project ${node.id} counts ${node.taskCount} tasks, ${tasksOf.get(node.id)} acknowledged`);
          for (const task of node.tasks) if (task.project.id !== node.id) violation(`${where}: task ${task.id} under ${node.id} names project ${task.project.id}`);
        }
      },
    };
  }
  if (roll < 0.26) {
    const foreign = random() < 0.4;
    const kind = pick(random, ['Project', 'Task'] as const);
    const field = kind === 'Project' ? 'project' : 'task';
    const id = foreign ? foreignOrMissing(model, random, kind) : pick(random, kind === 'Project' ? model.projects : model.tasks);
    const selection = kind === 'Project' ? 'id name' : 'id title project { id }';
    return {
      name: `${field}(${foreign ? 'foreign' : 'own'})`,
      query: `query($id: ID!) { ${field}(id: $id) { ${selection} } }`,
      variables: { id },
      apiKey: anyKey,
      mutation: false,
      ...(foreign ? { notFound: { field } } : {}),
      check(data, where) {
        const row = data[field];
        if (foreign) return;
        if (row?.id !== id) return violation(`${where}: own ${kind} ${id} not found: ${JSON.stringify(row)}`);
        if (kind === 'Project' && row.name !== model.projectName.get(id)) violation(`${where}: project name ${row.name}`);
        if (kind === 'Task' && row.project.id !== model.taskProject.get(id)) violation(`${where}: task ${id} moved to ${row.project.id}`);
      },
    };
  }
  if (roll < 0.36) {
    const foreign = random() < 0.4;
    const kind = pick(random, ['Project', 'Task', 'Comment', 'User'] as const);
    const own = { Project: model.projects, Task: model.tasks, Comment: model.comments, User: model.users }[kind];
    const id = foreign ? foreignOrMissing(model, random, kind) : pick(random, own);
    return {
      name: `node(${foreign ? 'foreign' : 'own'})`,
      query: 'query($id: ID!) { node(id: $id) { id __typename ... on Comment { body } ... on User { name } } }',
      variables: { id },
      apiKey: anyKey,
      mutation: false,
      ...(foreign ? { notFound: { field: 'node' } } : {}),
      check(data, where) {
        if (foreign) return;
        const node = data['node'];
        if (node?.id !== id || node.__typename !== kind) return violation(`${where}: own ${kind} ${id} answered ${JSON.stringify(node)}`);
        if (kind === 'Comment' && node.body !== model.commentBody.get(id)) violation(`${where}: comment body ${node.body}`);
      },
    };
  }
  if (roll < 0.44) {
    const ids = Array.from({ length: 2 + Math.floor(random() * 5) }, () => {
      const kind = pick(random, ['Project', 'Task', 'Comment', 'User'] as const);
      if (random() < 0.4) return { id: foreignOrMissing(model, random, kind), own: false };
      return { id: pick(random, { Project: model.projects, Task: model.tasks, Comment: model.comments, User: model.users }[kind]), own: true };
    });
    return {
      name: 'nodes(mixed)',
      query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }',
      variables: { ids: ids.map((entry) => entry.id) },
      apiKey: anyKey,
      mutation: false,
      check(data, where) {
        const nodes: ({ id: string } | null)[] = data['nodes'];
        const expected = ids.map((entry) => (entry.own ? { id: entry.id } : null));
        if (JSON.stringify(nodes) !== JSON.stringify(expected)) violation(`${where}: nodes ${JSON.stringify(nodes)}, expected ${JSON.stringify(expected)}`);
      },
    };
  }
  if (roll < 0.5) {
    const member = random() < 0.5;
    return {
      name: 'viewer',
      query: '{ viewer { id name } tenant { id slug name } }',
      apiKey: member ? tenant.memberKey : tenant.adminKey,
      mutation: false,
      check(data, where) {
        const expected = globalId('User', member ? tenant.memberId : tenant.adminId);
        if (data['viewer']?.id !== expected) violation(`${where}: viewer ${JSON.stringify(data['viewer'])}`);
      },
    };
  }
  if (roll < 0.58 && model.projects.length < 60) {
    const name = marker(model, 'project ');
    model.markers.set(name, 'uncertain');
    return {
      name: 'createProject',
      query: 'mutation($name: String!) { createProject(name: $name) { id name } }',
      variables: { name },
      apiKey: admin,
      mutation: true,
      settle(outcome, data) {
        model.markers.set(name, outcome);
        if (outcome !== 'acked') return;
        const id: string = data!['createProject'].id;
        if (data!['createProject'].name !== name) violation(`createProject of ${model.label}: name ${data!['createProject'].name}`);
        model.projects.push(id);
        model.projectName.set(id, name);
        owners.set(id, model);
      },
    };
  }
  if (roll < 0.68) {
    const title = marker(model, 'task ');
    const projectId = pick(random, model.projects);
    const assigneeId = random() < 0.5 ? pick(random, model.users) : null;
    model.markers.set(title, 'uncertain');
    return {
      name: 'createTask',
      query: 'mutation($p: ID!, $title: String!, $a: ID) { createTask(projectId: $p, title: $title, assigneeId: $a) { id title project { id } assignee { id } } }',
      variables: { p: projectId, title, a: assigneeId },
      apiKey: admin,
      mutation: true,
      settle(outcome, data) {
        model.markers.set(title, outcome);
        if (outcome !== 'acked') return;
        const task = data!['createTask'];
        if (task.project.id !== projectId || (task.assignee?.id ?? null) !== assigneeId) violation(`createTask of ${model.label}: ${JSON.stringify(task)}`);
        model.tasks.push(task.id);
        model.taskProject.set(task.id, projectId);
        model.titles.set(task.id, { initial: title, updates: [] });
        owners.set(task.id, model);
      },
    };
  }
  if (roll < 0.78) {
    const free = model.tasks.filter((task) => !model.updating.has(task));
    if (free.length > 0) {
      const id = pick(random, free);
      const title = marker(model, 'renamed ');
      const update = { title, outcome: 'uncertain' as Outcome };
      model.updating.add(id);
      model.titles.get(id)!.updates.push(update);
      model.markers.set(title, 'uncertain');
      return {
        name: 'updateTask',
        query: 'mutation($id: ID!, $title: String, $status: TaskStatus) { updateTask(id: $id, title: $title, status: $status) { id title status } }',
        variables: { id, title, status: pick(random, ['TODO', 'IN_PROGRESS', 'DONE']) },
        apiKey: anyKey,
        mutation: true,
        settle(outcome, data) {
          model.updating.delete(id);
          update.outcome = outcome;
          model.markers.set(title, outcome);
          if (outcome === 'acked' && (data!['updateTask'].id !== id || data!['updateTask'].title !== title)) violation(`updateTask of ${model.label}: ${JSON.stringify(data)}`);
        },
      };
    }
  }
  if (roll < 0.86) {
    const body = marker(model, 'comment ');
    const taskId = pick(random, model.tasks);
    model.markers.set(body, 'uncertain');
    return {
      name: 'addComment',
      query: 'mutation($t: ID!, $body: String!) { addComment(taskId: $t, body: $body) { id body author { id } } }',
      variables: { t: taskId, body },
      apiKey: anyKey,
      mutation: true,
      settle(outcome, data) {
        model.markers.set(body, outcome);
        if (outcome !== 'acked') return;
        const comment = data!['addComment'];
        if (comment.body !== body) violation(`addComment of ${model.label}: ${JSON.stringify(comment)}`);
        model.comments.push(comment.id);
        model.commentBody.set(comment.id, body);
        owners.set(comment.id, model);
      },
    };
  }
  // Writes that name a foreign (or missing) row: NOT_FOUND, exactly as for a missing id, and nothing written.
  const text = marker(model, 'planted ');
  model.markers.set(text, 'never');
  const variant = Math.floor(random() * 5);
  const foreignWrites = [
    { field: 'createTask', message: 'project not found', query: 'mutation($id: ID!, $text: String!) { createTask(projectId: $id, title: $text) { id } }', kind: 'Project' as Kind },
    { field: 'updateTask', message: 'task not found', query: 'mutation($id: ID!, $text: String!) { updateTask(id: $id, title: $text, status: DONE) { id } }', kind: 'Task' as Kind },
    { field: 'addComment', message: 'task not found', query: 'mutation($id: ID!, $text: String!) { addComment(taskId: $id, body: $text) { id } }', kind: 'Task' as Kind },
    { field: 'createTask', message: 'assignee not found', query: `mutation($id: ID!, $text: String!) { createTask(projectId: "${pick(random, model.projects)}", title: $text, assigneeId: $id) { id } }`, kind: 'User' as Kind },
    // A write of its own first, then the foreign id: the whole operation is rolled back.
    { field: 'failed', message: 'task not found', query: 'mutation($id: ID!, $text: String!) { written: createProject(name: $text) { id } failed: addComment(taskId: $id, body: "x") { id } }', kind: 'Task' as Kind },
  ];
  const write = foreignWrites[variant]!;
  return {
    name: `${write.field === 'failed' ? 'write+foreign' : write.field}(foreign)`,
    query: write.query,
    variables: { id: foreignOrMissing(model, random, write.kind), text },
    apiKey: admin,
    mutation: true,
    notFound: { field: write.field, message: write.message },
  };
}

interface Harness {
  t: TestApi;
  cluster: ExtraCluster;
  database: TestDatabase;
  inFlight: number;
}

/** Sends one operation, bounded in time, optionally aborted by the client mid-flight; checks the answer. */
async function run(h: Harness, model: Model, operation: Operation, random: Random): Promise<void> {
  const where = `seed ${SEED}, ${model.label} ${operation.name}`;
  const aborter = new AbortController();
  const abortAfter = random() < 0.05 ? Math.floor(random() * 25) : undefined;
  const abortTimer = abortAfter === undefined ? undefined : setTimeout(() => aborter.abort(), abortAfter);
  let hung = false;
  const hangTimer = setTimeout(() => {
    hung = true;
    aborter.abort();
  }, REQUEST_BOUND_MS);
  const started = performance.now();
  h.inFlight += 1;
  tally.maxInFlight = Math.max(tally.maxInFlight, h.inFlight);
  tally.requests += 1;
  count(tally.byOp, operation.name);
  let response: Response | undefined;
  try {
    const http = await h.t.api.fetch('http://test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant-id': model.tenant.slug, authorization: `Bearer ${operation.apiKey}` },
      body: JSON.stringify({ query: operation.query, variables: operation.variables }),
      signal: aborter.signal,
    });
    const text = await http.text();
    response = { status: http.status, text, body: JSON.parse(text) };
  } catch (error) {
    if (!aborter.signal.aborted) violation(`${where}: the request failed: ${String(error)}`);
  } finally {
    clearTimeout(abortTimer);
    clearTimeout(hangTimer);
    h.inFlight -= 1;
    tally.slowestMs = Math.max(tally.slowestMs, performance.now() - started);
  }
  if (hung) violation(`${where}: no answer within ${REQUEST_BOUND_MS} ms`);
  if (!response) {
    tally.aborted += 1;
    count(tally.outcomes, 'aborted by the client');
    operation.settle?.('uncertain', undefined);
    return;
  }
  const outcome = judge(model, operation, response, where, { from: started, to: performance.now() });
  if (response.status === 503) await sleep(100 + random() * 200); // a client backs off (less than Retry-After asks: the load must go on)
  operation.settle?.(outcome, response.body.data);
}

/** Checks one answer and tells what a mutation may have written. */
function judge(model: Model, operation: Operation, response: Response, where: string, during: { from: number; to: number }): Outcome {
  const { status, body, text } = response;
  const detail = `${where}: ${status} ${text.slice(0, 300)}`;
  if (status >= 500 && status !== 503) violation(`${detail}`);
  const lower = text.toLowerCase();
  for (const word of INTERNALS) if (lower.includes(word)) violation(`${detail} (contains "${word}")`);
  if (body.data) checkOwnership(model, body.data, where);
  const errors = body.errors ?? [];
  if (errors.length === 0) {
    count(tally.outcomes, `${status} ok`);
    if (status !== 200 || !body.data) violation(detail);
    if (operation.notFound && operation.mutation) violation(`${detail}: a write naming a foreign id succeeded`);
    if (operation.notFound && !operation.mutation && body.data?.[operation.notFound.field] !== null) violation(`${detail}: a foreign id was found`);
    try {
      if (body.data) operation.check?.(body.data, where);
    } catch (error) {
      violation(`${detail}: not the shape asked for (${String(error)})`);
    }
    return 'acked';
  }
  const codes = [...new Set(errors.map((error) => String(error.extensions?.['code'])))].sort();
  count(tally.outcomes, `${status} ${codes.join('+')}`);
  for (const error of errors) {
    const code = String(error.extensions?.['code']);
    if (code === 'NOT_FOUND') {
      if (!operation.notFound?.message) violation(`${detail}: NOT_FOUND for an own row`);
      continue;
    }
    const known = FAULT_ERRORS[code];
    if (!known) violation(`${detail}: unexpected code ${code}`);
    else if (error.message !== known.message || !known.statuses.includes(status)) violation(`${detail}: ${code} answered ${status} "${error.message}"`);
    if (code === 'STATEMENT_TIMEOUT') {
      const overlapsLock = lockWindow && during.from <= lockWindow.to && during.to >= lockWindow.from;
      if (!overlapsLock) violation(`${detail}: a statement timeout outside the lock window`);
      else tally.statementTimeouts += 1;
    }
  }
  if (codes.includes('NOT_FOUND')) {
    // Exactly what a missing id gets: one error, for the field, and no data kept.
    const error = errors[0]!;
    const expected = { message: operation.notFound?.message, path: [operation.notFound?.field], extensions: { code: 'NOT_FOUND' } };
    const actual = { message: error.message, path: error.path, extensions: error.extensions };
    if (errors.length !== 1 || body.data !== null || JSON.stringify(actual) !== JSON.stringify(expected)) violation(`${detail}: not the answer of a missing id`);
    return 'definite';
  }
  if (!('data' in body)) return 'definite'; // refused before any of the tenant's SQL ran
  // A pool timeout comes before the transaction's first statement; SERVICE_UNAVAILABLE may be a
  // COMMIT whose answer was lost, and STATEMENT_TIMEOUT may come after a write (rolled back).
  return codes.every((code) => code === 'POOL_TIMEOUT') ? 'definite' : 'uncertain';
}

/** The tenant's rows as its owner reads them, wherever its strategy keeps them. */
async function rowsOf(provisioner: TenantProvisioner, tenant: TestTenant) {
  return provisioner.writeAs(tenant, async (db) => ({
    users: await db.selectFrom('users').select(['id', 'tenant_id', 'name', 'email']).execute(),
    projects: await db.selectFrom('projects').select(['id', 'tenant_id', 'name']).execute(),
    tasks: await db.selectFrom('tasks').select(['id', 'tenant_id', 'project_id', 'title']).execute(),
    comments: await db.selectFrom('comments').select(['id', 'tenant_id', 'task_id', 'body']).execute(),
  }));
}

const TENANTS: { slug: string; strategy: TenantStrategy; ownRole?: boolean; tier: 'free' | 'standard' }[] = [
  { slug: 'sh-a', strategy: 'shared', tier: 'free' },
  { slug: 'sh-b', strategy: 'shared', tier: 'free' },
  { slug: 'sh-c', strategy: 'shared', ownRole: true, tier: 'standard' },
  { slug: 'sc-a', strategy: 'schema', tier: 'free' },
  { slug: 'sc-b', strategy: 'schema', tier: 'free' },
  { slug: 'sc-c', strategy: 'schema', tier: 'standard' },
  { slug: 'db-a', strategy: 'database', tier: 'free' },
  { slug: 'db-b', strategy: 'database', tier: 'standard' },
];

let h: Harness;

beforeAll(async () => {
  // A cluster of this file's own: it is restarted, and every backend of its runtime login is
  // terminated, which must not reach the other test files on the shared cluster.
  const cluster = await startExtraCluster({ persistent: true });
  const database = await clusterTestDatabase(cluster);
  const tenants = await Promise.all(
    TENANTS.map((spec) =>
      provisionTenant(database.provisioner, spec.slug, { projects: 3, tasksPerProject: 3, commentsPerTask: 1 }, {
        strategy: spec.strategy,
        tier: spec.tier,
        ...(spec.ownRole ? { ownRole: true } : {}),
      }),
    ),
  );
  for (const tenant of tenants) {
    const rows = await rowsOf(database.provisioner, tenant);
    const model: Model = {
      tenant,
      label: `${tenant.slug} (${tenant.strategy})`,
      projects: rows.projects.map((row) => globalId('Project', row.id)),
      projectName: new Map(rows.projects.map((row) => [globalId('Project', row.id), row.name])),
      tasks: rows.tasks.map((row) => globalId('Task', row.id)),
      taskProject: new Map(rows.tasks.map((row) => [globalId('Task', row.id), globalId('Project', row.project_id)])),
      comments: rows.comments.map((row) => globalId('Comment', row.id)),
      commentBody: new Map(rows.comments.map((row) => [globalId('Comment', row.id), row.body])),
      users: rows.users.map((row) => globalId('User', row.id)),
      titles: new Map(rows.tasks.map((row) => [globalId('Task', row.id), { initial: row.title, updates: [] }])),
      updating: new Set(),
      markers: new Map(),
      seen: new Map(),
      counter: 0,
    };
    models.push(model);
    for (const id of [...model.projects, ...model.tasks, ...model.comments, ...model.users]) owners.set(id, model);
  }
  // A small shared pool under a small budget, short waits: the load alone exhausts it at times.
  const t = await createTestApi(
    { maxConnections: 6, defaultBudget: 14, acquireTimeoutMs: ACQUIRE_TIMEOUT_MS, connectTimeoutMs: 2_000 },
    // Tenant lookups are cached for a second, as in production (5 s by default): they still run,
    // and fail under the faults, every second per key; the flood reaches its tenant's queue at once.
    { database, tenantCacheTtlMs: 1_000 },
  );
  h = { t, cluster, database, inFlight: 0 };
}, 120_000);

afterAll(async () => {
  await h?.t.close();
  await h?.database.close();
  await h?.cluster.remove();
});

/** Ends every backend of the API's logins (the runtime login and the database tenants' own), busy or idle. */
async function terminateBackends(): Promise<number> {
  const rows = await superuserQuery<{ terminated: number }>(
    h.cluster.superuserUrl(),
    "select count(*) filter (where pg_terminate_backend(pid))::int as terminated from pg_stat_activity where application_name like 'tenant-app:%'",
  );
  return rows[0]!.terminated;
}

/**
 * What a migration or a long maintenance statement does: holds an exclusive lock on the tasks of
 * the shared tables and of one schema tenant for longer than the free tier's statement timeout
 * (5 s). Statements on them wait, hold their connections, time out; other requests find the pool
 * exhausted.
 */
async function holdLock(ms: number): Promise<void> {
  const locker = new pg.Client({ connectionString: h.cluster.superuserUrl('tenant_app') });
  locker.on('error', () => undefined);
  await locker.connect();
  try {
    await locker.query('begin');
    await locker.query(`lock table app.tasks, ${tenantSchemaName('sc-a')}.tasks in access exclusive mode`);
    lockWindow = { from: performance.now(), to: Number.POSITIVE_INFINITY };
    await sleep(ms);
    await locker.query('commit');
    lockWindow.to = performance.now();
  } finally {
    await locker.end();
  }
}

/**
 * More requests of one free tenant at once than its queue (20) and connections (2) take: the rest
 * are shed at once. On a machine so busy that the requests trickle in, it floods again (3 times at most).
 */
async function flood(): Promise<void> {
  const model = models.find((candidate) => candidate.tenant.slug === 'sc-b')!;
  const shed = () => h.t.pools.tenantStats(model.tenant.id)[0]?.shed ?? 0;
  const shedBefore = shed();
  const random = prng(SEED ^ 0xf100d);
  for (let round = 0; round < 3 && shed() === shedBefore; round += 1) {
    // The key's lookup cached (the registry keeps it a second): the requests go straight to the tenant's queue.
    for (let attempt = 0; attempt < 10; attempt += 1) {
      if ((await h.t.graphql(model.tenant, '{ tenant { slug } }', {}, { apiKey: model.tenant.memberKey })).status === 200) break;
    }
    await Promise.all(
      Array.from({ length: 40 }, () => {
        tally.faults.floodRequests += 1;
        return run(h, model, { name: 'flood', query: '{ projects(first: 5) { edges { node { id name } } } }', apiKey: model.tenant.memberKey, mutation: false }, random);
      }),
    );
  }
  tally.faults.shed += shed() - shedBefore;
}

async function faults(startedAt: number): Promise<void> {
  const at = (ms: number) => sleep(Math.max(0, startedAt + ms - performance.now()));
  const terminate = async () => {
    tally.faults.terminateRounds += 1;
    tally.faults.backendsTerminated += await terminateBackends();
  };
  await at(3_000);
  await terminate();
  await at(6_000);
  await terminate();
  await at(8_000);
  tally.faults.lockWindows += 1;
  const lock = holdLock(8_000);
  await at(9_000);
  await terminate(); // statements waiting for the lock; those that come after it wait into their timeout
  await lock;
  await at(17_000);
  await flood();
  await at(19_500);
  await terminate();
  await at(22_000);
  // Postgres' fast shutdown ends every session; a second and a half later it starts again.
  tally.faults.restarts += 1;
  await h.cluster.stop();
  await sleep(1_500);
  await h.cluster.restart();
  await at(27_000);
  await terminate();
}

test('under terminated connections, statement timeouts, pool exhaustion, aborts and a restart, no tenant ever sees another tenant\'s rows or loses an acknowledged write', async () => {
  const startedAt = performance.now();
  let running = true;
  const workers = Array.from({ length: WORKERS }, async (_, index) => {
    const random = prng(SEED + index * 0x9e3779b9);
    while (running) {
      const model = pick(random, models);
      await run(h, model, nextOperation(model, random), random);
    }
  });
  try {
    await Promise.all([sleep(LOAD_MS), faults(startedAt)]);
  } finally {
    running = false;
    await Promise.all(workers);
  }
  const loadMs = performance.now() - startedAt;
  const load = { seed: SEED, loadMs: Math.round(loadMs), requests: tally.requests, maxInFlight: tally.maxInFlight, slowestMs: Math.round(tally.slowestMs), faults: tally.faults, statementTimeouts: tally.statementTimeouts, outcomes: tally.outcomes, operations: tally.byOp };
  console.info(`isolation under fire, the load: ${JSON.stringify(load)}`);
  if (violations.length > 0) console.info(`violations (seed ${SEED}):\n${violations.join('\n')}`);

  // Every tenant is served again by the same server, without a restart of ours.
  for (const model of models) {
    let healthy = false;
    for (let attempt = 0; attempt < 50 && !healthy; attempt += 1) {
      const response = await h.t.graphql(model.tenant, '{ tenant { slug } }');
      healthy = response.status === 200 && response.body.data?.tenant.slug === model.tenant.slug;
      if (!healthy) await sleep(100);
    }
    expect(healthy, `seed ${SEED}: ${model.label} is not served after the faults`).toBe(true);
  }

  // Nothing left checked out, waiting, or open inside a transaction.
  await expect.poll(() => h.t.pools.stats().filter((pool) => pool.active !== 0 || pool.pending !== 0), { timeout: 5_000 }).toEqual([]);
  expect(h.t.pools.hostStats().map((host) => host.pending)).toEqual([0]);
  const activity = () =>
    superuserQuery<{ datname: string; application_name: string; state: string }>(
      h.cluster.superuserUrl(),
      "select datname, application_name, state from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
    );
  await expect
    .poll(async () => (await activity()).filter((backend) => backend.state !== 'idle'), { timeout: 5_000 })
    .toEqual([]);
  await expect
    .poll(async () => [h.t.pools.hostStats()[0]!.open, (await activity()).filter((backend) => backend.application_name.startsWith('tenant-app:')).length], { timeout: 5_000 })
    .toSatisfy(([ours, postgres]: number[]) => ours === postgres);

  // Every acknowledged write is in its tenant's storage; nothing a refused write carried is anywhere;
  // every row shown to a tenant is its own.
  const owner = new TenantProvisioner({ ownerUrl: h.cluster.ownerUrl });
  try {
    let acknowledged = 0;
    let uncertainWritten = 0;
    for (const model of models) {
      const rows = await rowsOf(owner, model.tenant);
      const where = `seed ${SEED}, ${model.label} in the database`;
      const all = [...rows.users, ...rows.projects, ...rows.tasks, ...rows.comments];
      expect(all.filter((row) => row.tenant_id !== model.tenant.id), where).toEqual([]);
      const texts = [...rows.users.map((row) => row.name), ...rows.projects.map((row) => row.name), ...rows.tasks.map((row) => row.title), ...rows.comments.map((row) => row.body)];
      expect(texts.filter((text) => !ownText(model, text)), `${where}: texts of another tenant`).toEqual([]);
      const ids = new Set([
        ...rows.users.map((row) => globalId('User', row.id)),
        ...rows.projects.map((row) => globalId('Project', row.id)),
        ...rows.tasks.map((row) => globalId('Task', row.id)),
        ...rows.comments.map((row) => globalId('Comment', row.id)),
      ]);
      const modelled = [...model.projects, ...model.tasks, ...model.comments, ...model.users];
      expect(modelled.filter((id) => !ids.has(id)), `${where}: acknowledged rows lost`).toEqual([]);
      expect([...model.seen.keys()].filter((id) => !ids.has(id)), `${where}: rows shown to it that are not its own`).toEqual([]);
      const names = new Map(rows.projects.map((row) => [globalId('Project', row.id), row.name]));
      const bodies = new Map(rows.comments.map((row) => [globalId('Comment', row.id), row.body]));
      expect(model.projects.filter((id) => names.get(id) !== model.projectName.get(id)), `${where}: project names`).toEqual([]);
      expect(model.comments.filter((id) => bodies.get(id) !== model.commentBody.get(id)), `${where}: comment bodies`).toEqual([]);
      // A task's title is the last acknowledged update's, or one of an update sent after it whose answer was lost.
      const titles = new Map(rows.tasks.map((row) => [globalId('Task', row.id), row.title]));
      const wrongTitles = [...model.titles].flatMap(([id, { initial, updates }]) => {
        const lastAcked = updates.map((update) => update.outcome).lastIndexOf('acked');
        const allowed = [lastAcked < 0 ? initial : updates[lastAcked]!.title, ...updates.slice(lastAcked + 1).filter((update) => update.outcome === 'uncertain').map((update) => update.title)];
        return allowed.includes(titles.get(id)!) ? [] : [{ id, title: titles.get(id), allowed }];
      });
      expect(wrongTitles, `${where}: task titles`).toEqual([]);
      // Every text of the fuzz in the database was written by a mutation that was acknowledged or whose answer was lost.
      const written = new Set([...rows.projects.map((row) => row.name), ...rows.tasks.map((row) => row.title), ...rows.comments.map((row) => row.body)].filter((text) => text.startsWith('fz ')));
      expect([...written].filter((text) => !['acked', 'uncertain'].includes(model.markers.get(text) ?? 'unknown')), `${where}: written although refused`).toEqual([]);
      const ackedTexts = [...model.markers].filter(([, outcome]) => outcome === 'acked').map(([text]) => text);
      acknowledged += ackedTexts.length;
      uncertainWritten += [...written].filter((text) => model.markers.get(text) === 'uncertain').length;
      // Names and bodies never change; a task's title may have been overwritten by a later update.
      expect(ackedTexts.filter((text) => !written.has(text) && !/ (task|renamed) \d+$/.test(text)), `${where}: acknowledged texts lost`).toEqual([]);

      // And the API serves the tenant exactly those rows.
      const tree = await h.t.graphql(model.tenant, TREE);
      expect(tree.body.errors, `${model.label}: ${tree.text.slice(0, 300)}`).toBeUndefined();
      const edges: { node: { id: string; name: string; tasks: { id: string; title: string; comments: { id: string }[] }[] } }[] = tree.body.data!.projects.edges;
      expect(edges.map((edge) => edge.node.id).sort(), where).toEqual([...names.keys()].sort());
      expect(edges.flatMap((edge) => edge.node.tasks.map((task) => [task.id, task.title])).sort(), where).toEqual([...titles].sort());
      expect(edges.flatMap((edge) => edge.node.tasks.flatMap((task) => task.comments)).length, where).toBe(
        rows.tasks.reduce((sum, task) => sum + Math.min(3, rows.comments.filter((comment) => comment.task_id === task.id).length), 0),
      );
    }

    console.info(`isolation under fire, afterwards: ${acknowledged} acknowledged writes all kept; ${uncertainWritten} writes whose answer was lost were committed`);

    expect(violations, `seed ${SEED} (ISOLATION_FUZZ_SEED=${SEED} replays the operations)`).toEqual([]);
    // The faults really happened, and the load was real.
    expect(tally.requests).toBeGreaterThan(500);
    expect(tally.maxInFlight).toBeGreaterThanOrEqual(WORKERS);
    expect(tally.faults.backendsTerminated).toBeGreaterThan(0);
    expect(tally.faults.shed).toBeGreaterThan(0);
    expect(tally.aborted).toBeGreaterThan(0);
    expect(tally.statementTimeouts).toBeGreaterThan(0);
    expect(Object.keys(tally.outcomes).some((outcome) => outcome.includes('POOL_TIMEOUT'))).toBe(true);
    expect(Object.keys(tally.outcomes).some((outcome) => outcome.includes('SERVICE_UNAVAILABLE'))).toBe(true);
    expect(tally.outcomes['200 ok']).toBeGreaterThan(tally.requests / 5);
    expect(tally.outcomes['200 NOT_FOUND']).toBeGreaterThan(0);
    expect(tally.slowestMs).toBeLessThan(REQUEST_BOUND_MS);
  } finally {
    await owner.close();
  }
}, 120_000);
