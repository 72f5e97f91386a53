/**
 * `.env.example` from the README's configuration table (`| \`VAR\` | default | meaning |`), the
 * one list of the API's variables that people read: a variable documented there is in every
 * generated project, and none that is not.
 */
export function envExampleFromReadme(readme: string): string {
  // From its heading to the next heading (## or deeper), or to the end.
  const section = /^## Configuration\n([\s\S]*?)(?=^##|(?![\s\S]))/m.exec(readme)?.[1];
  if (section === undefined) throw new Error('README.md has no "## Configuration" section to take .env.example from');
  const lines = [
    '# The API\'s environment (apps/api/src/env.ts checks it at start), with each default.',
    '# Nothing reads this file by itself: copy it to .env, uncomment what you change, and load it',
    '# with `set -a; . ./.env; set +a` before `npm start`.',
  ];
  for (const row of section.split('\n').filter((line) => /^\| `[A-Z]/.test(line))) {
    const [names = '', defaults = '', meaning = ''] = row.split(/ \| /).map((cell) => cell.replace(/^\| ?| ?\|$/g, ''));
    const variables = variableNames(names);
    const values = defaults.split(' / ');
    lines.push('');
    if (meaning !== '') lines.push(`# ${plain(meaning)}`);
    variables.forEach((variable, index) => {
      // A default that is one literal value becomes the line's value; any other (such as "—
      // (embedded Postgres)") is said in words.
      const literal = values.length === variables.length ? literalValue(values[index]!) : undefined;
      if (literal === undefined && defaults !== '') lines.push(`# default: ${plain(defaults)}`);
      lines.push(`# ${variable}=${literal ?? ''}`);
    });
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The variables of a row's first cell: "`HOST` / `PORT`", or "`MAX_QUERY_DEPTH` / `_ALIASES`",
 * where a name starting with "_" replaces the last word of the first.
 */
function variableNames(cell: string): string[] {
  const names = [...cell.matchAll(/`(_?[A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!);
  const stem = names[0]?.replace(/_[A-Z0-9]+$/, '') ?? '';
  return names.map((name) => (name.startsWith('_') ? `${stem}${name}` : name));
}

/** "`4000`" and "10,000,000" are values; "on unless `NODE_ENV=production`" is not. */
function literalValue(cell: string): string | undefined {
  const code = /^`([^`]*)`$/.exec(cell)?.[1];
  if (code !== undefined) return code;
  return /^\d[\d,]*$/.test(cell) ? cell.replaceAll(',', '') : undefined;
}

/** Markdown emphasis and code marks dropped: the file is read as plain text. */
function plain(markdown: string): string {
  return markdown.replace(/\*\*|`/g, '');
}
