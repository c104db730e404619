export { openJetStreamBackend } from './openJetStreamBackend.js';
export type { JetStreamBackend } from './openJetStreamBackend.js';
export { JETSTREAM_BACKEND_DEFAULTS, resolveBackendOptions } from './options.js';
export type { JetStreamBackendOptions, ResolvedBackendOptions } from './options.js';
