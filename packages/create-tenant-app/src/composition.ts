import { unpackedName, type FileTree } from './file-tree.ts';
import { OPTIONAL_PARTS, type OptionalPart } from './optional-parts.ts';
import type { ProjectOptions } from './options.ts';
import type { TemplateSources } from './template-sources.ts';

/** The scope of this repository's packages, renamed to the project's. */
const REPOSITORY_SCOPE = '@tenant-app/';
/** The placeholders of templates/base (its README), replaced by the project's values. */
const PLACEHOLDERS: Readonly<Record<string, (options: ProjectOptions) => string>> = {
  '{{name}}': (options) => options.name,
  '{{strategy}}': (options) => options.strategy,
};

/** A layer of templates/ that does not fit the repository it was built with. */
export class TemplateMismatchError extends Error {
  override readonly name = 'TemplateMismatchError';
}

/**
 * The files of a new project, by path: the repository's own files less the parts left out, then
 * whole files of templates/ on top — `base` (may add files), `generated`, `strategy-<strategy>`
 * and the overlay of every part left out (these replace files the project has, never add one).
 * The only edits inside files are the scope rename, the package.json fields that name what was
 * left out, and the placeholders of `base`.
 */
export function composeProject(sources: TemplateSources, options: ProjectOptions): Map<string, Buffer> {
  const leftOut = OPTIONAL_PARTS.filter((part) => !options[part.option]);
  const folders = leftOut.flatMap((part) => part.folders);
  const project = new Map([...sources.repository].filter(([file]) => !folders.some((folder) => file.startsWith(folder))));
  const omittedPackages = packageNames(sources.repository, folders);

  overlay(project, layer(sources, 'base'), { mayAdd: true, options });
  overlay(project, layer(sources, 'generated'), { mayAdd: true });
  overlay(project, layer(sources, `strategy-${options.strategy}`), { mayAdd: false });
  for (const part of leftOut.filter((part): part is Required<OptionalPart> => part.overlay !== undefined)) {
    overlay(project, layer(sources, part.overlay), { mayAdd: false });
  }

  const result = new Map<string, Buffer>();
  for (const [file, contents] of project) {
    let text = isText(contents) ? contents.toString('utf8') : undefined;
    if (text !== undefined && /(^|\/)package\.json$/.test(file)) text = fitPackageJson(file, text, options, folders, omittedPackages);
    if (text !== undefined && file === '_package-lock.json') text = fitLockfile(text, options, folders, omittedPackages);
    if (text !== undefined) text = text.replaceAll(REPOSITORY_SCOPE, `@${options.scope}/`);
    result.set(unpackedName(file), text === undefined ? contents : Buffer.from(text));
  }
  return result;
}

function layer(sources: TemplateSources, name: string): FileTree {
  const tree = sources.layers.get(name);
  if (!tree) throw new TemplateMismatchError(`templates/${name} is missing from the template`);
  return tree;
}

function overlay(
  project: Map<string, Buffer>,
  tree: FileTree,
  { mayAdd, options }: { mayAdd: boolean; options?: ProjectOptions },
): void {
  for (const [file, contents] of tree) {
    if (!mayAdd && !project.has(file)) {
      throw new TemplateMismatchError(
        `an overlay brings ${file}, which the repository does not have: it replaces whole files, so move it where the file now lives`,
      );
    }
    project.set(file, options && isText(contents) ? fillPlaceholders(contents.toString('utf8'), options) : contents);
  }
}

function fillPlaceholders(text: string, options: ProjectOptions): Buffer {
  let filled = text;
  for (const [placeholder, value] of Object.entries(PLACEHOLDERS)) filled = filled.replaceAll(placeholder, value(options));
  return Buffer.from(filled);
}

/** Names of the packages (package.json `name`) under the given folders. */
function packageNames(tree: FileTree, folders: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const [file, contents] of tree) {
    if (file.endsWith('/package.json') && folders.some((folder) => file.startsWith(folder))) {
      names.add((JSON.parse(contents.toString('utf8')) as { name: string }).name);
    }
  }
  return names;
}

interface PackageJson {
  name?: string;
  workspaces?: string[];
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies'] as const;

/**
 * The project's name on the root package.json; no dependency on a package left out; no root
 * script and no workspace that runs or names a folder left out (or this repository's own: the
 * generator).
 */
function fitPackageJson(
  file: string,
  text: string,
  options: ProjectOptions,
  folders: readonly string[],
  omittedPackages: ReadonlySet<string>,
): string {
  const json = JSON.parse(text) as PackageJson;
  for (const field of DEPENDENCY_FIELDS) {
    const dependencies = json[field];
    if (dependencies) for (const name of omittedPackages) delete dependencies[name];
  }
  if (file === 'package.json') {
    json.name = options.name;
    const gone = [...folders, 'packages/create-tenant-app/'];
    const mentions = (command: string) => gone.some((folder) => new RegExp(`(^|[\\s'"=])${escape(folder)}`).test(command));
    if (json.scripts) json.scripts = Object.fromEntries(Object.entries(json.scripts).filter(([, command]) => !mentions(command)));
    if (json.workspaces) json.workspaces = json.workspaces.filter((workspace) => !gone.includes(`${workspace}/`));
  }
  return `${JSON.stringify(json, null, 2)}\n`;
}

interface Lockfile {
  name?: string;
  packages: Record<string, { name?: string; workspaces?: string[] }>;
}

/**
 * This repository's lockfile, so that the project installs the very versions tested here: less
 * the entries of the folders left out and of the generator (npm install prunes what only they used).
 */
function fitLockfile(text: string, options: ProjectOptions, folders: readonly string[], omittedPackages: ReadonlySet<string>): string {
  const lock = JSON.parse(text) as Lockfile;
  lock.name = options.name;
  const gone = [...folders, 'packages/create-tenant-app/'];
  const goneNames = new Set([...omittedPackages, 'create-tenant-app']);
  for (const key of Object.keys(lock.packages)) {
    const location = `${key}/`;
    const linkedName = key.startsWith('node_modules/') ? key.slice('node_modules/'.length) : undefined;
    if (gone.some((folder) => location.startsWith(folder)) || (linkedName !== undefined && goneNames.has(linkedName))) {
      delete lock.packages[key];
    }
  }
  const root = lock.packages[''];
  if (root) {
    root.name = options.name;
    if (root.workspaces) root.workspaces = root.workspaces.filter((workspace) => !gone.includes(`${workspace}/`));
  }
  return `${JSON.stringify(lock, null, 2)}\n`;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Text unless it holds a NUL byte, as git decides. */
function isText(contents: Buffer): boolean {
  return !contents.subarray(0, 8000).includes(0);
}
