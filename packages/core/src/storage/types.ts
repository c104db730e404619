import type { JsonValue, SnapshotEnvelope, StreamKey } from '../domain/index.js';
import type { EventLog } from '../eventLog/types.js';

/** A snapshot plus what the engine needs to resume from it. */
export interface StoredSnapshot extends SnapshotEnvelope {
  /** Event-log position of the last commit folded into `state`. */
  readonly position: number;
  /**
   * Most recent command ids and the positions of their commits, so a repeated
   * command is recognised although its commit is older than the snapshot.
   */
  readonly recent_commands: ReadonlyArray<readonly [commandId: string, position: number]>;
}

export interface SnapshotStore {
  load(key: StreamKey): Promise<StoredSnapshot | undefined>;
  /** Stores the snapshot unless a newer (or equal) version is already stored. */
  save(snapshot: StoredSnapshot): Promise<void>;
}

/**
 * Named JSON documents written atomically (projection and process-manager
 * checkpoints). A document that cannot be read back loads as `undefined`, so
 * its owner rebuilds.
 */
export interface CheckpointStore {
  load(name: string): Promise<JsonValue | undefined>;
  save(name: string, value: JsonValue): Promise<void>;
}

export interface DeadLetter {
  readonly envelope: JsonValue;
  readonly error: { readonly code: string; readonly message: string };
  readonly ts: string;
}

export interface DeadLetterStore {
  append(processManager: string, letter: DeadLetter): Promise<void>;
  list(processManager: string): Promise<DeadLetter[]>;
}

/** Every kind of storage the engine uses, opened and closed together. */
export interface StorageBackend {
  readonly eventLog: EventLog;
  readonly snapshots: SnapshotStore;
  readonly checkpoints: CheckpointStore;
  readonly deadLetters: DeadLetterStore;
  close(): Promise<void>;
}
