import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { envExampleFromReadme } from './env-example.ts';
import { isAmong } from './optional-parts.ts';
import { packedName, readFileTree, splitByFolder, writeFileTree, type FileTree } from './file-tree.ts';

/** Everything a generated project is composed of, as the build stores it. */
export interface TemplateSources {
  /** This repository's files (tracked by git, as they are in the work tree), less {@link REPOSITORY_ONLY}. */
  repository: FileTree;
  /**
   * The layers of whole files put over the repository's: each folder of templates/ (`base`,
   * `strategy-schema`, `no-telemetry`, …) and `generated`, files derived from the repository's own
   * sources (`.env.example` from the README's configuration table).
   */
  layers: ReadonlyMap<string, FileTree>;
}

/**
 * What stays with this repository: its CI, the generator and its templates, and the files that a
 * project gets its own of (templates/base has its README and .gitignore). A trailing slash names a folder.
 */
export const REPOSITORY_ONLY: readonly string[] = [
  '.ci/',
  'packages/create-tenant-app/',
  'templates/',
  'README.md',
  '.gitignore',
];


const run = promisify(execFile);

/** Reads the sources from the repository at `root`: what the build turns into the template. */
export async function collectRepositorySources(root: string): Promise<TemplateSources> {
  // Tracked files only: whatever git ignores (node_modules, .data, load/results) or nobody has
  // added yet is not part of the project. -z keeps odd file names intact.
  const { stdout } = await run('git', ['ls-files', '-z', '--cached'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  const { stdout: deleted } = await run('git', ['ls-files', '-z', '--deleted'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  const gone = new Set(deleted.split('\0'));
  const repository = new Map<string, Buffer>();
  for (const file of stdout.split('\0')) {
    if (file === '' || gone.has(file) || isAmong(file, REPOSITORY_ONLY)) continue;
    repository.set(packedName(file), await readFile(path.join(root, file)));
  }
  const layers = splitByFolder(await readFileTree(path.join(root, 'templates')));
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  layers.set('generated', new Map([['.env.example', Buffer.from(envExampleFromReadme(readme))]]));
  return { repository, layers };
}

/** Stores the sources as the build's output: `repository/` and `layers/<name>/` under `folder`. */
export async function writeTemplate(folder: string, sources: TemplateSources): Promise<void> {
  await writeFileTree(path.join(folder, 'repository'), sources.repository);
  for (const [name, tree] of sources.layers) await writeFileTree(path.join(folder, 'layers', name), tree);
}

/** Reads what {@link writeTemplate} stored. */
export async function readTemplate(folder: string): Promise<TemplateSources> {
  return {
    repository: await readFileTree(path.join(folder, 'repository')),
    layers: splitByFolder(await readFileTree(path.join(folder, 'layers'))),
  };
}
