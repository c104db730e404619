import type { EventLog, JsonValue, Logger, StreamKey } from '@tenantfold/core';
import type { AggregateSnapshot } from '@tenantfold/core';
import { isTenantfoldError } from '@tenantfold/core';
import type { ReadModel, StateChange } from '../readModel/index.js';

/** Where the current states come from: the engine's actors over its event log. */
export interface StateSource {
  readonly eventLog: EventLog;
  stateOf(key: StreamKey): Promise<AggregateSnapshot>;
}

/**
 * Where an aggregate goes whose state cannot be had: it is skipped, and the
 * rest go on (a node quarantines it in its read model).
 */
export type UnfoldableState = (key: StreamKey, error: unknown) => void;

/**
 * The current state of each aggregate of `keys`, as read-model changes (for a
 * rebuild or a catch-up). The state comes from the engine (snapshot plus
 * fold), so it is the one commands see; `updated_at` is its last commit's.
 * An aggregate that cannot be folded is handed to `unfoldable`, never a
 * failure of the whole read: one aggregate must not stop a rebuild.
 */
export async function* latestStates(
  source: StateSource,
  keys: AsyncIterable<StreamKey> | Iterable<StreamKey>,
  unfoldable: UnfoldableState,
  /** Timestamps of commits the caller has read already (by `commitName`): no read for those. */
  known: ReadonlyMap<string, string> = new Map(),
): AsyncGenerator<StateChange> {
  for await (const key of keys) {
    let snapshot: AggregateSnapshot;
    try {
      snapshot = await source.stateOf(key);
    } catch (error) {
      if (!isUnfoldable(error)) throw error;
      unfoldable(key, error);
      continue;
    }
    if (snapshot.version === 0) continue;
    const updatedAt =
      known.get(commitName(key, snapshot.position)) ??
      (await source.eventLog.readAt(key, snapshot.position))?.timestamp;
    yield {
      tenant: key.tenant,
      type: key.type,
      id: key.id,
      version: snapshot.version,
      state: snapshot.state as JsonValue,
      updated_at: updatedAt ?? new Date().toISOString(),
      position: snapshot.position,
    };
  }
}

/** A commit's name in the `known` timestamps of `latestStates`. */
export function commitName(key: StreamKey, position: number): string {
  return `${key.tenant}/${key.type}/${key.id}@${position}`;
}

/**
 * `unfoldable` for a read model: logs the aggregate and quarantines it there
 * (its row removed, listed by `model.quarantined()`).
 */
export function quarantineIn(model: ReadModel, logger: Logger): UnfoldableState {
  return (key, error) => {
    const reason = error instanceof Error ? describeChain(error) : String(error);
    logger.error(
      { tenant_id: key.tenant, type: key.type, id: key.id, err: error },
      'aggregate cannot be folded: quarantined in the read model',
    );
    model.quarantine({ tenant: key.tenant, type: key.type, id: key.id, position: 0, reason });
  };
}

/** `message: cause message: …`, so the program's own words reach the operator. */
function describeChain(error: Error): string {
  const parts: string[] = [];
  for (let at: unknown = error; at instanceof Error && parts.length < 4; at = at.cause) {
    parts.push(at.message);
  }
  return parts.join(': ');
}

/**
 * A failure that is the aggregate's own (its events cannot be folded: a
 * program fault or limit), not the storage's: the storage failing (retryable
 * codes) fails the whole read, to be tried again.
 */
function isUnfoldable(error: unknown): boolean {
  if (!isTenantfoldError(error)) return false;
  let at: unknown = error;
  while (at instanceof Error) {
    if (isTenantfoldError(at) && at.retryable) return false;
    at = at.cause;
  }
  return true;
}
