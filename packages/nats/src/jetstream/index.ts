export { ensureStream } from './ensureStream.js';
export type { StreamSpec } from './ensureStream.js';
export { SubjectReader, DIRECT_READ_LIMIT } from './subjectReader.js';
export type { SubjectMessage, SubjectReaderOptions } from './subjectReader.js';
export {
  requireServer,
  parseServerVersion,
  featuresOf,
  atLeast,
  MIN_SERVER_VERSION,
} from './serverVersion.js';
export type { ServerVersion, ServerFeatures } from './serverVersion.js';
export { checkName, checkPrefix, checkInteger } from './names.js';
export { exceededMaxPayload } from './payload.js';
