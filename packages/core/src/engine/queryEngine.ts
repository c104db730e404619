import type { JsonValue, StreamKey, TenantId } from '../domain/index.js';
import type { EventLog, StoredCommit } from '../eventLog/index.js';
import type { AggregateSnapshot } from './actor.js';
import type { Logger } from './logger.js';

// The store's side of queries over aggregate state. The engine lives in
// @tenantfold/query (which depends on core, not the other way round); core
// only feeds it each commit's new state and hands it the calls.

/** One aggregate's current state, as a query returns it. */
export interface StateRecord<State = unknown> {
  readonly id: string;
  readonly version: number;
  /** ISO 8601: the timestamp of the aggregate's last commit. */
  readonly updated_at: string;
  /** Event-log position of the aggregate's last commit. */
  readonly position: number;
  readonly state: State;
}

/**
 * The record of an aggregate whose state comes as JSON text, as SQLite rows
 * and gRPC `StateChange` messages carry it (each naming the id its own way).
 */
export function parseStateRecord(
  id: string,
  fields: Pick<StateRecord, 'version' | 'updated_at' | 'position'>,
  stateJson: string,
): StateRecord<JsonValue> {
  return {
    id,
    version: fields.version,
    updated_at: fields.updated_at,
    position: fields.position,
    state: JSON.parse(stateJson) as JsonValue,
  };
}

export interface StateQueryOptions {
  /** @default the default tenant ('') */
  readonly tenant?: string;
  /** Sort fields, `-` for descending: `-balance,id`. @default "id" */
  readonly sort?: string;
  /** Rows per page; capped by the engine (the page says so). */
  readonly limit?: number;
  /** `nextCursor` of the previous page of the same query. */
  readonly cursor?: string;
}

export interface StatePage<State = unknown> {
  readonly rows: readonly StateRecord<State>[];
  /** Present when more rows follow. */
  readonly nextCursor?: string;
  readonly limit: number;
  readonly limitCapped: boolean;
}

export type StateChangeKind = 'entered' | 'updated' | 'left';

/** An aggregate entering, changing inside, or leaving a subscription's set. */
export interface StateChangeNotice<State = unknown> {
  readonly kind: StateChangeKind;
  readonly row: StateRecord<State>;
}

export interface StateSubscription<State = unknown> {
  /** Every aggregate matching the filter when the subscription started. */
  readonly initial: readonly StateRecord<State>[];
  close(): void;
}

/** A query engine plugged into the store with `builder.queryEngine(...)`. */
export interface QueryEngine {
  /** The state an aggregate has after `commit`; called before the command's result is returned. */
  committed(commit: StoredCommit, state: unknown): void;
  query(tenant: TenantId, type: string, filter: string, options: StateQueryOptions): StatePage;
  subscribe(
    tenant: TenantId,
    type: string,
    filter: string,
    onChange: (change: StateChangeNotice) => void,
  ): StateSubscription;
  close(): void;
}

/** What an engine may read while it opens (to rebuild or catch up from the log). */
export interface QueryEngineContext {
  /** The store's directory, when it was opened on one. */
  readonly directory?: string;
  readonly eventLog: EventLog;
  /** An aggregate's current state, version and position, through its actor. */
  stateOf(key: StreamKey): Promise<AggregateSnapshot>;
  readonly logger: Logger;
}

export type QueryEngineFactory = (context: QueryEngineContext) => Promise<QueryEngine>;
