import { heapFootprint } from '@tenantfold/core';
import type { StateChange } from './types.js';

/** Most changes written in one transaction. */
const BATCH_CHANGES = 1000;
/**
 * Most heap the parsed states of one batch may hold: a count alone is no
 * bound (1,000 states of 1 MiB of empty objects hold ~22 GiB).
 */
export const BATCH_BYTES = 16 * 1024 * 1024;

/**
 * `changes` in batches of at most 1,000 changes and `BATCH_BYTES` of parsed
 * state (a batch holds at least one change), so a rebuild or catch-up keeps
 * one batch in memory, not the tenant.
 */
export async function* batchesOf(
  changes: Iterable<StateChange> | AsyncIterable<StateChange>,
): AsyncGenerator<StateChange[]> {
  let batch: StateChange[] = [];
  let bytes = 0;
  for await (const change of changes) {
    batch.push(change);
    bytes += heapFootprint(change.state);
    if (batch.length >= BATCH_CHANGES || bytes >= BATCH_BYTES) {
      yield batch;
      batch = [];
      bytes = 0;
    }
  }
  if (batch.length > 0) yield batch;
}
