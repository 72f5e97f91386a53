import type { ProjectOptions } from './options.ts';

/** A part of the repository that a project may leave out. */
export interface OptionalPart {
  /** The option that includes it. */
  option: keyof Pick<ProjectOptions, 'telemetry' | 'load'>;
  /**
   * Paths of the repository left out without it: a trailing slash names a folder (its package
   * too: dependencies on it are dropped), anything else one file. Tests that import the part go
   * with it by themselves; a test that needs it without importing it is listed here.
   */
  paths: readonly string[];
  /**
   * Layer of templates/ whose whole files replace the repository's without it: the seams that
   * import the part get a variant that does not. A file that imports the part's package and has
   * no variant here makes the composition fail (see `composeProject`).
   */
  overlay?: string;
}

export const OPTIONAL_PARTS: readonly OptionalPart[] = [
  {
    option: 'telemetry',
    // otlp-export.test.ts checks the spans that a started server exports.
    paths: ['packages/telemetry/', 'apps/api/test/otlp-export.test.ts'],
    overlay: 'no-telemetry',
  },
  { option: 'load', paths: ['load/'] },
];

/** Whether `file` is one of `paths` or inside one of its folders. */
export function isAmong(file: string, paths: readonly string[]): boolean {
  return paths.some((entry) => (entry.endsWith('/') ? file.startsWith(entry) : file === entry));
}
