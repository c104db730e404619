import { jetstreamManager } from '@nats-io/jetstream';
import type { AggregateStore, AggregateStoreOptions, StorageBackend } from '@tenantfold/core';
import { AggregateStore as Store, StreamKey, Uuid } from '@tenantfold/core';
import { Counter } from '@tenantfold/testkit';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { JetStreamBackend } from '../src/index.js';
import type { TestNames } from './fixture.js';
import { collect, connectToTestServer, openBackend, removeAll, uniqueNames } from './fixture.js';

const WINDOW_MS = 1_000;

describe('a repeated command id gives one commit', () => {
  let names: TestNames;
  const open: AggregateStore[] = [];

  /** A new engine on a new connection: what a restarted process gets. */
  async function restart(options: Partial<AggregateStoreOptions> = {}): Promise<AggregateStore> {
    const backend: StorageBackend = await openBackend(names, { duplicateWindowMs: WINDOW_MS });
    const store = await Store.builder(backend).aggregate(Counter).with(options).open();
    open.push(store);
    return store;
  }

  /** Commands of one aggregate in the stream, by command id. */
  async function commandIds(store: AggregateStore, id: string): Promise<string[]> {
    const commits = await collect(store.backend.eventLog.read(StreamKey.of('', 'counter', id)));
    return commits.map((c) => c.command_id);
  }

  /**
   * Waits until the server has forgotten message ids published now: publishes
   * a probe id, then repeats it until the server stores it again.
   */
  async function waitForDuplicateWindowToPass(): Promise<void> {
    const nc = await connectToTestServer();
    try {
      const js = (await jetstreamManager(nc)).jetstream();
      const subject = `${names.subjectPrefix}tenant.probe.aggregate.probe.window`;
      const msgID = Uuid.new();
      expect((await js.publish(subject, 'probe', { msgID })).duplicate).toBe(false);
      await vi.waitFor(
        async () => expect((await js.publish(subject, 'probe', { msgID })).duplicate).toBe(false),
        { timeout: WINDOW_MS * 10, interval: 100 },
      );
    } finally {
      await nc.close();
    }
  }

  beforeEach(() => {
    names = uniqueNames();
  });
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    await removeAll(names);
  });

  it('twice, from two engines, after a restart, and after the server window has passed', async () => {
    const commandId = Uuid.new();
    const add = { type: 'Add', data: { n: 5 } } as const;
    // Two engines, both holding the aggregate at version 0, submit the same command at once:
    // the second append is dropped by the server (same message id) and answered with the first.
    const engines = [await restart(), await restart()];
    await Promise.all(engines.map((e) => e.get(Counter, 'c-1').state()));
    const results = await Promise.all(
      engines.map((e) => e.get(Counter, 'c-1').execute(add, { commandId })),
    );
    const first = results.find((r) => !r.duplicate)!;
    expect(results.filter((r) => r.duplicate)).toHaveLength(1);
    for (const result of results) {
      expect(result).toMatchObject({ events: first.events, position: first.position });
    }

    // Each engine again: their actors remember it.
    for (const engine of engines) {
      expect(await engine.get(Counter, 'c-1').execute(add, { commandId })).toMatchObject({
        duplicate: true,
        events: first.events,
        position: first.position,
      });
    }
    expect(await commandIds(engines[0]!, 'c-1')).toEqual([commandId]);

    // The server itself drops the repeat within its window, even with a stale expectation.
    const backend = open[0]!.backend as JetStreamBackend;
    const [commit] = await collect(backend.eventLog.read(StreamKey.of('', 'counter', 'c-1')));
    const raw = await backend.eventLog.append(commit!, 0);
    expect(raw).toMatchObject({ duplicate: true, commit: { position: first.position } });

    for (const store of open.splice(0)) await store.close();
    await waitForDuplicateWindowToPass();

    // Past the window the server no longer knows the id: the engine finds it in the stream.
    const restarted = await restart();
    const late = await restarted.get(Counter, 'c-1').execute(add, { commandId });
    expect(late).toMatchObject({ duplicate: true, events: first.events, position: first.position });
    expect(await commandIds(restarted, 'c-1')).toEqual([commandId]);
    expect(await restarted.get(Counter, 'c-1').state()).toEqual({ value: 5, history: [5] });
  });

  it('after the window, also when the commit is older than the snapshot the engine starts from', async () => {
    let store = await restart({ snapshotEvery: 2 });
    const commandId = Uuid.new();
    const counter = store.get(Counter, 'c-snap');
    const first = await counter.execute({ type: 'Add', data: { n: 1 } }, { commandId });
    for (let i = 0; i < 4; i++) await counter.execute({ type: 'Add', data: { n: 1 } });
    await store.close();
    await waitForDuplicateWindowToPass();

    store = await restart({ snapshotEvery: 2 });
    const snapshot = await store.backend.snapshots.load(counter.key);
    expect(snapshot?.version).toBe(5);
    const late = await store
      .get(Counter, 'c-snap')
      .execute({ type: 'Add', data: { n: 1 } }, { commandId });
    expect(late).toMatchObject({ duplicate: true, events: first.events });
    expect(await commandIds(store, 'c-snap')).toHaveLength(5);
  });
});
