export {
  tenantfoldProtos,
  commandServiceClient,
  queryServiceClient,
  PROTO_DIR,
  PROTO_LOADER_OPTIONS,
} from './protos.js';
export {
  toServiceError,
  metadataValue,
  ERROR_CODE_KEY,
  ERROR_FIELD_KEY,
  OWNER_NODE_KEY,
} from './status.js';
export { callContextOf, commandBodyOf, tenantOfCall } from './calls.js';
export type { CallContext, SubmitCommandRequest } from './calls.js';
export { outcomeOfCode } from './outcomes.js';
export type { FailureOutcome } from './outcomes.js';
export {
  commandSubject,
  decodeSubmitRequest,
  HOP_HEADERS,
  hopErrorOf,
  jsonBodyOf,
  submitCommandCodec,
} from './hop.js';
export type { HopFormat } from './hop.js';
