import { expect, test } from 'vitest';
import { envExampleFromReadme } from './index.ts';

const readme = `# app

## Configuration

| variable | default | meaning |
|---|---|---|
| \`DATABASE_URL\` | — (embedded Postgres) | the **owner** login |
| \`HOST\` / \`PORT\` | \`127.0.0.1\` / \`4000\` | where the API listens |
| \`MAX_QUERY_DEPTH\` / \`_ALIASES\` | 10 / 10,000 | query limits |
| \`NODE_ENV\` | \`development\` | |

### Your own Postgres

| \`NOT_A_VARIABLE\` | x | y |
`;

test('lists every variable of the configuration table, each default as its value or in words', () => {
  expect(envExampleFromReadme(readme).split('\n').slice(3)).toEqual([
    '',
    '# the owner login',
    '# default: — (embedded Postgres)',
    '# DATABASE_URL=',
    '',
    '# where the API listens',
    '# HOST=127.0.0.1',
    '# PORT=4000',
    '',
    '# query limits',
    '# MAX_QUERY_DEPTH=10',
    '# MAX_QUERY_ALIASES=10000',
    '',
    '# NODE_ENV=development',
    '',
  ]);
});

test('a README without a configuration section is a build error, not an empty file', () => {
  expect(() => envExampleFromReadme('# app\n\n## Usage\n')).toThrow(/no "## Configuration" section/);
});
