import type { PubAck } from '@nats-io/jetstream';
import { JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { headers } from '@nats-io/transport-node';
import { UnavailableError } from '@tenantfold/core';
import { RequestMux } from '../requests/requestMux.js';

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

/**
 * JetStream publishes (`Nats-Msg-Id`, expected last subject sequence) with
 * their acks as replies of one `RequestMux`: what `js.publish` does, without
 * the request object, the timer and the `Error` nats.js builds for every
 * request. Failures are the errors nats.js gives (`JetStreamApiError`,
 * `TimeoutError`, `NoRespondersError`), so they are classified in one place as before.
 */
export class AckedPublisher {
  readonly #mux: RequestMux;

  constructor(
    nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.#mux = new RequestMux(nc);
  }

  async publish(
    subject: string,
    data: Uint8Array,
    options: { readonly msgID?: string; readonly lastSubjectSequence: number },
  ): Promise<PubAck> {
    const h = headers();
    if (options.msgID !== undefined) h.set('Nats-Msg-Id', options.msgID);
    h.set('Nats-Expected-Last-Subject-Sequence', String(options.lastSubjectSequence));
    const reply = await this.#mux.request(subject, data, { headers: h, timeoutMs: this.timeoutMs });
    const ack = reply.json<AckBody>();
    if (ack.error !== undefined) throw new JetStreamApiError(ack.error);
    return {
      stream: ack.stream,
      seq: ack.seq,
      duplicate: ack.duplicate === true,
      domain: ack.domain ?? '',
    };
  }

  /** Stops taking acks; publishes still waiting fail as unavailable. */
  close(): void {
    this.#mux.close(new UnavailableError('the event log is closed'));
  }
}
