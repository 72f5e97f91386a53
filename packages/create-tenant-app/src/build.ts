import { execFile } from 'node:child_process';
import { chmod, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { collectRepositorySources, writeTemplate } from './template-sources.ts';

/**
 * `npm run build`: compiles the CLI to dist/ and stores beside it the template, taken from this
 * repository's own files as they are now, so a generated project is always the code tested here.
 */
const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(packageRoot, 'dist');

await rm(dist, { recursive: true, force: true });
await promisify(execFile)('tsc', ['-p', path.join(packageRoot, 'tsconfig.build.json')], { cwd: packageRoot });
await chmod(path.join(dist, 'cli.js'), 0o755);
await writeTemplate(path.join(dist, 'template'), await collectRepositorySources(path.resolve(packageRoot, '../..')));
