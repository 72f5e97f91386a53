import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  collectRepositorySources,
  composeProject,
  InvalidInputError,
  REPOSITORY_ONLY,
  STRATEGIES,
  TemplateMismatchError,
  type OptionalPart,
  type ProjectOptions,
  type TemplateSources,
} from './index.ts';

const repositoryRoot = fileURLToPath(new URL('../../..', import.meta.url));
const defaults: ProjectOptions = { name: 'my-saas', scope: 'acme', strategy: 'shared', telemetry: true, load: true };

let sources: TemplateSources;
beforeAll(async () => {
  sources = await collectRepositorySources(repositoryRoot);
});

const text = (files: Map<string, Buffer>, file: string) => {
  const contents = files.get(file);
  if (!contents) throw new Error(`${file} is not in the project`);
  return contents.toString('utf8');
};
const json = <T = Record<string, unknown>>(files: Map<string, Buffer>, file: string) => JSON.parse(text(files, file)) as T;
const packageJsons = (files: Map<string, Buffer>) => [...files.keys()].filter((file) => /(^|\/)package\.json$/.test(file));

interface PackageJson {
  name: string;
  workspaces?: string[];
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

describe('a project with every part', () => {
  let files: Map<string, Buffer>;
  beforeAll(() => {
    files = composeProject(sources, defaults);
  });

  test('has the API, the packages, the load profiles and the root configuration of this repository', () => {
    for (const file of [
      'apps/api/src/main.ts',
      'apps/api/test/smoke.test.ts',
      'packages/db/src/index.ts',
      'packages/pool/src/index.ts',
      'packages/graphql/src/index.ts',
      'load/package.json',
      'package.json',
      'tsconfig.base.json',
      'turbo.json',
      'vitest.config.ts',
      'docker-compose.yml',
      'Dockerfile',
      '.npmrc',
      'package-lock.json',
    ]) {
      expect(files.has(file), file).toBe(true);
    }
    expect(text(files, 'packages/db/src/tiers.ts')).toBe(sources.repository.get('packages/db/src/tiers.ts')!.toString('utf8'));
  });

  test("has templates/base's README for the project with its two commands, .gitignore and a generated .env.example", () => {
    const readme = text(files, 'README.md');
    expect(readme).toMatch(/^# my-saas\n/);
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
    expect(readme).toContain('New tenants get the `shared` strategy');
    expect(readme).not.toContain('{{');
    expect(text(files, '.gitignore')).toContain('node_modules/');
    expect(text(files, '.env.example')).toMatch(/^# DATABASE_URL=$/m);
    expect(text(files, '.env.example')).toMatch(/^# PORT=4000$/m);
  });

  test("has nothing of this repository's own: its CI, the generator, templates/, its README", () => {
    expect(text(files, 'README.md')).not.toContain('A TypeScript monorepo template');
    for (const file of files.keys()) {
      expect(REPOSITORY_ONLY.some((entry) => (entry.endsWith('/') ? file.startsWith(entry) : false)), file).toBe(false);
      expect(path.posix.basename(file), file).not.toMatch(/^_(gitignore|npmrc|package-lock\.json)$/);
    }
    const root = json<PackageJson>(files, 'package.json');
    expect(root.name).toBe('my-saas');
    expect(Object.values(root.scripts ?? {}).join('\n')).not.toContain('create-tenant-app');
    expect(Object.keys(json<{ packages: object }>(files, 'package-lock.json').packages).join('\n')).not.toContain('create-tenant-app');
  });

  test('names its packages, their dependencies and imports by the chosen scope', () => {
    for (const [file, contents] of files) expect(contents.toString('utf8'), file).not.toContain('@tenant-app/');
    const names = packageJsons(files).filter((file) => file !== 'package.json').map((file) => json<PackageJson>(files, file).name);
    expect(names.sort()).toEqual(expect.arrayContaining(['@acme/api', '@acme/db', '@acme/graphql', '@acme/load', '@acme/pool']));
    expect(names.every((name) => name.startsWith('@acme/'))).toBe(true);
    expect(json<PackageJson>(files, 'apps/api/package.json').dependencies).toHaveProperty(['@acme/db'], '*');
    expect(text(files, 'apps/api/src/context.ts')).toMatch(/from '@acme\/db';/);
  });

  test('pins every dependency to one version; siblings are "*"', () => {
    for (const file of packageJsons(files)) {
      const manifest = json<PackageJson>(files, file);
      for (const [name, version] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
        expect(`${file}: ${name}@${version}`).toMatch(name.startsWith('@acme/') ? /@\*$/ : /@\d+\.\d+\.\d+(-[\w.]+)?$/);
      }
    }
  });
});

test.each(STRATEGIES)('the %s strategy is the default of new tenants, in default-strategy.ts and the README', (strategy) => {
  const files = composeProject(sources, { ...defaults, strategy });
  expect(text(files, 'packages/db/src/default-strategy.ts')).toMatch(
    new RegExp(`export const DEFAULT_TENANT_STRATEGY: TenantStrategy = '${strategy}';`),
  );
  expect(text(files, 'README.md')).toContain(`New tenants get the \`${strategy}\` strategy`);
});

test('without load profiles: no load/, no workspace, script, dependency or lockfile entry for it', () => {
  const files = composeProject(sources, { ...defaults, load: false });
  expect([...files.keys()].filter((file) => file.startsWith('load/'))).toEqual([]);
  const root = json<PackageJson>(files, 'package.json');
  expect(root.workspaces).toEqual(['apps/*', 'packages/*']);
  expect(root.scripts).not.toHaveProperty('load');
  expect(root.scripts).not.toHaveProperty('bench');
  expect(root.scripts).toHaveProperty('start');
  for (const file of packageJsons(files)) expect(text(files, file), file).not.toContain('@acme/load');
  const lock = json<{ packages: Record<string, { workspaces?: string[] }> }>(files, 'package-lock.json');
  expect(Object.keys(lock.packages).filter((key) => key === 'load' || key.startsWith('load/') || key.endsWith('@acme/load'))).toEqual([]);
  expect(lock.packages['']!.workspaces).toEqual(['apps/*', 'packages/*']);
});

describe('a project without telemetry (and so without load profiles, whose runner starts telemetry itself)', () => {
  let files: Map<string, Buffer>;
  beforeAll(() => {
    files = composeProject(sources, { ...defaults, telemetry: false, load: false });
  });

  test('has no telemetry package or tests, nothing that imports it, and no dependency on it; libraries keep the OTel API', () => {
    expect(sources.repository.has('packages/telemetry/package.json')).toBe(true);
    expect([...files.keys()].filter((file) => /^packages\/telemetry\/|^apps\/api\/test\/(telemetry|otlp-export)\.test\.ts$/.test(file))).toEqual([]);
    for (const [file, contents] of files) expect(contents.toString('utf8'), file).not.toMatch(/@acme\/telemetry\b/);
    expect(json<PackageJson>(files, 'packages/pool/package.json').dependencies).toHaveProperty(['@opentelemetry/api']);
  });

  test("gets templates/no-telemetry's seam, which exports what the repository's seam exports", async () => {
    const seam = 'apps/api/src/telemetry.ts';
    expect(text(files, seam)).toBe(sources.layers.get('no-telemetry')!.get(seam)!.toString('utf8'));
    const repositorySeam = (await import(path.join(repositoryRoot, seam))) as Record<string, unknown>;
    const noOpSeam = (await import(path.join(repositoryRoot, 'templates/no-telemetry', seam))) as Record<string, unknown>;
    const shape = (module: Record<string, unknown>) => Object.fromEntries(Object.entries(module).map(([name, value]) => [name, typeof value]));
    expect(shape(noOpSeam)).toEqual(shape(repositorySeam));
  });
});

describe('an optional part left out, on a repository that has one', () => {
  // The shape of the telemetry package: its own folder, a dependency of the API, its tests and a
  // seam file that imports it. Built here so that the mechanism is pinned on its own.
  const manifest = (name: string, dependencies: Record<string, string> = {}) =>
    Buffer.from(JSON.stringify({ name, version: '0.1.0', dependencies }));
  const synthetic: TemplateSources = {
    repository: new Map([
      ['package.json', Buffer.from(JSON.stringify({ name: 'tenant-app', workspaces: ['apps/*', 'packages/*', 'load'], scripts: { load: 'tsx load/src/cli.ts', create: 'node packages/create-tenant-app/dist/cli.js' } }))],
      ['apps/api/package.json', manifest('@tenant-app/api', { '@tenant-app/telemetry': '*', '@tenant-app/db': '*', '@opentelemetry/api': '1.9.1' })],
      ['apps/api/src/telemetry.ts', Buffer.from("export { startTelemetry } from '@tenant-app/telemetry';\n")],
      ['apps/api/test/telemetry.test.ts', Buffer.from("import '@tenant-app/telemetry/testing';\n")],
      ['apps/api/test/limits.test.ts', Buffer.from("import { LIST } from '../../../load/src/operations.ts';\n")],
      ['packages/db/package.json', manifest('@tenant-app/db')],
      ['packages/pool/package.json', manifest('@tenant-app/pool', { '@opentelemetry/api': '1.9.1' })],
      ['packages/telemetry/package.json', manifest('@tenant-app/telemetry', { '@opentelemetry/sdk-node': '0.223.0' })],
      ['packages/telemetry/src/index.ts', Buffer.from('export const startTelemetry = () => {};\n')],
      ['load/package.json', manifest('@tenant-app/load', { '@tenant-app/api': '*' })],
    ]),
    layers: new Map([
      ['base', new Map([['README.md', Buffer.from('# {{name}}\n')]])],
      ['generated', new Map()],
      ['strategy-shared', new Map()],
      ['no-telemetry', new Map([['apps/api/src/telemetry.ts', Buffer.from('export function startTelemetry() {}\n')]])],
    ]),
  };

  const parts: OptionalPart[] = [
    { option: 'telemetry', paths: ['packages/telemetry/'], overlay: 'no-telemetry' },
    { option: 'load', paths: ['load/'] },
  ];

  test('removes its folder, its tests and every dependency on its package, overlays the seam; libraries keep the OTel API', () => {
    const files = composeProject(synthetic, { ...defaults, telemetry: false }, parts);
    expect([...files.keys()].sort()).toEqual([
      'README.md',
      'apps/api/package.json',
      'apps/api/src/telemetry.ts',
      'apps/api/test/limits.test.ts',
      'load/package.json',
      'package.json',
      'packages/db/package.json',
      'packages/pool/package.json',
    ]);
    expect(json<PackageJson>(files, 'apps/api/package.json').dependencies).toEqual({ '@acme/db': '*', '@opentelemetry/api': '1.9.1' });
    expect(json<PackageJson>(files, 'packages/pool/package.json').dependencies).toEqual({ '@opentelemetry/api': '1.9.1' });
    expect(text(files, 'apps/api/src/telemetry.ts')).toBe('export function startTelemetry() {}\n');
    expect(json<PackageJson>(files, 'package.json').scripts).toEqual({ load: 'tsx load/src/cli.ts' });
  });

  test('keeps it all with the option on', () => {
    const files = composeProject(synthetic, defaults, parts);
    expect(files.has('packages/telemetry/src/index.ts')).toBe(true);
    expect(json<PackageJson>(files, 'apps/api/package.json').dependencies).toHaveProperty(['@acme/telemetry'], '*');
    expect(text(files, 'apps/api/src/telemetry.ts')).toContain("from '@acme/telemetry'");
  });

  test('a file that still imports the package left out refuses the choice, and says which choices work', () => {
    const runner = new Map([...synthetic.repository, ['load/src/server.ts', Buffer.from("import { startTelemetry } from '@tenant-app/telemetry';\n")]]);
    const withRunner = { ...synthetic, repository: runner };
    expect(() => composeProject(withRunner, { ...defaults, telemetry: false }, parts)).toThrow(
      new InvalidInputError(
        '--no-telemetry: load/src/server.ts uses telemetry and has no variant without it in templates/, so the project would not build: keep telemetry, or add --no-load',
      ),
    );
    expect(composeProject(withRunner, { ...defaults, telemetry: false, load: false }, parts).has('load/src/server.ts')).toBe(false);
  });

  test('a test that imports a part left out, by package or by relative path, goes with it', () => {
    expect(composeProject(synthetic, { ...defaults, telemetry: false }, parts).has('apps/api/test/telemetry.test.ts')).toBe(false);
    const withoutLoad = composeProject(synthetic, { ...defaults, load: false }, parts);
    expect(withoutLoad.has('apps/api/test/limits.test.ts')).toBe(false);
    expect(withoutLoad.has('apps/api/test/telemetry.test.ts')).toBe(true);
  });

  test('an overlay that would add a file instead of replacing one is refused: the repository moved the file', () => {
    const moved: TemplateSources = {
      ...synthetic,
      layers: new Map([...synthetic.layers, ['strategy-schema', new Map([['packages/db/src/default-strategy.ts', Buffer.from('')]])]]),
    };
    expect(() => composeProject(moved, { ...defaults, strategy: 'schema' })).toThrow(TemplateMismatchError);
    expect(() => composeProject(moved, { ...defaults, strategy: 'schema' })).toThrow(/packages\/db\/src\/default-strategy\.ts/);
  });
});
