export type {
  StoredSnapshot,
  SnapshotStore,
  CheckpointStore,
  DeadLetter,
  DeadLetterStore,
  StorageBackend,
} from './types.js';
export {
  FileSnapshotStore,
  FileCheckpointStore,
  FileDeadLetterStore,
  openFileBackend,
} from './fileStores.js';
