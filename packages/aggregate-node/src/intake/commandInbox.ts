import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Logger } from '@tenantfold/core';
import { TurnPublisher } from '@tenantfold/nats';
import { isJsonObject, parseJson, ValidationError } from '@tenantfold/core';
import type { CallContext } from '@tenantfold/wire';
import { commandBodyOf, HOP_HEADERS, hopErrorOf, submitCommandCodec } from '@tenantfold/wire';
import { submitResponseOf } from '../grpc/commandService.js';
import type { CommandHandler, SubmitResult } from './commandHandler.js';

/** One format of the hop: the body as the handler takes it, and the answer's bytes. */
interface Codec {
  body(data: Uint8Array): Record<string, unknown>;
  answer(result: SubmitResult): Uint8Array | string;
}

const proto = submitCommandCodec();
const PROTO: Codec = {
  body: (data) => {
    let request;
    try {
      request = proto.requestDeserialize(Buffer.from(data.buffer, data.byteOffset, data.length));
    } catch (error) {
      throw new ValidationError('malformed SubmitCommandRequest', 'body', { cause: error });
    }
    return commandBodyOf(request);
  },
  answer: (result) => proto.responseSerialize(submitResponseOf(result)),
};

const decoder = new TextDecoder();
/** The HTTP API's JSON: event payloads as JSON values, not text. */
const JSON_CODEC: Codec = {
  body: (data) => {
    const json = parseJson(decoder.decode(data), 'body');
    if (!isJsonObject(json)) throw new ValidationError('body must be a JSON object', 'body');
    return json;
  },
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

  constructor(
    private readonly nc: NatsConnection,
    readonly subject: string,
    private readonly handler: CommandHandler,
    private readonly logger: Logger,
  ) {
    this.#replies = new TurnPublisher(nc, (_message, error) =>
      logger.warn({ err: error, subject }, 'command answer not sent'),
    );
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

  /** Takes no more commands (a router then hears "no responders") and waits for those in hand. */
  async stop(): Promise<void> {
    this.#subscription?.unsubscribe();
    await Promise.all(this.#answering);
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
    try {
      const answer = codec.answer(await this.handler.submit(call, codec.body(message.data)));
      this.#replies.publish(reply, answer);
    } catch (error) {
      const refusal = hopErrorOf(error);
      const headers = natsHeaders();
      for (const [name, text] of Object.entries(refusal.headers)) headers.set(name, text);
      this.#replies.publish(reply, refusal.message, { headers });
    }
  }
}
