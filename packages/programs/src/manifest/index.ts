export { loadManifest } from './loadManifest.js';
export { loadProgramDeciders } from './loadProgramDeciders.js';
export type { LoadProgramDecidersOptions } from './loadProgramDeciders.js';
export { ManifestError } from './manifestError.js';
export type { ManifestIssue } from './manifestError.js';
export type { Manifest, AggregateDefinition, ProgramFile, QuerySettings } from './types.js';
