import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Files by '/'-separated path relative to a folder. */
export type FileTree = ReadonlyMap<string, Buffer>;

/**
 * Files that `npm publish` leaves out of a package (or turns into .npmignore): the template stores
 * them under these names, and a generated project gets the real ones back.
 */
const PACKED_NAMES: Readonly<Record<string, string>> = {
  '.gitignore': '_gitignore',
  '.npmrc': '_npmrc',
  'package-lock.json': '_package-lock.json',
};
const UNPACKED_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(PACKED_NAMES).map(([real, packed]) => [packed, real]),
);

function renameBase(file: string, names: Readonly<Record<string, string>>): string {
  const slash = file.lastIndexOf('/');
  const base = file.slice(slash + 1);
  return Object.hasOwn(names, base) ? `${file.slice(0, slash + 1)}${names[base]}` : file;
}

/** `.gitignore` → `_gitignore`: the name a file has inside the template. */
export const packedName = (file: string) => renameBase(file, PACKED_NAMES);
/** `_gitignore` → `.gitignore`: the name a file has in a generated project. */
export const unpackedName = (file: string) => renameBase(file, UNPACKED_NAMES);

export async function readFileTree(folder: string): Promise<Map<string, Buffer>> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  const tree = new Map<string, Buffer>();
  for (const entry of entries.filter((entry) => entry.isFile())) {
    const file = path.join(entry.parentPath, entry.name);
    tree.set(path.relative(folder, file).split(path.sep).join('/'), await readFile(file));
  }
  return tree;
}

export async function writeFileTree(folder: string, tree: FileTree): Promise<void> {
  for (const [file, contents] of tree) {
    const target = path.join(folder, ...file.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, contents);
  }
}

/** `{"base/README.md": …}` → `{"base": {"README.md": …}}`. */
export function splitByFolder(tree: FileTree): Map<string, Map<string, Buffer>> {
  const folders = new Map<string, Map<string, Buffer>>();
  for (const [file, contents] of tree) {
    const slash = file.indexOf('/');
    const folder = file.slice(0, slash);
    const files = folders.get(folder) ?? new Map<string, Buffer>();
    files.set(file.slice(slash + 1), contents);
    folders.set(folder, files);
  }
  return folders;
}
