import type { EventEnvelope } from '../domain/index.js';
import type { AggregateType, StreamKey, TenantId, Version } from '../domain/index.js';

/**
 * Everything one command produced: written and read as one unit, so a crash
 * never leaves half a command in a stream.
 */
export interface Commit {
  readonly command_id: string;
  readonly stream: StreamKey;
  /** Aggregate version after the commit (= version of its last event). */
  readonly version: Version;
  readonly events: readonly EventEnvelope[];
  readonly timestamp: string;
}

/**
 * A commit as stored. `position` orders the commits of one stream and is what
 * appends are checked against; its meaning is the backend's (the file log uses
 * the version, JetStream the stream sequence). 0 means "before the first".
 */
export interface StoredCommit extends Commit {
  readonly position: number;
}

export interface AppendResult {
  readonly commit: StoredCommit;
  /** True when the log already held this command_id: nothing was appended. */
  readonly duplicate: boolean;
}

export interface StreamFilter {
  readonly tenant?: TenantId;
  readonly types?: readonly AggregateType[];
}

/** Append-only storage of commits, one stream per aggregate. */
export interface EventLog {
  /**
   * Appends `commit` if the stream's last position is `expectedPosition`;
   * otherwise throws `VersionConflictError`. One atomic, durable write.
   */
  append(commit: Commit, expectedPosition: number): Promise<AppendResult>;
  /** The stream's commits with a position greater than `afterPosition`, in order. */
  read(key: StreamKey, afterPosition?: number): AsyncIterable<StoredCommit>;
  /** The commit at exactly `position`, if the stream holds it. */
  readAt(key: StreamKey, position: number): Promise<StoredCommit | undefined>;
  /**
   * Optional stream-wide read: the commits of every stream the filter selects
   * with a position greater than `afterPosition`, in position order, up to the
   * last commit stored when the read starts. Only for backends whose positions
   * are comparable across streams (JetStream: the stream sequence).
   */
  readAll?(filter: StreamFilter, afterPosition?: number): AsyncIterable<StoredCommit>;
  /** Every stream that holds at least one commit, optionally filtered. */
  streams(filter?: StreamFilter): AsyncIterable<StreamKey>;
  close(): Promise<void>;
}
