import type { ProjectOptions } from './options.ts';

/** A part of the repository that a project may leave out. */
export interface OptionalPart {
  /** The option that includes it. */
  option: keyof Pick<ProjectOptions, 'telemetry' | 'load'>;
  /** Folders of the repository left out without it (their packages too: dependencies on them are dropped). */
  folders: readonly string[];
  /**
   * Layer of templates/ whose whole files replace the repository's without it: the seams that
   * import the part get a variant that does not.
   */
  overlay?: string;
}

export const OPTIONAL_PARTS: readonly OptionalPart[] = [
  { option: 'telemetry', folders: ['packages/telemetry/'] },
  { option: 'load', folders: ['load/'] },
];
