import type { KvWatchEntry } from '@nats-io/kv';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DeadLetter, Logger, StoredSnapshot, StreamKey } from '@tenantfold/core';
import { StreamKey as Key } from '@tenantfold/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JetStreamDeadLetterStore, KvCheckpointStore, KvSnapshotStore } from '../src/index.js';
import type { TestNames } from './fixture.js';
import { connectToTestServer, removeAll, uniqueNames } from './fixture.js';

function snapshotOf(key: StreamKey, version: number, extra = 0): StoredSnapshot {
  return {
    tenant_id: key.tenant,
    aggregate_type: key.type,
    aggregate_id: key.id,
    version,
    position: version * 10,
    state: { value: version, padding: 'x'.repeat(extra) },
    created_at: new Date().toISOString(),
    recent_commands: [[`cmd-${version}`, version * 10]],
  };
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('KV and dead-letter stores', () => {
  let names: TestNames;
  const connections: NatsConnection[] = [];

  async function connection(): Promise<NatsConnection> {
    const nc = await connectToTestServer();
    connections.push(nc);
    return nc;
  }

  beforeEach(() => {
    names = uniqueNames();
  });
  afterEach(async () => {
    for (const nc of connections.splice(0)) await nc.close();
    await removeAll(names);
  });

  describe('KvSnapshotStore', () => {
    const key = Key.of('acme', 'counter', 'c-1');

    async function openStore(logger?: Logger): Promise<KvSnapshotStore> {
      return KvSnapshotStore.open({
        nc: await connection(),
        bucket: names.snapshotBucket,
        ...(logger === undefined ? {} : { logger }),
      });
    }

    it('keeps the newest snapshot under <tenant-token>.<type>.<id>, never an older one', async () => {
      const store = await openStore();
      expect(await store.load(key)).toBeUndefined();
      const five = snapshotOf(key, 5);
      await store.save(five);
      await store.save(snapshotOf(key, 3));
      await store.save({ ...snapshotOf(key, 5), state: { value: 'same version' } });
      expect(await store.load(key)).toEqual(five);
      await store.save(snapshotOf(key, 8));
      expect((await store.load(key))?.version).toBe(8);

      const kv = await new Kvm(await connection()).open(names.snapshotBucket);
      expect((await kv.get('acme.counter.c-1'))?.json()).toMatchObject({ version: 8 });
      const defaultTenant = Key.of('', 'counter', 'c-1');
      await store.save(snapshotOf(defaultTenant, 1));
      expect((await kv.get('=default.counter.c-1'))?.json()).toMatchObject({ version: 1 });
    });

    it('never goes backwards under a compare-and-set race between two connections', async () => {
      const stores = [await openStore(), await openStore()];
      const kv = await new Kvm(await connection()).open(names.snapshotBucket);
      const written: number[] = [];
      const watch = await kv.watch({ key: Key.toString(key) });
      const watching = (async () => {
        for await (const entry of watch as AsyncIterable<KvWatchEntry>) {
          if (entry.operation === 'PUT') written.push(entry.json<StoredSnapshot>().version);
        }
      })();
      // Version 1 first, so the watch sees at least two writes however the race goes.
      await stores[0]!.save(snapshotOf(key, 1));
      const versions = shuffled(Array.from({ length: 39 }, (_, i) => i + 2));
      await Promise.all(versions.map((v, i) => stores[i % 2]!.save(snapshotOf(key, v))));
      await vi.waitFor(() => expect(written.at(-1)).toBe(40), { timeout: 5_000, interval: 20 });
      watch.stop();
      await watching;

      expect(written.length).toBeGreaterThan(1);
      for (let i = 1; i < written.length; i++) {
        expect(written[i]).toBeGreaterThan(written[i - 1]!);
      }
      for (const store of stores) expect((await store.load(key))?.version).toBe(40);
    });

    it('saves with one compare-and-set when it knows the revision, and rereads when it is stale', async () => {
      const nc = await connection();
      const store = await KvSnapshotStore.open({ nc, bucket: names.snapshotBucket });
      const other = await openStore();
      await store.save(snapshotOf(key, 1));
      const requests = () => nc.stats().outMsgs;
      let before = requests();
      await store.save(snapshotOf(key, 2));
      expect(requests() - before).toBe(1);
      // another writer moves the key on: the remembered revision is stale
      await other.save(snapshotOf(key, 7));
      before = requests();
      await store.save(snapshotOf(key, 5));
      expect(requests() - before).toBe(2); // a lost compare-and-set, then a read showing 7
      expect((await store.load(key))?.version).toBe(7);
      await store.save(snapshotOf(key, 9));
      expect((await other.load(key))?.version).toBe(9);
    });

    it('treats an unreadable or deleted snapshot as absent and writes over it', async () => {
      const store = await openStore();
      const kv = await new Kvm(await connection()).open(names.snapshotBucket);
      await kv.put(Key.toString(key), 'not json');
      expect(await store.load(key)).toBeUndefined();
      await store.save(snapshotOf(key, 2));
      expect((await store.load(key))?.version).toBe(2);
      await kv.delete(Key.toString(key));
      expect(await store.load(key)).toBeUndefined();
      await store.save(snapshotOf(key, 1));
      expect((await store.load(key))?.version).toBe(1);
    });

    it('skips (and reports) a snapshot too large for the server, keeping the older one', async () => {
      const warnings: object[] = [];
      const logger: Logger = {
        debug() {},
        info() {},
        warn: (obj) => warnings.push(obj),
        error() {},
      };
      const store = await openStore(logger);
      await store.save(snapshotOf(key, 1));
      await store.save(snapshotOf(key, 2, 2_000_000));
      expect((await store.load(key))?.version).toBe(1);
      expect(warnings).toEqual([expect.objectContaining({ stream: Key.toString(key) })]);
    });
  });

  describe('KvCheckpointStore', () => {
    async function openStore(): Promise<KvCheckpointStore> {
      return KvCheckpointStore.open({ nc: await connection(), bucket: names.checkpointBucket });
    }

    it('saves and loads JSON by name, names with slashes included', async () => {
      const store = await openStore();
      expect(await store.load('projections/totals')).toBeUndefined();
      await store.save('projections/totals', { cursors: { a: 1 }, state: [1, 'two', null] });
      await store.save('process_managers/saga', { cursors: {} });
      expect(await store.load('projections/totals')).toEqual({
        cursors: { a: 1 },
        state: [1, 'two', null],
      });
      await store.save('projections/totals', 7);
      expect(await store.load('projections/totals')).toBe(7);
      expect(await store.load('process_managers/saga')).toEqual({ cursors: {} });
    });

    it('loads an unreadable checkpoint as undefined, and refuses names that are not keys', async () => {
      const store = await openStore();
      const kv = await new Kvm(await connection()).open(names.checkpointBucket);
      await kv.put('projections/broken', '{"cursors": ');
      expect(await store.load('projections/broken')).toBeUndefined();
      const keys: string[] = [];
      for await (const k of await kv.keys('projections/broken.*')) keys.push(k);
      expect(keys).toEqual([expect.stringMatching(/^projections\/broken\.corrupt-\d+$/)]);
      expect((await kv.get(keys[0]!))?.string()).toBe('{"cursors": ');
      await expect(store.save('a b', {})).rejects.toMatchObject({ code: 'VALIDATION' });
      await expect(store.load('.hidden')).rejects.toMatchObject({ code: 'VALIDATION' });
    });
  });

  describe('JetStreamDeadLetterStore', () => {
    const letter = (i: number): DeadLetter => ({
      envelope: { aggregate_type: 'inventory', aggregate_id: `inv-${i}` },
      error: { code: 'DECIDE', message: `rejected ${i}` },
      ts: new Date().toISOString(),
    });

    async function openStore(): Promise<JetStreamDeadLetterStore> {
      return JetStreamDeadLetterStore.open({
        nc: await connection(),
        streamName: names.deadLetterStream,
        subjectPrefix: names.subjectPrefix,
      });
    }

    it('appends letters per process manager and lists them in order', async () => {
      const store = await openStore();
      const other = await openStore();
      expect(await store.list('saga-a')).toEqual([]);
      const letters = Array.from({ length: 25 }, (_, i) => letter(i));
      for (const [i, l] of letters.entries())
        await (i % 2 === 0 ? store : other).append('saga-a', l);
      const onB = letter(99);
      await store.append('saga-b', onB);
      expect(await store.list('saga-a')).toEqual(letters);
      expect(await other.list('saga-b')).toEqual([onB]);
      await expect(store.append('no.dots', letter(1))).rejects.toMatchObject({
        code: 'VALIDATION',
      });
    });
  });
});
