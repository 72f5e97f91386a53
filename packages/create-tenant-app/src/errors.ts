/** Bad input (target folder, names, strategy, flags). Nothing was written; the message names the fix. */
export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError';
}

/** A step after the files were written (npm install, git) failed; the project is there, the message says how to finish. */
export class StepFailedError extends Error {
  override readonly name = 'StepFailedError';
}
