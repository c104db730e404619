import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { StorageError } from '@tenantfold/core';
import type { Placement, PlacementStore } from '@tenantfold/nats';

/** Reads tried before giving up on a bucket that never holds still. */
const ATTEMPTS = 50;

/**
 * A complete read of placement. `PlacementStore.load()` can leave out an
 * entry that is rewritten while its watch replays the bucket (a node
 * heartbeating): measured 33 of 300 loads incomplete with four nodes
 * heartbeating back to back. A load whose revision has reached the bucket's
 * last revision, read after it, saw every key's latest value (a rewrite it
 * missed would stand after that revision); otherwise it is read again.
 */
export function placementLoader(
  nc: NatsConnection,
  store: PlacementStore,
): () => Promise<Placement> {
  const bucket = new Kvm(nc).open(store.bucket);
  return async () => {
    const kv = await bucket;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const placement = await store.load();
      const last = (await kv.status()).streamInfo.state.last_seq;
      if (placement.revision >= last) return placement;
    }
    throw new StorageError(
      `placement bucket '${store.bucket}' changed during each of ${ATTEMPTS} reads: try again`,
    );
  };
}
