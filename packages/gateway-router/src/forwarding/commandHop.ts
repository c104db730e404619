import { Metadata } from '@grpc/grpc-js';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { headers as natsHeaders, NoRespondersError, TimeoutError } from '@nats-io/transport-node';
import type { NodeRecord, Placement } from '@tenantfold/nats';
import { RequestMux } from '@tenantfold/nats';
import type { CallContext, HopFormat } from '@tenantfold/wire';
import { HOP_HEADERS } from '@tenantfold/wire';
import { RetryLaterError } from '../errors.js';
import { NodeAnswerError } from './errors.js';

const decoder = new TextDecoder();

/** Room left in a NATS message for the subjects and fixed headers around a command's bytes. */
const HEADROOM_BYTES = 4 * 1024;

/** Nobody listens on the node's subject here (it is down, or on another NATS): it did not run the command. */
export class NoInboxError extends RetryLaterError {}

/**
 * Forwards a command's bytes to its node over NATS request-reply (the node's
 * `commandSubject`) and returns the answer's bytes: the router neither decodes
 * nor re-encodes what it passes on. Measured cheaper than a gRPC unary call per
 * command (`npm run bench:hop`); the requests of one turn leave together
 * (`RequestMux`).
 */
export class CommandHop {
  #mux: RequestMux | undefined;

  /** `connection`: the router's NATS connection while it is connected. */
  constructor(private readonly connection: () => NatsConnection | undefined) {}

  /**
   * Whether a command of `bytes` can reach `node` this way now (else the
   * caller uses gRPC): the node has an inbox, NATS is connected, and the
   * message fits the server's `max_payload` (a body the router accepts can
   * be a little larger than NATS's default 1 MiB).
   */
  reaches(node: NodeRecord, bytes: number, call: CallContext): boolean {
    const nc = this.connection();
    if (node.commandSubject === undefined || nc === undefined || nc.isClosed()) return false;
    const context =
      (call.correlationId?.length ?? 0) +
      (call.traceparent?.length ?? 0) +
      (call.tenant?.length ?? 0);
    return bytes + context + HEADROOM_BYTES <= (nc.info?.max_payload ?? 0);
  }

  async submit(
    node: NodeRecord,
    body: Uint8Array,
    format: HopFormat,
    call: CallContext,
    deadlineMs: number,
  ): Promise<Uint8Array> {
    const nc = this.connection();
    if (nc === undefined || node.commandSubject === undefined) {
      throw new RetryLaterError(`node '${node.id}' cannot be reached over NATS now; retry`);
    }
    const headers = natsHeaders();
    headers.set(HOP_HEADERS.format, format);
    if (call.tenant !== undefined) headers.set(HOP_HEADERS.tenant, call.tenant);
    if (call.correlationId !== undefined)
      headers.set(HOP_HEADERS.correlationId, call.correlationId);
    if (call.traceparent !== undefined) headers.set(HOP_HEADERS.traceparent, call.traceparent);
    if (call.commandId !== undefined) headers.set(HOP_HEADERS.commandId, call.commandId);
    let reply;
    try {
      reply = await this.#muxOn(nc).request(node.commandSubject, body, {
        headers,
        timeoutMs: deadlineMs,
        group: node.id,
      });
    } catch (error) {
      if (error instanceof NoRespondersError) {
        throw new NoInboxError(`node '${node.id}' is not taking commands over NATS`, 1, {
          cause: error,
        });
      }
      const why =
        error instanceof TimeoutError
          ? `it did not answer within ${deadlineMs} ms`
          : error instanceof Error
            ? error.message
            : String(error);
      throw new RetryLaterError(
        `call to node '${node.id}' (${node.commandSubject}) failed: ${why}; the command may or may not have run: retry with the same command_id`,
        1,
        { cause: error },
      );
    }
    const code = reply.headers?.get(HOP_HEADERS.errorCode) ?? '';
    if (code !== '') throw answerError(node, reply.headers!, decoder.decode(reply.data));
    return reply.data;
  }

  /**
   * Fails the requests waiting on nodes that placement now says are down or
   * gone: a request-reply has no connection to lose, so without this a command
   * sent just before its node died would wait out its whole deadline. A
   * `draining` node still serves the tenants pinned to it: its requests wait.
   */
  placementChanged(placement: Placement): void {
    this.#mux?.failGroups((nodeId) => {
      const status = placement.nodes.get(nodeId)?.status ?? 'removed';
      return status === 'down' || status === 'removed'
        ? new Error(`the node left placement (${status})`)
        : undefined;
    });
  }

  /** Fails what still waits. */
  close(): void {
    this.#mux?.close(new Error('the router stopped'));
    this.#mux = undefined;
  }

  #muxOn(nc: NatsConnection): RequestMux {
    if (this.#mux?.nc !== nc) {
      this.#mux?.close(new Error('the NATS connection was replaced'));
      this.#mux = new RequestMux(nc);
    }
    return this.#mux;
  }
}

/** The node's error answer as the gRPC path would have carried it (status, details, metadata). */
function answerError(node: NodeRecord, headers: MsgHdrs, message: string): NodeAnswerError {
  const metadata = new Metadata();
  for (const name of [HOP_HEADERS.errorCode, HOP_HEADERS.owner, HOP_HEADERS.field]) {
    const value = headers.get(name);
    if (value !== '') metadata.set(name, value);
  }
  return new NodeAnswerError(
    node.id,
    Number(headers.get(HOP_HEADERS.grpcStatus)),
    message,
    metadata,
  );
}
