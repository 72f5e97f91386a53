import { posix } from 'node:path';
import { InvalidInputError } from './errors.ts';
import { unpackedName, type FileTree } from './file-tree.ts';
import { isAmong, OPTIONAL_PARTS, type OptionalPart } from './optional-parts.ts';
import type { ProjectOptions } from './options.ts';
import { REPOSITORY_ONLY, type TemplateSources } from './template-sources.ts';

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
 * and the overlay of every part left out (these replace files the project has, never add one) —
 * less the tests that import a part left out. The only edits inside files are the scope rename,
 * the package.json and lockfile fields that name what was left out, and the placeholders of `base`.
 */
export function composeProject(
  sources: TemplateSources,
  options: ProjectOptions,
  parts: readonly OptionalPart[] = OPTIONAL_PARTS,
): Map<string, Buffer> {
  const leftOut = parts.filter((part) => !options[part.option]);
  const paths = leftOut.flatMap((part) => part.paths);
  const project = new Map([...sources.repository].filter(([file]) => !isAmong(file, paths)));
  const omittedPackages = packageNames(sources.repository, paths);
  // Folders a root script, a workspace or a lockfile entry may still name: those left out, and
  // this repository's own (the generator, its CI).
  const gone = [...paths, ...REPOSITORY_ONLY].filter((entry) => entry.endsWith('/'));

  overlay(project, sources, 'base', { mayAdd: true, fillFrom: options });
  overlay(project, sources, 'generated', { mayAdd: true });
  overlay(project, sources, `strategy-${options.strategy}`, { mayAdd: false });
  for (const part of leftOut.filter((part): part is Required<OptionalPart> => part.overlay !== undefined)) {
    overlay(project, sources, part.overlay, { mayAdd: false });
  }

  dropDependents(project, sources, leftOut, parts);

  const result = new Map<string, Buffer>();
  for (const [file, contents] of project) {
    let text = isText(contents) ? contents.toString('utf8') : undefined;
    if (text !== undefined && /(^|\/)package\.json$/.test(file)) text = fitPackageJson(file, text, options, gone, omittedPackages);
    if (text !== undefined && file === '_package-lock.json') text = fitLockfile(text, options, gone, omittedPackages);
    if (text !== undefined) text = text.replaceAll(REPOSITORY_SCOPE, `@${options.scope}/`);
    result.set(unpackedName(file), text === undefined ? contents : Buffer.from(text));
  }
  return result;
}

/** Puts the files of a layer over the project's; `fillFrom` fills the placeholders of its text files. */
function overlay(
  project: Map<string, Buffer>,
  sources: TemplateSources,
  name: string,
  { mayAdd, fillFrom }: { mayAdd: boolean; fillFrom?: ProjectOptions },
): void {
  const tree = sources.layers.get(name);
  if (!tree) throw new TemplateMismatchError(`templates/${name} is missing from the template`);
  for (const [file, contents] of tree) {
    if (!mayAdd && !project.has(file)) {
      throw new TemplateMismatchError(
        `templates/${name} brings ${file}, which the repository does not have: an overlay replaces whole files, so move it where the file now lives`,
      );
    }
    project.set(file, fillFrom && isText(contents) ? fillPlaceholders(contents.toString('utf8'), fillFrom) : contents);
  }
}

function fillPlaceholders(text: string, options: ProjectOptions): Buffer {
  let filled = text;
  for (const [placeholder, value] of Object.entries(PLACEHOLDERS)) filled = filled.replaceAll(placeholder, value(options));
  return Buffer.from(filled);
}

/**
 * Files that import a part left out, by its package or by a relative path into it: a test goes
 * with the part (it tests the part, or the API with it); any other file would break the
 * project's build, so the choice is refused, naming the choices that work until that file has a
 * seam (a variant in the part's overlay).
 */
function dropDependents(
  project: Map<string, Buffer>,
  sources: TemplateSources,
  leftOut: readonly OptionalPart[],
  parts: readonly OptionalPart[],
): void {
  for (const part of leftOut) {
    const names = [...packageNames(sources.repository, part.paths)];
    const reaches = (file: string, specifier: string) =>
      specifier.startsWith('.')
        ? isAmong(posix.join(posix.dirname(file), specifier), part.paths)
        : names.some((name) => specifier === name || specifier.startsWith(`${name}/`));
    for (const [file, contents] of project) {
      if (!/\.[cm]?[jt]sx?$/.test(file)) continue;
      const specifiers = [...contents.toString('utf8').matchAll(IMPORT_SPECIFIER)].map((match) => match[1]!);
      if (!specifiers.some((specifier) => reaches(file, specifier))) continue;
      if (/\.test\.[cm]?[jt]sx?$/.test(file)) {
        project.delete(file);
        continue;
      }
      const holder = parts.find((other) => isAmong(file, other.paths));
      throw new InvalidInputError(
        `--no-${part.option}: ${file} uses ${part.option} and has no variant without it in templates/, ` +
          `so the project would not build: keep ${part.option}${holder ? `, or add --no-${holder.option}` : ''}`,
      );
    }
  }
}

/** `from '…'`, `import '…'`, `import('…')`: the module a file names. */
const IMPORT_SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"]([^'"\n]+)['"]/g;

/** Names of the packages (package.json `name`) in the given folders. */
function packageNames(tree: FileTree, paths: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const [file, contents] of tree) {
    if (file.endsWith('/package.json') && isAmong(file, paths)) {
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
 * script and no workspace that runs or names a folder that is gone.
 */
function fitPackageJson(
  file: string,
  text: string,
  options: ProjectOptions,
  gone: readonly string[],
  omittedPackages: ReadonlySet<string>,
): string {
  const json = JSON.parse(text) as PackageJson;
  for (const field of DEPENDENCY_FIELDS) {
    const dependencies = json[field];
    if (dependencies) for (const name of omittedPackages) delete dependencies[name];
  }
  if (file === 'package.json') {
    json.name = options.name;
    const mentions = (command: string) => gone.some((folder) => new RegExp(`(^|[\\s'"=])${escape(folder)}`).test(command));
    if (json.scripts) json.scripts = Object.fromEntries(Object.entries(json.scripts).filter(([, command]) => !mentions(command)));
    if (json.workspaces) json.workspaces = json.workspaces.filter((workspace) => !gone.includes(`${workspace}/`));
  }
  return `${JSON.stringify(json, null, 2)}\n`;
}

interface Lockfile {
  name?: string;
  packages: Record<string, PackageJson & { link?: boolean; resolved?: string }>;
}

/**
 * This repository's lockfile, so that the project installs the very versions tested here: less
 * the workspaces that are gone, the links and the dependencies to them (npm install prunes the
 * packages that only they used).
 */
function fitLockfile(text: string, options: ProjectOptions, gone: readonly string[], omittedPackages: ReadonlySet<string>): string {
  const lock = JSON.parse(text) as Lockfile;
  lock.name = options.name;
  const isGone = (location: string) => gone.some((folder) => `${location}/`.startsWith(folder));
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (isGone(key) || (entry.link && entry.resolved !== undefined && isGone(entry.resolved))) {
      delete lock.packages[key];
      continue;
    }
    for (const field of DEPENDENCY_FIELDS) {
      const dependencies = entry[field];
      if (dependencies) for (const name of omittedPackages) delete dependencies[name];
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
