import type { KvWatchEntry } from '@nats-io/kv';
import { ValidationError } from '@tenantfold/core';
import { PlacementAccumulator } from './snapshot.js';
import type { Placement } from './types.js';

/** Snapshots of the bucket, one per change, until `stop()`. Iterate once. */
export interface PlacementWatch extends AsyncIterable<Placement> {
  /** Ends the watch; a pending iteration completes. Idempotent. */
  stop(): void;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The part of a nats.js KV watch this reads. */
export interface KvEntries extends AsyncIterable<KvWatchEntry> {
  stop(): void;
  /** Entries received and not yet read. */
  getPending(): number;
}

/**
 * The first snapshot holds every key: the server's pending count cannot say when
 * the initial values are all in (a key rewritten meanwhile comes later, as an
 * update), so it waits for the bucket's last revision read at the start, then
 * once more after that: a value rewritten before it was delivered was rewritten
 * before the second read, so its new revision is waited for too.
 */
export class KvPlacementWatch implements PlacementWatch {
  #iterating = false;

  constructor(
    private readonly entries: KvEntries,
    /** The bucket's last revision when the watch began. */
    private readonly startRevision: number,
    private readonly lastRevision: () => Promise<number>,
  ) {}

  stop(): void {
    this.entries.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.stop();
    return Promise.resolve();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Placement> {
    if (this.#iterating) throw new ValidationError('a placement watch can be iterated only once');
    this.#iterating = true;
    const state = new PlacementAccumulator();
    let complete = this.startRevision === 0 ? 0 : undefined;
    try {
      if (complete === 0) yield state.snapshot();
      for await (const entry of this.entries) {
        state.apply(entry);
        if (state.revision < this.startRevision) continue;
        complete ??= await this.lastRevision().catch(() => this.startRevision);
        if (state.revision < complete) continue;
        // A burst is folded while entries are still coming: `delta` is the server's count
        // behind this one, but after a redelivery nats-server 2.9 kept reporting 1 for good
        // (seen in the migration e2e: the watch went silent), so an empty local queue ends
        // a burst too.
        if (entry.delta === 0 || entry.delta === undefined || this.entries.getPending() === 0) {
          yield state.snapshot();
        }
      }
    } finally {
      this.entries.stop();
    }
  }
}
