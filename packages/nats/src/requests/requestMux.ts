import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { createInbox, NoRespondersError, TimeoutError } from '@nats-io/transport-node';
import { TurnPublisher } from './turnPublisher.js';

interface Pending {
  readonly subject: string;
  readonly group: string;
  readonly deadline: number;
  readonly resolve: (reply: Msg) => void;
  readonly reject: (error: unknown) => void;
}

export interface RequestOptions {
  readonly headers?: MsgHdrs;
  readonly timeoutMs: number;
  /** Requests of one group can be failed together (`failGroups`), e.g. those to one node. */
  readonly group?: string;
}

/** How often deadlines are checked: a request fails at most this long after its deadline. */
const SWEEP_MS = 50;

/**
 * Request-reply over one wildcard inbox subscription: what `nc.request` does,
 * without the request object, the timer and the `Error` nats.js builds for
 * every request, also on success (`RequestOne.cancel`). The requests of one
 * event-loop turn leave together (`TurnPublisher`); one sweep bounds every
 * request by its deadline. Failures are the errors nats.js gives
 * (`TimeoutError`, `NoRespondersError`, its connection errors).
 */
export class RequestMux {
  readonly #prefix: string;
  readonly #pending = new Map<number, Pending>();
  readonly #subscription: Subscription;
  #sweep: NodeJS.Timeout | undefined;
  /** No deadline passes before this: a sweep before it has nothing to scan. */
  #earliest = Number.POSITIVE_INFINITY;
  #closed: Error | undefined;
  #next = 0;

  constructor(readonly nc: NatsConnection) {
    this.#prefix = `${createInbox()}.`;
    this.#subscription = nc.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => (error === null ? this.#settle(msg) : this.#failAll(error)),
    });
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Msg> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      const deadline = performance.now() + options.timeoutMs;
      this.#earliest = Math.min(this.#earliest, deadline);
      this.#pending.set(id, { subject, group: options.group ?? '', deadline, resolve, reject });
      TurnPublisher.of(this.nc).publish(subject, data, {
        reply: `${this.#prefix}${id}`,
        headers: options.headers,
        onFailure: (error) => this.#fail(id, error),
      });
      this.#sweep ??= setInterval(() => this.#expire(), SWEEP_MS).unref();
    });
  }

  /** Fails the requests still waiting in each group for which `errorOf` gives an error. */
  failGroups(errorOf: (group: string) => Error | undefined): void {
    const errors = new Map<string, Error | undefined>();
    for (const [id, pending] of this.#pending) {
      if (!errors.has(pending.group)) errors.set(pending.group, errorOf(pending.group));
      const error = errors.get(pending.group);
      if (error === undefined) continue;
      this.#pending.delete(id);
      pending.reject(error);
    }
  }

  /** Stops taking replies; requests still waiting fail with `error`. */
  close(error: Error): void {
    this.#closed = error;
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    this.#subscription.unsubscribe();
    this.#failAll(error);
  }

  #settle(msg: Msg): void {
    const id = Number(msg.subject.slice(this.#prefix.length));
    const pending = this.#pending.get(id);
    if (pending === undefined) return; // late: its deadline passed
    this.#pending.delete(id);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      pending.reject(new NoRespondersError(pending.subject));
    } else {
      pending.resolve(msg);
    }
  }

  #expire(): void {
    const now = performance.now();
    if (now >= this.#earliest) {
      this.#earliest = Number.POSITIVE_INFINITY;
      for (const [id, pending] of this.#pending) {
        if (pending.deadline > now) {
          this.#earliest = Math.min(this.#earliest, pending.deadline);
          continue;
        }
        this.#pending.delete(id);
        pending.reject(new TimeoutError());
      }
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }

  #fail(id: number, error: unknown): void {
    this.#pending.get(id)?.reject(error);
    this.#pending.delete(id);
  }

  #failAll(error: unknown): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
