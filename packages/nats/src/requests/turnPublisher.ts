import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';

interface Outgoing {
  readonly subject: string;
  readonly data: Uint8Array | string;
  readonly reply: string | undefined;
  readonly headers: MsgHdrs | undefined;
}

/**
 * Publishes handed to nats.js together once per event-loop turn, so they leave
 * in one socket write: nats.js flushes once per microtask checkpoint, and
 * messages published from separate callbacks (each command finishes in its
 * own) would otherwise cost a write each.
 */
export class TurnPublisher {
  #outbox: Outgoing[] = [];

  /** `onFailure`: a message nats.js refused to send (closed or draining connection). */
  constructor(
    readonly nc: NatsConnection,
    private readonly onFailure: (message: Outgoing, error: unknown) => void,
  ) {}

  publish(
    subject: string,
    data: Uint8Array | string,
    options: { readonly reply?: string; readonly headers?: MsgHdrs } = {},
  ): void {
    this.#outbox.push({ subject, data, reply: options.reply, headers: options.headers });
    if (this.#outbox.length === 1) setImmediate(() => this.#send());
  }

  /** Drops what was not sent yet. */
  clear(): void {
    this.#outbox = [];
  }

  #send(): void {
    const outbox = this.#outbox;
    this.#outbox = [];
    for (const message of outbox) {
      try {
        const { reply, headers } = message;
        this.nc.publish(message.subject, message.data, { reply, headers });
      } catch (error) {
        this.onFailure(message, error);
      }
    }
  }
}
