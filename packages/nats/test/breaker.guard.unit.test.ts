import { commitOf } from '@tenantfold/testkit';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StorageBackend, StoredSnapshot, StreamKey } from '@tenantfold/core';
import {
  StorageError,
  StreamKey as Key,
  VersionConflictError,
  openFileBackend,
} from '@tenantfold/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, CircuitOpenError, guardBackend } from '../src/breaker/index.js';

let dir: string;
let backend: StorageBackend;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tenantfold-guard-'));
  backend = await openFileBackend(dir);
});
afterEach(async () => {
  await backend.close();
  await rm(dir, { recursive: true, force: true });
});

const key = Key.of('acme', 'counter', 'c-1');

function snapshotOf(stream: StreamKey, version: number): StoredSnapshot {
  return {
    tenant_id: stream.tenant,
    aggregate_type: stream.type,
    aggregate_id: stream.id,
    version,
    state: { total: version },
    created_at: new Date().toISOString(),
    position: version,
    recent_commands: [],
  };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Makes checkpoint `name` unreadable: its file is a directory, so reading fails with EISDIR. */
async function breakCheckpoint(name: string): Promise<void> {
  await mkdir(join(dir, name, 'checkpoint.json'), { recursive: true });
}

describe('guardBackend', () => {
  it('passes every call and iterable through while closed', async () => {
    const guarded = guardBackend(backend, new CircuitBreaker({ name: 'store' }));
    await guarded.eventLog.append(commitOf(key, 1), 0);
    await guarded.eventLog.append(commitOf(key, 2), 1);
    expect((await collect(guarded.eventLog.read(key))).map((c) => c.position)).toEqual([1, 2]);
    expect((await collect(guarded.eventLog.read(key, 1))).map((c) => c.position)).toEqual([2]);
    expect((await guarded.eventLog.readAt(key, 2))?.version).toBe(2);
    expect(await collect(guarded.eventLog.streams())).toEqual([key]);

    await guarded.snapshots.save(snapshotOf(key, 2));
    expect((await guarded.snapshots.load(key))?.version).toBe(2);
    await guarded.checkpoints.save('proj', { at: 2 });
    expect(await guarded.checkpoints.load('proj')).toEqual({ at: 2 });
    const letter = { envelope: { a: 1 }, error: { code: 'DECIDE', message: 'no' }, ts: 'now' };
    await guarded.deadLetters.append('pm', letter);
    expect(await guarded.deadLetters.list('pm')).toEqual([letter]);
  });

  it('a version conflict from the backend is an answer, not a failure', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    const guarded = guardBackend(backend, breaker);
    await guarded.eventLog.append(commitOf(key, 1), 0);
    await expect(guarded.eventLog.append(commitOf(key, 1), 0)).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    expect(breaker.state).toBe('CLOSED');
  });

  it('a storage failure opens the circuit; then nothing reaches the backend until the cool-down', async () => {
    const clock = { ms: 0 };
    const breaker = new CircuitBreaker({
      failureThreshold: 1,
      cooldownMs: 5_000,
      now: () => clock.ms,
    });
    const guarded = guardBackend(backend, breaker);
    await guarded.eventLog.append(commitOf(key, 1), 0);
    await breakCheckpoint('broken');
    await expect(guarded.checkpoints.load('broken')).rejects.toBeInstanceOf(StorageError);
    expect(breaker.state).toBe('OPEN');

    const spies = [
      vi.spyOn(backend.eventLog, 'append'),
      vi.spyOn(backend.eventLog, 'read'),
      vi.spyOn(backend.eventLog, 'readAt'),
      vi.spyOn(backend.eventLog, 'streams'),
      vi.spyOn(backend.snapshots, 'load'),
      vi.spyOn(backend.snapshots, 'save'),
      vi.spyOn(backend.checkpoints, 'load'),
      vi.spyOn(backend.checkpoints, 'save'),
      vi.spyOn(backend.deadLetters, 'append'),
      vi.spyOn(backend.deadLetters, 'list'),
    ];
    const calls: Array<() => Promise<unknown>> = [
      () => guarded.eventLog.append(commitOf(key, 2), 1),
      () => collect(guarded.eventLog.read(key)),
      () => guarded.eventLog.readAt(key, 1),
      () => collect(guarded.eventLog.streams()),
      () => guarded.snapshots.load(key),
      () => guarded.snapshots.save(snapshotOf(key, 1)),
      () => guarded.checkpoints.load('proj'),
      () => guarded.checkpoints.save('proj', 1),
      () =>
        guarded.deadLetters.append('pm', {
          envelope: 1,
          error: { code: 'X', message: 'x' },
          ts: 't',
        }),
      () => guarded.deadLetters.list('pm'),
    ];
    for (const call of calls) {
      await expect(call()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    }
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();

    clock.ms += 5_000; // half-open: the next call is the trial and reaches the backend
    expect((await collect(guarded.eventLog.read(key))).map((c) => c.version)).toEqual([1]);
    expect(spies[1]).toHaveBeenCalledTimes(1);
    expect(breaker.state).toBe('CLOSED');
  });

  it('an iteration refused midway closes the backend iterator', async () => {
    const clock = { ms: 0 };
    const breaker = new CircuitBreaker({ failureThreshold: 1, now: () => clock.ms });
    const guarded = guardBackend(backend, breaker);
    await guarded.eventLog.append(commitOf(key, 1), 0);
    await guarded.eventLog.append(commitOf(key, 2), 1);

    const inner = backend.eventLog.read.bind(backend.eventLog);
    let returned = false;
    vi.spyOn(backend.eventLog, 'read').mockImplementation((k, after) => {
      const source = inner(k, after)[Symbol.asyncIterator]();
      return {
        [Symbol.asyncIterator]: () => ({
          next: () => source.next(),
          return: async () => {
            returned = true;
            return (await source.return?.()) ?? { done: true, value: undefined };
          },
        }),
      };
    });
    const iterator = guarded.eventLog.read(key)[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ version: 1 });
    await breakCheckpoint('broken');
    await expect(guarded.checkpoints.load('broken')).rejects.toBeInstanceOf(StorageError);
    await expect(iterator.next()).rejects.toBeInstanceOf(CircuitOpenError);
    expect(returned).toBe(true);
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('close passes through while the circuit is open', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    const guarded = guardBackend(backend, breaker);
    await breakCheckpoint('broken');
    await expect(guarded.checkpoints.load('broken')).rejects.toBeInstanceOf(StorageError);
    expect(breaker.state).toBe('OPEN');
    const close = vi.spyOn(backend, 'close');
    await guarded.close();
    expect(close).toHaveBeenCalledTimes(1);
    backend = await openFileBackend(dir); // the lock was released: reopening works
  });
});
