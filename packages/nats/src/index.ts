// Public entry of @tenantfold/nats: explicit exports, filled in per module.
export { connectNats } from './connection/index.js';
export type { NatsSettings, ConnectNatsOptions } from './connection/index.js';
export { openJetStreamBackend, JETSTREAM_BACKEND_DEFAULTS } from './backend/index.js';
export type { JetStreamBackend, JetStreamBackendOptions } from './backend/index.js';
export { JetStreamEventLog, EVENT_LOG_DEFAULTS, CommitSubjects } from './eventLog/index.js';
export type { JetStreamEventLogOptions } from './eventLog/index.js';
export {
  openKvBucket,
  KV_BUCKET_DEFAULTS,
  KvSnapshotStore,
  SNAPSHOT_STORE_DEFAULTS,
  KvCheckpointStore,
  CHECKPOINT_STORE_DEFAULTS,
} from './kv/index.js';
export type {
  KvBucketOptions,
  KvSnapshotStoreOptions,
  KvCheckpointStoreOptions,
} from './kv/index.js';
export { JetStreamDeadLetterStore, DEAD_LETTER_STORE_DEFAULTS } from './deadLetters/index.js';
export type { JetStreamDeadLetterStoreOptions } from './deadLetters/index.js';
export { MIN_SERVER_VERSION } from './jetstream/index.js';
export type { ServerFeatures, ServerVersion } from './jetstream/index.js';
export * from './placement/index.js';
export * from './breaker/index.js';
export { RequestMux } from './requests/requestMux.js';
export type { RequestOptions } from './requests/requestMux.js';
export { TurnPublisher } from './requests/turnPublisher.js';
export {
  placementToYaml,
  parsePlacementYaml,
  readPlacementFile,
} from './placement/placementFile.js';
