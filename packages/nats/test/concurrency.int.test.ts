import type { AggregateStore, Logger, StoredCommit } from '@tenantfold/core';
import { AggregateStore as Store } from '@tenantfold/core';
import type { CounterState } from '@tenantfold/testkit';
import { Counter } from '@tenantfold/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JetStreamBackend } from '../src/index.js';
import type { TestNames } from './fixture.js';
import { collect, openBackend, removeAll, uniqueNames } from './fixture.js';

/** Counts the engine's "version conflict, re-deciding" reports. */
function conflictCounter(): Logger & { conflicts: number } {
  const logger = {
    conflicts: 0,
    debug(_obj: object, msg?: string) {
      if (msg === 'version conflict, re-deciding') logger.conflicts++;
    },
    info() {},
    warn() {},
    error() {},
  };
  return logger;
}

describe('two engines writing one aggregate on one stream', () => {
  let names: TestNames;
  const stores: AggregateStore[] = [];

  /** An engine with its own connection and backend. */
  async function engine(
    logger: Logger,
  ): Promise<{ store: AggregateStore; backend: JetStreamBackend }> {
    const backend = await openBackend(names);
    // Under a sustained two-way race a command may lose several times in a row.
    const store = await Store.builder(backend)
      .aggregate(Counter)
      .with({ logger, maxRetries: 30, retryBackoffMs: 1, snapshotEvery: 0 })
      .open();
    stores.push(store);
    return { store, backend };
  }

  beforeEach(() => {
    names = uniqueNames();
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await removeAll(names);
  });

  it('loses no update and never interleaves: the loser re-decides and wins', async () => {
    const log1 = conflictCounter();
    const log2 = conflictCounter();
    const one = await engine(log1);
    const two = await engine(log2);
    expect(one.backend.nc).not.toBe(two.backend.nc);
    const a = one.store.get(Counter, 'race');
    const b = two.store.get(Counter, 'race');

    // Both load the aggregate at version 0, then both write: exactly one must conflict.
    await Promise.all([a.state(), b.state()]);
    const [ra, rb] = await Promise.all([
      a.execute({ type: 'Add', data: { n: 1 } }),
      b.execute({ type: 'Add', data: { n: 2 } }),
    ]);
    expect([ra.version, rb.version].sort()).toEqual([1, 2]);
    expect(log1.conflicts + log2.conflicts).toBe(1);

    // Then a sustained race: 25 commands from each engine at once.
    const values = Array.from({ length: 50 }, (_, i) => i + 10);
    const results = await Promise.all(
      values.map((n, i) => (i % 2 === 0 ? a : b).execute({ type: 'Add', data: { n } })),
    );
    expect(log1.conflicts + log2.conflicts).toBeGreaterThan(1);
    expect(results.map((r) => r.version).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 3),
    );

    // The stream: contiguous versions, one whole commit per command, positions increasing.
    const commits: StoredCommit[] = await collect(one.backend.eventLog.read(a.key));
    expect(commits).toHaveLength(52);
    expect(commits.flatMap((c) => c.events.map((e) => e.version))).toEqual(
      Array.from({ length: 52 }, (_, i) => i + 1),
    );
    for (const [i, commit] of commits.entries()) {
      expect(commit.version).toBe(i + 1);
      if (i > 0) expect(commit.position).toBeGreaterThan(commits[i - 1]!.position);
    }
    expect(new Set(commits.map((c) => c.command_id)).size).toBe(52);

    // A fresh engine's state is the replay of the stream and holds every update once; each
    // racing engine's warm state is the replay of the stream up to the version it last saw.
    const replay = async (upTo: number): Promise<CounterState> => {
      let state = Counter.initialState();
      for (const event of commits.flatMap((c) => c.events)) {
        if (event.version > upTo) break;
        state = await Counter.evolve(state, {
          type: 'Added',
          data: event.payload as { n: number },
        });
      }
      return state;
    };
    const fresh = await engine(conflictCounter());
    const all = await replay(52);
    expect(await fresh.store.get(Counter, 'race').state()).toEqual(all);
    expect([...all.history].sort((x, y) => x - y)).toEqual([1, 2, ...values]);
    for (const handle of [a, b]) {
      const { state, version } = await handle.snapshot();
      expect(state).toEqual(await replay(version));
    }
  });
});
