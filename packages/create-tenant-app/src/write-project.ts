import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidInputError } from './errors.ts';
import { writeFileTree } from './file-tree.ts';

/** Refuses a target that is a file or a folder with anything in it: a project never mixes with other files. */
export async function assertEmptyTarget(directory: string): Promise<void> {
  const found = await stat(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (found === undefined) return;
  if (!found.isDirectory()) throw new InvalidInputError(`${directory} is a file: name a new folder for the project`);
  const entries = await readdir(directory);
  if (entries.length > 0) {
    throw new InvalidInputError(
      `${directory} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): name a new or empty folder`,
    );
  }
}

/**
 * Writes the files of a project into `directory` (new, or an empty folder). If anything fails on
 * the way, what was written is removed again — the folder too, unless it was there before.
 */
export async function writeProject(files: ReadonlyMap<string, Buffer>, directory: string): Promise<void> {
  await assertEmptyTarget(directory);
  // The first folder that mkdir had to make (the target or one of its parents), if any.
  const firstCreated = await mkdir(directory, { recursive: true });
  try {
    await writeFileTree(directory, files);
  } catch (error) {
    if (firstCreated !== undefined) await rm(firstCreated, { recursive: true, force: true });
    else for (const entry of await readdir(directory)) await rm(path.join(directory, entry), { recursive: true, force: true });
    throw error;
  }
}
