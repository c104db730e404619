export {
  TenantId,
  AggregateId,
  AggregateType,
  Version,
  Uuid,
  StreamKey,
  DEFAULT_TENANT_TOKEN,
} from './ids.js';
export {
  assertJson,
  jsonProblem,
  jsonBytes,
  preview,
  parseJson,
  assertPayloadSize,
  isJsonObject,
  MAX_PAYLOAD_BYTES,
} from './json.js';
export type { JsonValue, JsonObject, JsonPrimitive, JsonProblem } from './json.js';
export { heapFootprint } from './footprint.js';
export {
  DEFAULT_DATA_LIMITS,
  DATA_LIMIT_KEYS,
  DATA_LIMIT_CEILINGS,
  resolveDataLimits,
} from './limits.js';
export type { DataLimits } from './limits.js';
export {
  parseCommand,
  parseEvent,
  parseCommandEnvelope,
  parseEventEnvelope,
  commandEnvelope,
  streamKeyOf,
  traceIdOf,
} from './envelopes.js';
export type {
  Command,
  Event,
  Metadata,
  CommandEnvelope,
  EventEnvelope,
  SnapshotEnvelope,
  CommandContext,
} from './envelopes.js';
export { canonicalJson, stateHash } from './stateHash.js';
