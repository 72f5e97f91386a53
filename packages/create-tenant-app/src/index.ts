export { composeProject, TemplateMismatchError } from './composition.ts';
export { createProject, USAGE, type CreateProjectRun, type CreatedProject } from './create-project.ts';
export { envExampleFromReadme } from './env-example.ts';
export { InvalidInputError, StepFailedError } from './errors.ts';
export { OPTIONAL_PARTS, type OptionalPart } from './optional-parts.ts';
export { STRATEGIES, validateOptions, type ProjectOptions, type Strategy } from './options.ts';
export { CancelledError, terminalQuestions, type Questions } from './prompts.ts';
export { assertEmptyTarget, writeProject } from './write-project.ts';
export {
  collectRepositorySources,
  readTemplate,
  writeTemplate,
  REPOSITORY_ONLY,
  type TemplateSources,
} from './template-sources.ts';
