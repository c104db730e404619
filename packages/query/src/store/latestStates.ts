import type { EventLog, JsonValue, StreamKey } from '@tenantfold/core';
import type { AggregateSnapshot } from '@tenantfold/core';
import type { StateChange } from '../readModel/index.js';

/** Where the current states come from: the engine's actors over its event log. */
export interface StateSource {
  readonly eventLog: EventLog;
  stateOf(key: StreamKey): Promise<AggregateSnapshot>;
}

/**
 * The current state of each aggregate of `keys`, as read-model changes (for a
 * rebuild or a catch-up). The state comes from the engine (snapshot plus
 * fold), so it is the one commands see; `updated_at` is its last commit's.
 */
export async function* latestStates(
  source: StateSource,
  keys: AsyncIterable<StreamKey> | Iterable<StreamKey>,
): AsyncGenerator<StateChange> {
  for await (const key of keys) {
    const snapshot = await source.stateOf(key);
    if (snapshot.version === 0) continue;
    const last = await source.eventLog.readAt(key, snapshot.position);
    yield {
      tenant: key.tenant,
      type: key.type,
      id: key.id,
      version: snapshot.version,
      state: snapshot.state as JsonValue,
      updated_at: last?.timestamp ?? new Date().toISOString(),
      position: snapshot.position,
    };
  }
}
