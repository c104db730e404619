import type { JetStreamManager } from '@nats-io/jetstream';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { nanos } from '@nats-io/transport-node';
import type { StoredCommit, StreamKey } from '@tenantfold/core';
import {
  StreamError,
  StreamKey as Key,
  ValidationError,
  VersionConflictError,
} from '@tenantfold/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DIRECT_READ_LIMIT } from '../src/jetstream/index.js';
import { JetStreamEventLog } from '../src/index.js';
import { commitOf } from '@tenantfold/testkit';
import type { TestNames } from './fixture.js';
import { collect, connectToTestServer, removeAll, uniqueNames } from './fixture.js';

const counter = (id: string, tenant = ''): StreamKey => Key.of(tenant, 'counter', id);

describe('JetStreamEventLog', () => {
  let names: TestNames;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let log: JetStreamEventLog;

  async function openLog(overrides: { duplicateWindowMs?: number } = {}) {
    return JetStreamEventLog.open({
      nc,
      streamName: names.streamName,
      subjectPrefix: names.subjectPrefix,
      ...overrides,
    });
  }

  /** Appends `count` one-event commits to `key`, returning them as stored. */
  async function appendMany(key: StreamKey, count: number, from = 0): Promise<StoredCommit[]> {
    const stored: StoredCommit[] = [];
    let position = from === 0 ? 0 : (await collect(log.read(key))).at(-1)!.position;
    for (let v = from + 1; v <= from + count; v++) {
      const { commit } = await log.append(commitOf(key, v), position);
      position = commit.position;
      stored.push(commit);
    }
    return stored;
  }

  beforeEach(async () => {
    names = uniqueNames();
    nc = await connectToTestServer();
    jsm = await jetstreamManager(nc);
    log = await openLog();
  });
  afterEach(async () => {
    await log.close();
    await nc.close();
    await removeAll(names);
  });

  describe('append', () => {
    it('stores one message per commit on the aggregate subject; position is its stream sequence', async () => {
      const key = counter('c-1');
      const first = await log.append(commitOf(key, 2, { count: 2 }), 0);
      expect(first.duplicate).toBe(false);
      expect(first.commit.version).toBe(2);
      const message = await jsm.streams.getMessage(names.streamName, {
        seq: first.commit.position,
      });
      expect(message?.subject).toBe(`${names.subjectPrefix}tenant.=default.aggregate.counter.c-1`);
      expect(message?.header.get('Nats-Msg-Id')).toBe(first.commit.command_id);
      expect(message?.json()).toMatchObject({ command_id: first.commit.command_id, version: 2 });
      expect(message?.json()).not.toHaveProperty('position');
      const second = await log.append(commitOf(key, 3), first.commit.position);
      expect(second.commit.position).toBeGreaterThan(first.commit.position);
    });

    it('refuses a stale expected position with VersionConflictError (expected, actual)', async () => {
      const key = counter('c-conflict');
      const [c1, c2] = await appendMany(key, 2);
      const stale = await log.append(commitOf(key, 2), c1!.position).catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(VersionConflictError);
      expect(stale).toMatchObject({ expected: c1!.position, actual: c2!.position });
      await expect(log.append(commitOf(key, 1), 0)).rejects.toThrow(VersionConflictError);
      expect(await collect(log.read(key))).toHaveLength(2);
    });

    it('answers a repeated command id with the original commit, even with a stale expectation', async () => {
      const key = counter('c-dup');
      const commit = commitOf(key, 1);
      const first = await log.append(commit, 0);
      await log.append(commitOf(key, 2), first.commit.position);
      const again = await log.append(commit, 0);
      expect(again.duplicate).toBe(true);
      expect(again.commit).toEqual(first.commit);
      expect(await collect(log.read(key))).toHaveLength(2);
    });

    it('appends a commit whose command id another aggregate used (ids are unique per aggregate)', async () => {
      const a = counter('c-a');
      const b = counter('c-b');
      const commandId = (await log.append(commitOf(a, 1), 0)).commit.command_id;
      const onB = await log.append(commitOf(b, 1, { commandId }), 0);
      expect(onB.duplicate).toBe(false);
      expect(await collect(log.read(b))).toEqual([onB.commit]);
      // the expectation still guards it, and a repeat on b is still a conflict, not a second copy
      await expect(log.append(commitOf(b, 1, { commandId }), 0)).rejects.toThrow(
        VersionConflictError,
      );
      expect(await collect(log.read(b))).toHaveLength(1);
    });

    it('rejects commits that cannot be one atomic append, writing nothing', async () => {
      const key = counter('c-bad');
      const noEvents = { ...commitOf(key, 1), events: [] };
      await expect(log.append(noEvents, 0)).rejects.toThrow(ValidationError);
      const gap = { ...commitOf(key, 3, { count: 2 }), version: 4 };
      await expect(log.append(gap, 0)).rejects.toThrow(ValidationError);
      const big = commitOf(key, 1);
      const huge = { ...big, events: [{ ...big.events[0]!, payload: 'x'.repeat(1_100_000) }] };
      const error: unknown = await log.append(huge, 0).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe('events');
      await expect(log.append(commitOf(key, 1), -1)).rejects.toThrow(ValidationError);
      expect(await collect(log.streams())).toEqual([]);
    });
  });

  describe('read', () => {
    it('reads one aggregate among thousands of others, in order, without touching their messages', async () => {
      const target = counter('target');
      const others = Array.from({ length: 2_000 }, (_, i) => counter(`other-${i}`));
      const expected: StoredCommit[] = [];
      let position = 0;
      // the target's commits are spread between the others' commits
      for (let round = 0; round < 4; round++) {
        const slice = others.slice(round * 500, (round + 1) * 500);
        await Promise.all(slice.map((key) => log.append(commitOf(key, 1), 0)));
        const { commit } = await log.append(commitOf(target, round + 1), position);
        position = commit.position;
        expected.push(commit);
      }
      const stats = () => nc.stats().inMsgs;
      const before = stats();
      expect(await collect(log.read(target))).toEqual(expected);
      // one reply per commit (the first round trip brings the first and the last): no scan
      expect(stats() - before).toBeLessThanOrEqual(expected.length);
      expect(await collect(log.read(target, expected[1]!.position))).toEqual(expected.slice(2));
      expect(await collect(log.read(target, position))).toEqual([]);
      expect(await collect(log.read(counter('never-written')))).toEqual([]);
    });

    it('streams a long read through a consumer, still without scanning other subjects', async () => {
      const target = counter('long');
      const count = 60;
      const expected: StoredCommit[] = [];
      let position = 0;
      for (let v = 1; v <= count; v++) {
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            log.append(commitOf(counter(`noise-${v}-${i}`), 1), 0),
          ),
        );
        const { commit } = await log.append(commitOf(target, v), position);
        position = commit.position;
        expected.push(commit);
      }
      expect(count).toBeGreaterThan(DIRECT_READ_LIMIT);
      const before = nc.stats().inMsgs;
      expect(await collect(log.read(target))).toEqual(expected);
      // messages of the target, the first round trip, the consumer's creation: nothing per noise message
      expect(nc.stats().inMsgs - before).toBeLessThanOrEqual(count + 6);
      expect(await collect(log.read(target, expected[49]!.position))).toEqual(expected.slice(50));
      // the consumer is gone once the read ends
      await vi.waitFor(
        async () => expect((await jsm.streams.info(names.streamName)).state.consumer_count).toBe(0),
        { timeout: 5_000, interval: 20 },
      );
    });

    it.each([
      ['direct gets', 5],
      ['a consumer', 30],
    ])('stops at the last commit that existed when the read began (%s)', async (_path, count) => {
      const key = counter(`moving-${count}`);
      const existing = await appendMany(key, count);
      const iterator = log.read(key)[Symbol.asyncIterator]();
      const seen: StoredCommit[] = [];
      const first = await iterator.next();
      if (first.done !== true) seen.push(first.value);
      await log.append(commitOf(key, count + 1), existing.at(-1)!.position);
      for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
        seen.push(next.value);
      }
      expect(seen).toEqual(existing);
      expect(await collect(log.read(key))).toHaveLength(count + 1);
    });

    it('releases its consumer when the reader stops early', async () => {
      const key = counter('early-stop');
      await appendMany(key, 40);
      let read = 0;
      for await (const _commit of log.read(key)) {
        if (++read === 3) break;
      }
      expect(read).toBe(3);
      await vi.waitFor(
        async () => expect((await jsm.streams.info(names.streamName)).state.consumer_count).toBe(0),
        { timeout: 5_000, interval: 20 },
      );
    });
  });

  describe('readAt', () => {
    it('returns the commit at a position only for its own aggregate', async () => {
      const [a1] = await appendMany(counter('ra-a'), 1);
      await appendMany(counter('ra-b'), 1);
      expect(await log.readAt(counter('ra-a'), a1!.position)).toEqual(a1);
      expect(await log.readAt(counter('ra-b'), a1!.position)).toBeUndefined();
      expect(await log.readAt(counter('ra-a'), 0)).toBeUndefined();
      expect(await log.readAt(counter('ra-a'), 1_000_000)).toBeUndefined();
    });
  });

  describe('streams', () => {
    it('lists the aggregates that hold commits, by tenant and type, the default tenant included', async () => {
      const keys = [
        Key.of('', 'counter', 'c-1'),
        Key.of('acme', 'counter', 'c-1'),
        Key.of('acme', 'order', 'o-1'),
        Key.of('beta', 'order', 'o-2'),
      ];
      for (const key of keys) await log.append(commitOf(key, 1), 0);
      const sorted = [...keys].sort((a, b) => (Key.toString(a) < Key.toString(b) ? -1 : 1));
      expect(await collect(log.streams())).toEqual(sorted);
      expect(await collect(log.streams({ tenant: keys[1]!.tenant }))).toEqual([keys[1], keys[2]]);
      expect(await collect(log.streams({ tenant: keys[0]!.tenant }))).toEqual([keys[0]]);
      expect(await collect(log.streams({ types: [keys[2]!.type] }))).toEqual([keys[2], keys[3]]);
      expect(
        await collect(log.streams({ tenant: keys[3]!.tenant, types: [keys[0]!.type] })),
      ).toEqual([]);
      expect(await collect(log.streams({ types: [] }))).toEqual([]);
    });

    it('refuses to guess at a subject that is not an aggregate stream', async () => {
      const js = jsm.jetstream();
      await js.publish(`${names.subjectPrefix}tenant.acme.aggregate.Bad_Type.x`, 'x');
      await expect(collect(log.streams())).rejects.toThrow(StreamError);
    });
  });

  describe('the stream', () => {
    it('is created with file storage, direct get and the duplicate window, and updated idempotently', async () => {
      const created = await jsm.streams.info(names.streamName);
      expect(created.config).toMatchObject({
        subjects: [`${names.subjectPrefix}tenant.*.aggregate.*.*`],
        storage: StorageType.File,
        allow_direct: true,
        num_replicas: 1,
        duplicate_window: nanos(120_000),
      });
      await openLog();
      expect((await jsm.streams.info(names.streamName)).config).toEqual(created.config);
      await openLog({ duplicateWindowMs: 1_000 });
      expect((await jsm.streams.info(names.streamName)).config.duplicate_window).toBe(nanos(1_000));
    });

    it('turns on direct get for a stream created without it, and keeps its data', async () => {
      await jsm.streams.delete(names.streamName);
      await jsm.streams.add({
        name: names.streamName,
        subjects: [`${names.subjectPrefix}tenant.*.aggregate.*.*`],
        storage: StorageType.File,
      });
      await jsm.jetstream().publish(`${names.subjectPrefix}tenant.a.aggregate.counter.c`, 'x');
      log = await openLog();
      const info = await jsm.streams.info(names.streamName);
      expect(info.config.allow_direct).toBe(true);
      expect(info.state.messages).toBe(1);
    });

    it('refuses a stream with memory storage', async () => {
      await jsm.streams.delete(names.streamName);
      await jsm.streams.add({
        name: names.streamName,
        subjects: [`${names.subjectPrefix}tenant.*.aggregate.*.*`],
        storage: StorageType.Memory,
      });
      await expect(openLog()).rejects.toThrow(/file storage/);
    });

    it('reports a subject prefix that another stream already uses', async () => {
      const error: unknown = await JetStreamEventLog.open({
        nc,
        streamName: `${names.streamName}_2`,
        subjectPrefix: names.subjectPrefix,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StreamError);
      expect((error as Error).message).toMatch(/overlap/);
    });

    it('reports the server version and refuses bad options by name', async () => {
      expect(log.server.directGet).toBe(true);
      expect(log.server.version.text).toBe(nc.info?.version);
      await expect(JetStreamEventLog.open({ nc, streamName: 'a.b' })).rejects.toMatchObject({
        code: 'VALIDATION',
        field: 'streamName',
      });
      await expect(JetStreamEventLog.open({ nc, subjectPrefix: 'no-dot' })).rejects.toMatchObject({
        code: 'VALIDATION',
        field: 'subjectPrefix',
      });
      await expect(JetStreamEventLog.open({ nc, duplicateWindowMs: 0 })).rejects.toMatchObject({
        code: 'VALIDATION',
        field: 'duplicateWindowMs',
      });
    });
  });

  describe('failures', () => {
    it('turns a closed connection into StreamError', async () => {
      const own = await connectToTestServer();
      const other = await JetStreamEventLog.open({
        nc: own,
        streamName: names.streamName,
        subjectPrefix: names.subjectPrefix,
      });
      await own.close();
      await expect(other.append(commitOf(counter('closed'), 1), 0)).rejects.toThrow(StreamError);
      await expect(collect(other.read(counter('closed')))).rejects.toThrow(StreamError);
      await expect(other.readAt(counter('closed'), 1)).rejects.toThrow(StreamError);
    });

    it('turns a stream deleted under it into StreamError', async () => {
      await jsm.streams.delete(names.streamName);
      const error: unknown = await log
        .append(commitOf(counter('gone'), 1), 0)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StreamError);
      expect((error as StreamError).retryable).toBe(true);
    });
  });
});
