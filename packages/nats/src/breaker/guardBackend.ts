import type {
  CheckpointStore,
  DeadLetterStore,
  EventLog,
  SnapshotStore,
  StorageBackend,
} from '@tenantfold/core';
import type { CircuitBreaker } from './circuitBreaker.js';

/**
 * An async iterable whose every `next()` goes through the breaker. The source
 * is opened on the first `next()`, so an open circuit refuses the iteration
 * before the backend is touched; a refused or failed step closes the source.
 */
function guardIterable<T>(breaker: CircuitBreaker, open: () => AsyncIterable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      let source: AsyncIterator<T> | undefined;
      let finished = false;
      const close = async (): Promise<void> => {
        finished = true;
        const it = source;
        source = undefined;
        await it?.return?.();
      };
      return {
        async next(): Promise<IteratorResult<T>> {
          if (finished) return { done: true, value: undefined };
          try {
            const step = await breaker.execute(() => {
              source ??= open()[Symbol.asyncIterator]();
              return source.next();
            });
            if (step.done === true) finished = true;
            return step;
          } catch (error) {
            await close().catch(() => undefined);
            throw error;
          }
        },
        async return(): Promise<IteratorResult<T>> {
          await close();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/**
 * Wraps a storage backend so that every call goes through `breaker`: while the
 * circuit is open, calls fail fast with `CircuitOpenError` (`UNAVAILABLE`) and
 * the backend is not touched. Async iterables (`read`, `streams`) are guarded
 * per step. `close()` is passed through unguarded: shutdown must not be
 * refused by an open circuit.
 */
export function guardBackend(backend: StorageBackend, breaker: CircuitBreaker): StorageBackend {
  const { eventLog, snapshots, checkpoints, deadLetters } = backend;
  const guardedLog: EventLog = {
    append: (commit, expectedPosition) =>
      breaker.execute(() => eventLog.append(commit, expectedPosition)),
    read: (key, afterPosition) => guardIterable(breaker, () => eventLog.read(key, afterPosition)),
    readAt: (key, position) => breaker.execute(() => eventLog.readAt(key, position)),
    streams: (filter) => guardIterable(breaker, () => eventLog.streams(filter)),
    close: () => eventLog.close(),
  };
  const guardedSnapshots: SnapshotStore = {
    load: (key) => breaker.execute(() => snapshots.load(key)),
    save: (snapshot) => breaker.execute(() => snapshots.save(snapshot)),
  };
  const guardedCheckpoints: CheckpointStore = {
    load: (name) => breaker.execute(() => checkpoints.load(name)),
    save: (name, value) => breaker.execute(() => checkpoints.save(name, value)),
  };
  const guardedDeadLetters: DeadLetterStore = {
    append: (processManager, letter) =>
      breaker.execute(() => deadLetters.append(processManager, letter)),
    list: (processManager) => breaker.execute(() => deadLetters.list(processManager)),
  };
  return {
    eventLog: guardedLog,
    snapshots: guardedSnapshots,
    checkpoints: guardedCheckpoints,
    deadLetters: guardedDeadLetters,
    close: () => backend.close(),
  };
}
