import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';

interface Outgoing {
  readonly subject: string;
  readonly data: Uint8Array | string;
  readonly options: PublishOptions;
}

export interface PublishOptions {
  readonly reply?: string;
  readonly headers?: MsgHdrs;
  /** Called when nats.js refuses to send the message (closed or draining connection). */
  readonly onFailure?: (error: unknown) => void;
}

const shared = new WeakMap<NatsConnection, TurnPublisher>();

/**
 * Publishes handed to nats.js together once per event-loop turn, so they leave
 * in one socket write: nats.js flushes once per microtask checkpoint, and
 * messages published from separate callbacks (each command finishes in its
 * own) would otherwise cost a write each. One per connection (`of`): appends,
 * answers and notifications of a turn share the write.
 */
export class TurnPublisher {
  #outbox: Outgoing[] = [];

  private constructor(readonly nc: NatsConnection) {}

  /** The connection's publisher. */
  static of(nc: NatsConnection): TurnPublisher {
    let publisher = shared.get(nc);
    if (publisher === undefined) shared.set(nc, (publisher = new TurnPublisher(nc)));
    return publisher;
  }

  publish(subject: string, data: Uint8Array | string, options: PublishOptions = {}): void {
    this.#outbox.push({ subject, data, options });
    if (this.#outbox.length === 1) setImmediate(() => this.#send());
  }

  #send(): void {
    const outbox = this.#outbox;
    this.#outbox = [];
    for (const { subject, data, options } of outbox) {
      try {
        this.nc.publish(subject, data, { reply: options.reply, headers: options.headers });
      } catch (error) {
        options.onFailure?.(error);
      }
    }
  }
}
