import type { PubAck } from '@nats-io/jetstream';
import { JetStreamApiError } from '@nats-io/jetstream';
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { createInbox, headers, NoRespondersError, TimeoutError } from '@nats-io/transport-node';
import { UnavailableError } from '@tenantfold/core';

interface Pending {
  readonly subject: string;
  readonly deadline: number;
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (error: unknown) => void;
}

/** What the server answers a JetStream publish with. */
interface AckBody {
  readonly stream: string;
  readonly seq: number;
  readonly duplicate?: boolean;
  readonly domain?: string;
  readonly error?: {
    readonly code: number;
    readonly err_code: number;
    readonly description: string;
  };
}

/** How often pending acks are checked against their deadline, at most. */
const SWEEP_MS = 250;

/**
 * JetStream publishes (`Nats-Msg-Id`, expected last subject sequence) with
 * their acks arriving on one wildcard inbox subscription: what `js.publish`
 * does, without the request object, the timer and the `Error` that nats.js
 * builds for every request, also on success (`RequestOne.cancel`). One sweep
 * bounds every pending ack by its deadline. Failures are the errors nats.js
 * gives (`JetStreamApiError`, `TimeoutError`, `NoRespondersError`), so they
 * are classified in one place as before.
 */
export class AckedPublisher {
  readonly #prefix: string;
  readonly #pending = new Map<number, Pending>();
  readonly #subscription: Subscription;
  readonly #sweep: NodeJS.Timeout;
  /** Publishes of this event-loop turn, sent together at its end (one socket write). */
  #outbox: Array<{ subject: string; data: Uint8Array; reply: string; headers: MsgHdrs }> = [];
  #next = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.#prefix = `${createInbox()}.`;
    this.#subscription = nc.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => (error === null ? this.#settle(msg) : this.#failAll(error)),
    });
    this.#sweep = setInterval(() => this.#expire(), Math.min(SWEEP_MS, timeoutMs)).unref();
  }

  publish(
    subject: string,
    data: Uint8Array,
    options: { readonly msgID?: string; readonly lastSubjectSequence: number },
  ): Promise<PubAck> {
    const id = ++this.#next;
    const h = headers();
    if (options.msgID !== undefined) h.set('Nats-Msg-Id', options.msgID);
    h.set('Nats-Expected-Last-Subject-Sequence', String(options.lastSubjectSequence));
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { subject, deadline: Date.now() + this.timeoutMs, resolve, reject });
      this.#outbox.push({ subject, data, reply: `${this.#prefix}${id}`, headers: h });
      if (this.#outbox.length === 1) setImmediate(() => this.#send());
    });
  }

  /**
   * Hands the turn's publishes to nats.js in one go: it flushes once per
   * microtask checkpoint, and appends finishing in separate callbacks (each
   * sandbox call returns in its own) would otherwise cost a write each.
   */
  #send(): void {
    const outbox = this.#outbox;
    this.#outbox = [];
    for (const { subject, data, reply, headers: h } of outbox) {
      try {
        this.nc.publish(subject, data, { reply, headers: h });
      } catch (error) {
        // a closed or draining connection: nats.js throws its own errors
        const id = Number(reply.slice(this.#prefix.length));
        this.#pending.get(id)?.reject(error instanceof Error ? error : new Error(String(error)));
        this.#pending.delete(id);
      }
    }
  }

  /** Stops taking acks; publishes still waiting fail as unavailable. */
  close(): void {
    clearInterval(this.#sweep);
    this.#outbox = [];
    this.#subscription.unsubscribe();
    this.#failAll(new UnavailableError('the event log is closed'));
  }

  #settle(msg: Msg): void {
    const id = Number(msg.subject.slice(this.#prefix.length));
    const pending = this.#pending.get(id);
    if (pending === undefined) return; // late: its deadline passed
    this.#pending.delete(id);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      pending.reject(new NoRespondersError(pending.subject));
      return;
    }
    let ack: AckBody;
    try {
      ack = msg.json<AckBody>();
    } catch (error) {
      pending.reject(error);
      return;
    }
    if (ack.error !== undefined) pending.reject(new JetStreamApiError(ack.error));
    else
      pending.resolve({
        stream: ack.stream,
        seq: ack.seq,
        duplicate: ack.duplicate === true,
        domain: ack.domain ?? '',
      });
  }

  #expire(): void {
    const now = Date.now();
    // Insertion order is deadline order (one timeout for all).
    for (const [id, pending] of this.#pending) {
      if (pending.deadline > now) return;
      this.#pending.delete(id);
      pending.reject(new TimeoutError());
    }
  }

  #failAll(error: unknown): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
