import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createProject, InvalidInputError, writeProject, type Questions, type TemplateSources } from './index.ts';

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(path.join(os.tmpdir(), 'create-tenant-app-input-'));
});
afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

/** Bad input must fail before the template is even read. */
const unreadable = async (): Promise<TemplateSources> => {
  throw new Error('the template was read for bad input');
};

const run = (...argv: string[]) => createProject({ argv, cwd, sources: unreadable, log: () => {} });

test.each([
  ['an unknown strategy', ['my-saas', '--strategy', 'sharded'], /--strategy "sharded" is not a strategy: use shared, schema, database/],
  ['a scope with a space', ['my-saas', '--scope', 'Big Co'], /--scope "Big Co" is not an npm scope \(.*\): use one such as @acme/],
  ['a scope with a slash', ['my-saas', '--scope', '@acme/api'], /--scope "acme\/api" is not an npm scope/],
  ['an empty scope', ['my-saas', '--scope', '@'], /--scope "" is not an npm scope/],
  ['a folder name npm refuses', ['My SaaS'], /the folder name "My SaaS" is the project's npm name, and npm refuses it \(.*\): use a name such as my-saas/],
  ['a folder name starting with a dot', ['.hidden'], /the folder name ".hidden" .* npm refuses it/],
  ['no folder, off a terminal', ['--strategy', 'schema'], /name the project's folder: npx create-tenant-app my-saas/],
  ['two folders', ['one', 'two'], /one folder at a time, not one, two/],
  ['an unknown option', ['my-saas', '--telemetery'], /Unknown option '--telemetery'/],
  ['an option without its value', ['my-saas', '--strategy'], /Option '--strategy <value>' argument missing/],
])('%s is refused and nothing is written', async (_case, argv, message) => {
  const error = await run(...argv).catch((error: unknown) => error);
  expect(error).toBeInstanceOf(InvalidInputError);
  expect((error as Error).message).toMatch(message);
  expect(readdirSync(cwd)).toEqual([]);
});

test('a folder with anything in it is refused and left as it was', async () => {
  mkdirSync(path.join(cwd, 'my-saas'));
  writeFileSync(path.join(cwd, 'my-saas', 'notes.txt'), 'mine');
  await expect(run('my-saas', '--yes')).rejects.toThrow(/my-saas is not empty \(notes\.txt\): name a new or empty folder/);
  expect(readdirSync(path.join(cwd, 'my-saas'))).toEqual(['notes.txt']);
});

test('a file where the folder should be is refused', async () => {
  writeFileSync(path.join(cwd, 'my-saas'), 'a file');
  await expect(run('my-saas')).rejects.toThrow(/my-saas is a file: name a new folder for the project/);
});

test('a bad flag fails before any question is asked', async () => {
  const asked: string[] = [];
  const questions = new Proxy({} as Questions, {
    get: (_target, question: string) => async () => {
      asked.push(question);
      throw new Error('asked');
    },
  });
  await expect(createProject({ argv: ['--strategy', 'sharded'], cwd, sources: unreadable, questions, log: () => {} })).rejects.toThrow(
    InvalidInputError,
  );
  expect(asked).toEqual([]);
});

test('a failure while writing removes everything written, the folders it made too', async () => {
  // "x" as a file and "x/y" under it: the second write fails once the first has landed.
  const clashing = new Map([
    ['package.json', Buffer.from('{"name": "my-saas"}')],
    ['x', Buffer.from('a file')],
    ['x/y', Buffer.from('under a file')],
  ]);
  await expect(writeProject(clashing, path.join(cwd, 'deep', 'my-saas'))).rejects.toThrow(/ENOTDIR|EEXIST/);
  expect(existsSync(path.join(cwd, 'deep'))).toBe(false);

  mkdirSync(path.join(cwd, 'empty'));
  await expect(writeProject(clashing, path.join(cwd, 'empty'))).rejects.toThrow(/ENOTDIR|EEXIST/);
  expect(readdirSync(path.join(cwd, 'empty'))).toEqual([]);
});

test('the questions cover only what the flags leave open', async () => {
  const asked: string[] = [];
  const questions: Questions = {
    directory: async () => (asked.push('directory'), 'from-question'),
    strategy: async () => (asked.push('strategy'), 'database'),
    scope: async (fallback) => (asked.push(`scope (${fallback})`), '@picked'),
    confirm: async (message) => (asked.push(message), false),
  };
  const created = await createProject({
    argv: ['--strategy', 'schema', '--no-load', '--no-install', '--no-git'],
    cwd,
    sources: async () => ({
      repository: new Map([['package.json', Buffer.from('{"name": "tenant-app"}')]]),
      layers: new Map(['base', 'generated', 'strategy-schema', 'no-telemetry'].map((layer) => [layer, new Map()])),
    }),
    questions,
    log: () => {},
  });
  expect(asked).toEqual(['directory', 'scope (from-question)', 'Include telemetry (OpenTelemetry traces and metrics)?']);
  expect(created).toMatchObject({
    directory: path.join(cwd, 'from-question'),
    options: { name: 'from-question', scope: 'picked', strategy: 'schema', telemetry: false, load: false },
    files: ['package.json'],
  });
});
