export { openKvBucket, KV_BUCKET_DEFAULTS } from './buckets.js';
export type { KvBucketOptions } from './buckets.js';
export { KvSnapshotStore, SNAPSHOT_STORE_DEFAULTS } from './kvSnapshotStore.js';
export type { KvSnapshotStoreOptions } from './kvSnapshotStore.js';
export { KvCheckpointStore, CHECKPOINT_STORE_DEFAULTS } from './kvCheckpointStore.js';
export type { KvCheckpointStoreOptions } from './kvCheckpointStore.js';
