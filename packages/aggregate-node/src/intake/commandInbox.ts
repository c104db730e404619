import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Logger } from '@tenantfold/core';
import { TurnPublisher } from '@tenantfold/nats';
import type { CallContext } from '@tenantfold/wire';
import {
  commandBodyOf,
  decodeSubmitRequest,
  HOP_HEADERS,
  hopErrorOf,
  jsonBodyOf,
  submitCommandCodec,
} from '@tenantfold/wire';
import { submitResponseOf } from '../grpc/commandService.js';
import type { CommandHandler, SubmitResult } from './commandHandler.js';

/** One format of the hop: the body as the handler takes it, and the answer's bytes. */
interface Codec {
  body(data: Uint8Array): Record<string, unknown>;
  answer(result: SubmitResult): Uint8Array | string;
}

const proto = submitCommandCodec();
const PROTO: Codec = {
  body: (data) => commandBodyOf(decodeSubmitRequest(data)),
  answer: (result) => proto.responseSerialize(submitResponseOf(result)),
};

/** The HTTP API's JSON: event payloads as JSON values, not text. */
const JSON_CODEC: Codec = {
  body: jsonBodyOf,
  answer: (result) =>
    JSON.stringify({
      command_id: result.command_id,
      version: result.version,
      consistency_token: result.position,
      duplicate: result.duplicate,
      events: result.events,
    }),
};

/**
 * Commands forwarded by routers over NATS request-reply, on the node's own
 * subject: the client's bytes, decoded once here, answered in their encoding.
 * The same handler as gRPC: tenant rules, ownership, fencing, intake gate.
 */
export class CommandInbox {
  #subscription: Subscription | undefined;
  readonly #answering = new Set<Promise<void>>();
  /** Answers of one turn leave in one socket write. */
  readonly #replies: TurnPublisher;
  readonly #unsent: (error: unknown) => void;

  constructor(
    private readonly nc: NatsConnection,
    readonly subject: string,
    private readonly handler: CommandHandler,
    private readonly logger: Logger,
  ) {
    this.#replies = TurnPublisher.of(nc);
    this.#unsent = (error) => logger.warn({ err: error, subject }, 'command answer not sent');
  }

  start(): Promise<void> {
    this.#subscription = this.nc.subscribe(this.subject, {
      callback: (error, message) => {
        if (error !== null) {
          this.logger.warn({ err: error, subject: this.subject }, 'command inbox error');
          return;
        }
        const answering = this.#answer(message).catch((failure: unknown) =>
          this.logger.warn({ err: failure, subject: this.subject }, 'command answer not sent'),
        );
        this.#answering.add(answering);
        void answering.finally(() => this.#answering.delete(answering));
      },
    });
    return this.nc.flush(); // subscribed on the server before the node advertises the subject
  }

  /**
   * Takes no more commands (a router then hears "no responders"), answers
   * those already received, and waits for them up to `deadlineMs`.
   */
  async stop(deadlineMs: number): Promise<void> {
    await this.#subscription?.drain().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.#answering),
      new Promise((resolve) => (timer = setTimeout(resolve, deadlineMs))),
    ]);
    clearTimeout(timer);
  }

  async #answer(message: Msg): Promise<void> {
    const reply = message.reply;
    if (reply === undefined || reply === '') return; // no one to answer: not a forwarded command
    const headers = message.headers;
    const value = (name: string) => {
      const got = headers?.get(name) ?? '';
      return got === '' ? undefined : got;
    };
    const call: CallContext = {
      tenant: value(HOP_HEADERS.tenant),
      correlationId: value(HOP_HEADERS.correlationId),
      traceparent: value(HOP_HEADERS.traceparent),
    };
    const codec = value(HOP_HEADERS.format) === 'json' ? JSON_CODEC : PROTO;
    let release = (): void => undefined;
    try {
      release = this.handler.admit(call.tenant, message.data.length);
      const body = codec.body(message.data);
      // A command without an id takes the one its router gave it (the same on a retry).
      body.command_id ??= value(HOP_HEADERS.commandId);
      const answer = codec.answer(await this.handler.submit(call, body));
      this.#replies.publish(reply, answer, { onFailure: this.#unsent });
    } catch (error) {
      const refusal = hopErrorOf(error);
      const headers = natsHeaders();
      for (const [name, text] of Object.entries(refusal.headers)) headers.set(name, text);
      this.#replies.publish(reply, refusal.message, { headers, onFailure: this.#unsent });
    } finally {
      release();
    }
  }
}
