import { UnavailableError } from '@tenantfold/core';

/** @default 1000 */
export const DEFAULT_SUBSCRIBER_BUFFER = 1000;

/**
 * A subscriber that did not keep up: its buffer filled, so it was cut rather
 * than let memory grow. Retryable (UNAVAILABLE): resubscribe with the last
 * versions seen to resume.
 */
export class SlowSubscriberError extends UnavailableError {
  constructor(readonly capacity: number) {
    super(
      `subscriber too slow: ${capacity} changes were waiting for it (the limit); resubscribe with the last versions seen to resume`,
    );
  }
  override toJSON() {
    return { ...super.toJSON(), capacity: this.capacity };
  }
}

/**
 * A bounded queue between a producer of changes (push, never blocks) and one
 * consumer (async iteration). When `capacity` items are waiting, the next push
 * ends the subscription with SlowSubscriberError: items already buffered are
 * dropped and the consumer's next read throws.
 */
export class SubscriberBuffer<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void } | undefined;
  #ended: { error?: Error } | undefined;

  constructor(readonly capacity = DEFAULT_SUBSCRIBER_BUFFER) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`buffer capacity must be a positive integer, got ${capacity}`);
    }
  }

  /** Items waiting for the consumer. */
  get size(): number {
    return this.#items.length;
  }

  /** Whether the buffer was closed or cut; pushes are then ignored. */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** Queues an item; returns false (and ends the buffer) when it was full. */
  push(item: T): boolean {
    if (this.#ended !== undefined) return false;
    if (this.#waiting !== undefined) {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      waiting.resolve({ value: item, done: false });
      return true;
    }
    if (this.#items.length >= this.capacity) {
      this.fail(new SlowSubscriberError(this.capacity));
      return false;
    }
    this.#items.push(item);
    return true;
  }

  /** Ends the stream with an error; buffered items are dropped. */
  fail(error: Error): void {
    if (this.#ended !== undefined) return;
    this.#ended = { error };
    this.#items.length = 0;
    this.#settle();
  }

  /** Ends the stream normally, after the consumer has read what is buffered. */
  close(): void {
    if (this.#ended !== undefined) return;
    this.#ended = {};
    this.#settle();
  }

  #settle(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting === undefined) return;
    const error = this.#ended?.error;
    if (error === undefined) waiting.resolve({ value: undefined, done: true });
    else waiting.reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#items.length > 0) {
          return Promise.resolve({ value: this.#items.shift()!, done: false });
        }
        const ended = this.#ended;
        if (ended?.error !== undefined) return Promise.reject(ended.error);
        if (ended !== undefined) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.#waiting = { resolve, reject };
        });
      },
      return: () => {
        this.close();
        this.#items.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
