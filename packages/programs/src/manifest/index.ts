export { loadManifest } from './loadManifest.js';
export { loadManifestPrograms, loadProgramDeciders } from './loadProgramDeciders.js';
export type { LoadProgramDecidersOptions, ManifestPrograms } from './loadProgramDeciders.js';
export { ManifestError } from './manifestError.js';
export type { ManifestIssue } from './manifestError.js';
export type {
  Manifest,
  AggregateDefinition,
  ProgramFile,
  QuerySettings,
  ReactorDefinition,
} from './types.js';
