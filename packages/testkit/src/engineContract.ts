import type { AggregateStore, AggregateStoreOptions, StorageBackend } from '@tenantfold/core';
import {
  AggregateStore as Store,
  DomainError,
  StreamKey,
  Uuid,
  ValidationError,
  VersionConflictError,
} from '@tenantfold/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Counter, CounterTotals } from './fixtures/counter.js';
import { Inventory, Order, ReservationSaga } from './fixtures/orders.js';

/** Storage that can be opened, closed and opened again, then thrown away. */
export interface StorageFixture {
  open(): Promise<StorageBackend>;
  dispose(): Promise<void>;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/**
 * The engine's behaviour, independent of storage: every backend runs this
 * same suite against real storage.
 */
export function describeEngineContract(
  backend: string,
  makeFixture: () => Promise<StorageFixture>,
): void {
  describe(`engine on ${backend}`, () => {
    let fixture: StorageFixture;
    const open: AggregateStore[] = [];

    async function openStore(
      options: Partial<AggregateStoreOptions> = {},
      backend?: StorageBackend,
    ): Promise<AggregateStore> {
      const store = await Store.builder(backend ?? (await fixture.open()))
        .aggregate(Order)
        .aggregate(Inventory)
        .aggregate(Counter)
        .projection(CounterTotals)
        .processManager(ReservationSaga)
        .with(options)
        .open();
      open.push(store);
      return store;
    }

    async function reopen(store: AggregateStore, options: Partial<AggregateStoreOptions> = {}) {
      await store.close();
      return openStore(options);
    }

    beforeEach(async () => {
      fixture = await makeFixture();
    });
    afterEach(async () => {
      for (const store of open.splice(0)) await store.close();
      await fixture.dispose();
    });

    it('runs the seed scenario: an order reserves stock through the saga, rejections are dead-lettered', async () => {
      let store = await openStore();
      await store.get(Order, 'o-1').execute({ type: 'Place', data: { sku: 'W-1', qty: 2 } });
      await store.get(Order, 'o-2').execute({ type: 'Place', data: { sku: 'W-2', qty: 50 } });

      expect(await store.runProcessManagers()).toEqual({ dispatched: 1, deadLettered: 1 });
      expect(await store.get(Inventory, 'inv-W-1').state()).toEqual({ reserved: 2 });
      const letters = await store.deadLetters('reservation-saga');
      expect(letters).toHaveLength(1);
      expect(letters[0]?.error.code).toBe('DECIDE');
      expect(letters[0]?.envelope).toMatchObject({
        aggregate_type: 'inventory',
        aggregate_id: 'inv-W-2',
      });

      expect(await store.runProcessManagers()).toEqual({ dispatched: 0, deadLettered: 0 });
      store = await reopen(store);
      expect(await store.runProcessManagers()).toEqual({ dispatched: 0, deadLettered: 0 });
      expect(await store.get(Inventory, 'inv-W-1').state()).toEqual({ reserved: 2 });
      expect(await store.deadLetters('reservation-saga')).toHaveLength(1);
    });

    it('runs 10 concurrent commands on one aggregate in order with contiguous versions', async () => {
      const store = await openStore();
      const counter = store.get(Counter, 'c-1');
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => counter.execute({ type: 'Add', data: { n: i + 1 } })),
      );
      expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual([
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
      ]);
      const commits = await collect(store.backend.eventLog.read(counter.key));
      expect(commits.flatMap((c) => c.events.map((e) => e.version))).toEqual([
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
      ]);
      // the mailbox ran them in submission order
      expect((await counter.state()).history).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('writes all events of one command as one commit', async () => {
      const store = await openStore();
      const counter = store.get(Counter, 'c-twice');
      const result = await counter.execute({ type: 'AddTwice', data: { n: 3 } });
      expect(result.events.map((e) => e.version)).toEqual([1, 2]);
      const commits = await collect(store.backend.eventLog.read(counter.key));
      expect(commits).toHaveLength(1);
      expect(commits[0]?.events).toHaveLength(2);
    });

    it('returns the original events for a repeated command id, also after reopening', async () => {
      let store = await openStore();
      const commandId = Uuid.new();
      const first = await store
        .get(Counter, 'c-idem')
        .execute({ type: 'Add', data: { n: 5 } }, { commandId });
      const again = await store
        .get(Counter, 'c-idem')
        .execute({ type: 'Add', data: { n: 5 } }, { commandId });
      expect(again.duplicate).toBe(true);
      expect(again.events).toEqual(first.events);

      store = await reopen(store);
      const afterRestart = await store
        .get(Counter, 'c-idem')
        .execute({ type: 'Add', data: { n: 5 } }, { commandId });
      expect(afterRestart.duplicate).toBe(true);
      expect(afterRestart.events).toEqual(first.events);
      expect(await store.get(Counter, 'c-idem').state()).toMatchObject({ value: 5 });
      expect(
        await collect(store.backend.eventLog.read(StreamKey.of('', 'counter', 'c-idem'))),
      ).toHaveLength(1);
    });

    it('remembers command ids across a snapshot', async () => {
      let store = await openStore({ snapshotEvery: 2 });
      const commandId = Uuid.new();
      const counter = store.get(Counter, 'c-snap-idem');
      const first = await counter.execute({ type: 'Add', data: { n: 1 } }, { commandId });
      for (let i = 0; i < 4; i++) await counter.execute({ type: 'Add', data: { n: 1 } });
      store = await reopen(store, { snapshotEvery: 2 });
      const again = await store
        .get(Counter, 'c-snap-idem')
        .execute({ type: 'Add', data: { n: 1 } }, { commandId });
      expect(again).toMatchObject({ duplicate: true, events: first.events });
    });

    it('passivates an idle actor and recovers its state from storage', async () => {
      const store = await openStore({ idleTimeoutMs: 30 });
      const counter = store.get(Counter, 'c-idle');
      await counter.execute({ type: 'Add', data: { n: 7 } });
      expect(counter.isAlive()).toBe(true);
      await vi.waitFor(() => expect(counter.isAlive()).toBe(false), {
        timeout: 5_000,
        interval: 10,
      });
      expect(await store.get(Counter, 'c-idle').state()).toMatchObject({ value: 7 });
      expect(counter.isAlive()).toBe(true);
    });

    it('keeps at most maxLiveActors idle actors', async () => {
      const store = await openStore({ maxLiveActors: 3 });
      for (let i = 0; i < 6; i++)
        await store.get(Counter, `c-lru-${i}`).execute({ type: 'Add', data: { n: i } });
      expect(store.liveActors).toBeLessThanOrEqual(3);
      expect(store.get(Counter, 'c-lru-0').isAlive()).toBe(false);
      expect(await store.get(Counter, 'c-lru-0').state()).toMatchObject({ value: 0, history: [0] });
      expect(await store.get(Counter, 'c-lru-1').state()).toMatchObject({ value: 1 });
    });

    it('rehydrates from the snapshot, then only the commits after it', async () => {
      let store = await openStore({ snapshotEvery: 3 });
      const counter = store.get(Counter, 'c-snapshot');
      for (let i = 0; i < 7; i++) await counter.execute({ type: 'Add', data: { n: 1 } });
      expect((await store.backend.snapshots.load(counter.key))?.version).toBe(6);
      await store.close(); // flushes a snapshot at version 7
      const backend = await fixture.open();
      const snapshot = await backend.snapshots.load(counter.key);
      expect(snapshot?.version).toBe(7);
      // Watch where rehydration starts reading the log.
      const readsFrom: number[] = [];
      const watched: StorageBackend = {
        snapshots: backend.snapshots,
        checkpoints: backend.checkpoints,
        deadLetters: backend.deadLetters,
        close: () => backend.close(),
        eventLog: {
          append: (commit, expected) => backend.eventLog.append(commit, expected),
          read: (key, after) => {
            readsFrom.push(after ?? 0);
            return backend.eventLog.read(key, after);
          },
          readAt: (key, position) => backend.eventLog.readAt(key, position),
          streams: (filter) => backend.eventLog.streams(filter),
          close: () => backend.eventLog.close(),
        },
      };
      store = await openStore({ snapshotEvery: 3 }, watched);
      expect(await store.get(Counter, 'c-snapshot').state()).toEqual({
        value: 7,
        history: [1, 1, 1, 1, 1, 1, 1],
      });
      expect(readsFrom).toEqual([snapshot?.position]);
    });

    it('carries the command context into every event', async () => {
      const store = await openStore();
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const result = await store.get(Counter, 'c-ctx').execute(
        { type: 'AddTwice', data: { n: 1 } },
        {
          correlationId: 'corr-1',
          actorId: 'user-42',
          traceparent,
          metadata: { source: 'test' },
        },
      );
      for (const event of result.events) {
        expect(event).toMatchObject({
          correlation_id: 'corr-1',
          trace_id: '0af7651916cd43dd8448eb211c80319c',
          metadata: { source: 'test', actor_id: 'user-42' },
          command_id: result.events[0]?.command_id,
        });
      }
    });

    it('rejects bad input with a typed error and writes nothing', async () => {
      const store = await openStore();
      const good = {
        tenant_id: 't1',
        aggregate_type: 'counter',
        aggregate_id: 'c-bad',
        payload: { type: 'Add', data: { n: 1 } },
      };
      const bad: Array<[unknown, string]> = [
        [{ ...good, tenant_id: 'no spaces' }, 'tenant_id'],
        [{ ...good, tenant_id: 'a.b' }, 'tenant_id'],
        [{ ...good, aggregate_id: 'x/../y' }, 'aggregate_id'],
        [{ ...good, aggregate_type: 'Counter!' }, 'aggregate_type'],
        [{ ...good, aggregate_type: 'unknown' }, 'aggregate_type'],
        [{ ...good, payload: '{"type": "Add", ' }, 'payload'],
        [{ ...good, payload: { type: 'Add', data: { n: Number.NaN } } }, 'payload.data'],
        [{ ...good, command_id: 'not-a-uuid' }, 'command_id'],
        [
          { ...good, payload: { type: 'Add', data: { blob: 'x'.repeat(1_100_000) } } },
          'payload.data',
        ],
      ];
      for (const [envelope, field] of bad) {
        const error: unknown = await store.submit(envelope).catch((e: unknown) => e);
        expect(error, JSON.stringify(envelope).slice(0, 120)).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).field).toBe(field);
      }
      expect(() => store.get(Counter, '../etc')).toThrow(ValidationError);
      expect(await collect(store.backend.eventLog.streams())).toEqual([]);
    });

    it('rejects a domain error and writes nothing', async () => {
      const store = await openStore();
      const counter = store.get(Counter, 'c-reject');
      await expect(counter.execute({ type: 'Add', data: { n: -1 } })).rejects.toThrow(DomainError);
      await expect(counter.execute({ type: 'Noop', data: {} })).resolves.toMatchObject({
        events: [],
        version: 0,
      });
      expect(await collect(store.backend.eventLog.read(counter.key))).toEqual([]);
    });

    it('refuses a command whose expected version is stale', async () => {
      const store = await openStore();
      const counter = store.get(Counter, 'c-expected');
      await counter.execute({ type: 'Add', data: { n: 1 } }, { expectedVersion: 0 });
      const error: unknown = await counter
        .execute({ type: 'Add', data: { n: 1 } }, { expectedVersion: 0 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VersionConflictError);
      expect(error).toMatchObject({ expected: 0, actual: 1 });
    });

    it('appends injected events through the actor', async () => {
      const store = await openStore();
      const source = await store.get(Counter, 'c-src').execute({ type: 'Add', data: { n: 4 } });
      const imported = { ...source.events[0]!, aggregate_id: 'c-imported', event_id: Uuid.new() };
      await store.inject(imported);
      expect(await store.get(Counter, 'c-imported').state()).toMatchObject({ value: 4 });
      await expect(
        store.inject({ ...imported, event_id: Uuid.new(), command_id: Uuid.new(), version: 5 }),
      ).rejects.toThrow(VersionConflictError);
      await expect(store.inject({ ...imported, event_type: 'bad type!' })).rejects.toThrow(
        ValidationError,
      );
    });

    it('keeps tenants apart: one aggregate id, two tenants, two states', async () => {
      const store = await openStore();
      await store
        .get(Counter, 'shared', { tenant: 'tenant-a' })
        .execute({ type: 'Add', data: { n: 1 } });
      await store
        .get(Counter, 'shared', { tenant: 'tenant-b' })
        .execute({ type: 'Add', data: { n: 2 } });
      expect(await store.get(Counter, 'shared', { tenant: 'tenant-a' }).state()).toMatchObject({
        value: 1,
      });
      expect(await store.get(Counter, 'shared', { tenant: 'tenant-b' }).state()).toMatchObject({
        value: 2,
      });
      expect(await store.projection(CounterTotals)).toEqual({ 'tenant-a': 1, 'tenant-b': 2 });
    });

    it('catches projections up lazily and keeps their checkpoint across a reopen', async () => {
      let store = await openStore();
      await store.get(Counter, 'p-1').execute({ type: 'Add', data: { n: 2 } });
      expect(await store.projection(CounterTotals)).toEqual({ '': 2 });
      await store.get(Counter, 'p-2').execute({ type: 'AddTwice', data: { n: 3 } });
      expect(await store.projection(CounterTotals)).toEqual({ '': 8 });
      store = await reopen(store);
      expect(await store.projection(CounterTotals)).toEqual({ '': 8 });
      await store.get(Counter, 'p-1').execute({ type: 'Add', data: { n: 1 } });
      expect(await store.projection(CounterTotals)).toEqual({ '': 9 });
      expect(await store.rebuildProjection(CounterTotals)).toEqual({ '': 9 });
    });
  });
}
