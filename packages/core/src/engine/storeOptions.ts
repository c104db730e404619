import type { DataLimits, StreamKey } from '../domain/index.js';
import { DEFAULT_DATA_LIMITS } from '../domain/index.js';
import type { StoredCommit } from '../eventLog/index.js';
import type { Logger } from './logger.js';
import { getHeapStatistics } from 'node:v8';
import { silentLogger } from './logger.js';

/**
 * Follows the commits the engine writes: `appended` as soon as the log
 * acknowledged one, then `committed` with the state it evolved to, or
 * `failed` when evolving it threw. Called in the actor's mailbox, before the
 * command's result is returned; a throwing observer is logged and ignored.
 */
export interface CommitObserver {
  appended?(commit: StoredCommit): void;
  committed(commit: StoredCommit, state: unknown): void;
  failed?(commit: StoredCommit): void;
}

/** Engine settings; every one has a default. */
export interface AggregateStoreOptions {
  /**
   * What commands and decided events are held to (JSON depth, sizes, events
   * per command). Give program deciders' runtime the same limits.
   * @default DEFAULT_DATA_LIMITS
   */
  readonly limits: DataLimits;
  /** An actor idle this long is passivated (its state reloads on next use). @default 300_000 ms */
  readonly idleTimeoutMs: number;
  /** Most live actors held in memory. @default 10_000 */
  readonly maxLiveActors: number;
  /**
   * Most heap the live actors' states may hold, estimated from their values
   * (`heapFootprint`); the least recently used idle ones are passivated past
   * it. @default an eighth of V8's heap limit
   */
  readonly maxLiveBytes: number;
  /** Snapshot every N events (a decider may override); 0 never. @default 100 */
  readonly snapshotEvery: number;
  /** Re-decides after a concurrent append at most this often. @default 5 */
  readonly maxRetries: number;
  /** First retry backoff; doubles per attempt, with jitter. @default 5 ms */
  readonly retryBackoffMs: number;
  /** Command ids remembered per aggregate for idempotency (kept in snapshots). @default 1_000 */
  readonly idempotencyWindow: number;
  readonly logger: Logger;
  /** Called after an aggregate is loaded from storage (for metrics). */
  readonly onRehydrated?: (key: StreamKey, seconds: number) => void;
  /** Told of every commit the store writes, with its new state (a node feeds its read model). */
  readonly commitObserver?: CommitObserver;
}

export const DEFAULT_STORE_OPTIONS: AggregateStoreOptions = Object.freeze({
  limits: DEFAULT_DATA_LIMITS,
  idleTimeoutMs: 300_000,
  maxLiveActors: 10_000,
  maxLiveBytes: defaultLiveBytes(),
  snapshotEvery: 100,
  maxRetries: 5,
  retryBackoffMs: 5,
  idempotencyWindow: 1_000,
  logger: silentLogger,
});

/** What one actor reads of the store's settings (the registry reads the rest). */
export type ActorSettings = Pick<
  AggregateStoreOptions,
  | 'limits'
  | 'snapshotEvery'
  | 'maxRetries'
  | 'retryBackoffMs'
  | 'idempotencyWindow'
  | 'logger'
  | 'onRehydrated'
  | 'commitObserver'
>;

/** An eighth of the heap this process may use: states are not all a process keeps, and the estimate is not exact. */
export function defaultLiveBytes(): number {
  return Math.floor(getHeapStatistics().heap_size_limit / 8);
}
