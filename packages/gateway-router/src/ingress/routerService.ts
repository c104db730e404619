import { Metadata } from '@grpc/grpc-js';
import type { DataLimits, Logger, TenantId } from '@tenantfold/core';
import {
  isJsonObject,
  isTenantfoldError,
  parseCommandEnvelope,
  parseJson,
  StreamKey,
  traceIdOf,
  Uuid,
  ValidationError,
} from '@tenantfold/core';
import type { NodeRecord } from '@tenantfold/nats';
import type { CallContext, HopFormat } from '@tenantfold/wire';
import {
  decodeSubmitRequest,
  jsonBodyOf,
  outcomeOfCode,
  submitCommandCodec,
  tenantOfCall,
} from '@tenantfold/wire';
import type { CommandHop } from '../forwarding/commandHop.js';
import { NoInboxError } from '../forwarding/commandHop.js';
import { NodeAnswerError } from '../forwarding/errors.js';
import type { Forwarder } from '../forwarding/forwarder.js';
import type { ForwardedMethod, NodeChannels } from '../forwarding/nodeChannels.js';
import type { RequestOutcome } from '../metrics/routerMetrics.js';
import type { RoutedSubscription } from '../subscriptions/routedSubscription.js';
import type { SubscriptionHub } from '../subscriptions/subscriptionHub.js';
import { queryMessageOf, subscribeMessageOf } from './queryRequests.js';

/** `tenantfold.v1.SubmitCommandResponse` as proto-loader decodes it. */
export interface SubmitCommandResponse {
  readonly command_id: string;
  readonly events: ReadonlyArray<Record<string, unknown> & { payload_json: string }>;
  readonly version: number;
  readonly consistency_token: number;
  readonly duplicate: boolean;
}

/** `tenantfold.v1.GetStateResponse`. */
export interface GetStateResponse {
  readonly state_json: string;
  readonly version: number;
}

/** `tenantfold.v1.QueryResponse` as proto-loader decodes it. */
export interface QueryResponse {
  readonly rows: ReadonlyArray<{
    readonly aggregate_id: string;
    readonly version: number;
    readonly updated_at: string;
    readonly state_json: string;
    readonly position: number;
  }>;
  readonly next_cursor: string;
  readonly limit: number;
  readonly limit_capped: boolean;
  readonly position: number;
}

/** A finished request: its id for the client and the correlation id it was forwarded with. */
export interface Routed<T> {
  readonly response: T;
  readonly correlationId: string;
}

export interface RouterServiceOptions {
  readonly forwarder: Forwarder;
  /** Commands to nodes that take them over NATS. */
  readonly hop: CommandHop;
  /** Everything else, and commands to nodes without a NATS inbox. */
  readonly channels: NodeChannels;
  readonly subscriptions: SubscriptionHub;
  readonly allowDefaultTenant: boolean;
  /** What a command forwarded over gRPC is held to (the node checks it again). @default DEFAULT_DATA_LIMITS */
  readonly limits?: DataLimits;
  readonly logger: Logger;
  readonly onAnswered?: (route: string, outcome: RequestOutcome) => void;
}

/**
 * The router's request path, the same for gRPC and HTTP: validate (tenant,
 * envelope), give the command its id, then forward. Both transports call
 * these methods, so they give the same answers to the same input.
 */
export class RouterService {
  constructor(private readonly options: RouterServiceOptions) {}

  /**
   * Forwards a command as the client encoded it (`proto`: a gRPC
   * `SubmitCommandRequest`, `json`: the HTTP body) and answers in the same
   * encoding. Over the NATS hop the bytes pass untouched and the node checks
   * them; a node reached over gRPC gets the message built here.
   */
  async submitEncoded(
    call: CallContext,
    bytes: Uint8Array,
    format: HopFormat,
    route: string,
  ): Promise<Routed<Uint8Array>> {
    return this.#answer(route, call, {}, (tenant, context) => {
      // Given here, once: a retry to another node (or the same) carries the same id.
      const forwarded = { ...context, commandId: Uuid.new() };
      return this.options.forwarder.forward({
        tenant,
        aggregate: () => aggregateOf(format, bytes),
        method: 'SubmitCommand',
        send: async (node, deadlineMs) => {
          if (this.options.hop.reaches(node, bytes.length, forwarded)) {
            try {
              return await this.options.hop.submit(node, bytes, format, forwarded, deadlineMs);
            } catch (error) {
              // Not listening on this NATS (down, or routers and nodes on different servers):
              // gRPC either reaches it or says at once that it cannot.
              if (!(error instanceof NoInboxError)) throw error;
            }
          }
          return this.#submitOverGrpc(node, format, bytes, tenant, forwarded, deadlineMs);
        },
      });
    });
  }

  async #submitOverGrpc(
    node: NodeRecord,
    format: HopFormat,
    bytes: Uint8Array,
    tenant: TenantId,
    forwarded: CallContext,
    deadlineMs: number,
  ): Promise<Uint8Array> {
    const commandId = forwarded.commandId!;
    const message =
      format === 'proto'
        ? protoMessageOf(bytes, commandId)
        : submitMessageOf(jsonBodyOf(bytes), tenant, commandId, this.options.limits);
    const response = (await this.options.channels.call(
      node,
      'SubmitCommand',
      message,
      metadataOf(forwarded),
      deadlineMs,
    )) as SubmitCommandResponse;
    return format === 'proto'
      ? proto.responseSerialize(response)
      : Buffer.from(JSON.stringify(commandJson(response)));
  }

  /** Validates `aggregate_type` and `aggregate_id` and forwards a state read. */
  async getState(
    call: CallContext,
    body: Record<string, unknown>,
    route: string,
  ): Promise<Routed<GetStateResponse>> {
    return this.#answer(route, call, body, (tenant, forwarded) => {
      const key = StreamKey.of(tenant, body.aggregate_type as string, body.aggregate_id as string);
      return this.#overGrpc<GetStateResponse>(
        tenant,
        `${key.type}/${key.id}`,
        'GetState',
        forwarded,
        {
          tenant_id: tenant,
          aggregate_type: key.type,
          aggregate_id: key.id,
        },
      );
    });
  }

  /**
   * Validates a query (`aggregate_type`, `filter`, `sort`, `limit`, `cursor`,
   * `consistency_token`) and forwards it to the tenant's owner.
   */
  async query(
    call: CallContext,
    body: Record<string, unknown>,
    route: string,
  ): Promise<Routed<QueryResponse>> {
    return this.#answer(route, call, body, (tenant, forwarded) => {
      const message = queryMessageOf(body);
      // Held queries of a type are released in order, beside the commands.
      return this.#overGrpc<QueryResponse>(
        tenant,
        `${message.aggregate_type}?query`,
        'Query',
        forwarded,
        {
          tenant_id: tenant,
          ...message,
        },
      );
    });
  }

  /** Forwards one unary call to the tenant's owner over gRPC. */
  #overGrpc<T>(
    tenant: TenantId,
    aggregate: string,
    method: ForwardedMethod,
    forwarded: CallContext,
    message: unknown,
  ): Promise<T> {
    return this.options.forwarder.forward({
      tenant,
      aggregate: () => aggregate,
      method,
      send: async (node, deadlineMs) =>
        (await this.options.channels.call(
          node,
          method,
          message,
          metadataOf(forwarded),
          deadlineMs,
        )) as T,
    });
  }

  /**
   * Validates a subscription (`aggregate_type`, `filter`, `consistency_token`,
   * `resume`) and opens it on the tenant's owner, under the router's caps.
   * The caller drains `changes` and calls `close()` when its client leaves.
   */
  async subscribe(
    call: CallContext,
    body: Record<string, unknown>,
    route: string,
  ): Promise<Routed<RoutedSubscription>> {
    return this.#answer(route, call, body, async (tenant, forwarded) => {
      const message = subscribeMessageOf(body);
      return this.options.subscriptions.open({
        tenant,
        type: message.aggregate_type,
        filterText: message.filterText,
        filter: message.filter,
        consistencyToken: message.consistencyToken,
        resume: message.resume,
        metadata: metadataOf(forwarded),
      });
    });
  }

  async #answer<T>(
    route: string,
    call: CallContext,
    body: Record<string, unknown>,
    run: (tenant: TenantId, forwarded: CallContext) => Promise<T>,
  ): Promise<Routed<T>> {
    const correlationId = nonEmpty(call.correlationId) ?? Uuid.new();
    const traceparent = nonEmpty(call.traceparent) ?? newTraceparent();
    let tenant = call.tenant ?? '';
    try {
      if (!isJsonObject(body)) throw new ValidationError('body must be a JSON object', 'body');
      const tenantId = tenantOfCall(call, body.tenant_id, this.options.allowDefaultTenant);
      tenant = tenantId;
      const response = await run(tenantId, {
        tenant: tenantId === '' ? undefined : tenantId,
        correlationId: headerValue(correlationId, 'x-correlation-id'),
        traceparent: headerValue(traceparent, 'traceparent'),
      });
      this.options.onAnswered?.(route, 'ok');
      return { response, correlationId };
    } catch (error) {
      const outcome = outcomeOf(error);
      this.options.onAnswered?.(route, outcome);
      this.options.logger[outcome === 'error' ? 'error' : 'info'](
        {
          route,
          tenant_id: tenant,
          aggregate_id: body.aggregate_id,
          command_id: body.command_id,
          correlation_id: correlationId,
          traceparent,
          err: error,
        },
        'request failed',
      );
      throw error;
    }
  }
}

/** The call's context as gRPC metadata for a node. */
function metadataOf(forwarded: CallContext): Metadata {
  const metadata = new Metadata();
  if (forwarded.tenant !== undefined) metadata.set('x-tenant-id', forwarded.tenant);
  if (forwarded.correlationId !== undefined)
    metadata.set('x-correlation-id', forwarded.correlationId);
  if (forwarded.traceparent !== undefined) metadata.set('traceparent', forwarded.traceparent);
  return metadata;
}

const proto = submitCommandCodec();

/** A gRPC client's `SubmitCommandRequest`, with the router's id when it names none. */
function protoMessageOf(bytes: Uint8Array, commandId: string) {
  const request = decodeSubmitRequest(bytes);
  return request.command_id === '' ? { ...request, command_id: commandId } : request;
}

/** `SubmitCommandRequest` of an HTTP command body; a missing `command_id` gets the router's. */
function submitMessageOf(
  body: Record<string, unknown>,
  tenant: TenantId,
  commandId: string,
  limits?: DataLimits,
) {
  tenantOfCall({ tenant }, body.tenant_id, true); // a body naming another tenant is refused
  const envelope = parseCommandEnvelope(
    { command_id: commandId, ...body, tenant_id: tenant },
    limits,
  );
  return {
    tenant_id: tenant,
    command_id: envelope.command_id,
    aggregate_type: envelope.aggregate_type,
    aggregate_id: envelope.aggregate_id,
    payload_json: JSON.stringify(envelope.payload),
    metadata: envelope.metadata,
    ...(envelope.expected_version === undefined
      ? {}
      : { expected_version: envelope.expected_version }),
  };
}

/** The command as HTTP/JSON returns it: event payloads as JSON, not text. */
function commandJson(response: SubmitCommandResponse) {
  return {
    command_id: response.command_id,
    version: response.version,
    consistency_token: response.consistency_token,
    duplicate: response.duplicate,
    events: response.events.map(({ payload_json, ...event }) => ({
      ...event,
      payload: parseJson(payload_json, 'payload_json'),
    })),
  };
}

/** `<type>/<id>` of an encoded command, for ordering held requests; '' when unreadable (the node refuses it). */
function aggregateOf(format: HopFormat, bytes: Uint8Array): string {
  try {
    const { aggregate_type: type, aggregate_id: id } =
      format === 'proto' ? decodeSubmitRequest(bytes) : jsonBodyOf(bytes);
    return `${String(type)}/${String(id)}`;
  } catch {
    return '';
  }
}

/** Printable ASCII: what a gRPC header value may hold (grpc-js throws on anything else). */
const HEADER_VALUE = /^[\x20-\x7e]*$/;

function headerValue(value: string, name: string): string {
  if (!HEADER_VALUE.test(value)) {
    throw new ValidationError(`${name} must be printable ASCII`, name);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * A new W3C trace context (sampled) for a call that came without one, from
 * core's pooled random source (a `randomBytes` call per request cost ~20 µs).
 */
function newTraceparent(): string {
  return `00-${traceIdOf(undefined)}-${traceIdOf(undefined).slice(16)}-01`;
}

/** The stable error code of any failure: the node's, the router's own, or INTERNAL. */
export function errorCodeOf(error: unknown): string {
  if (error instanceof NodeAnswerError) return error.code;
  return isTenantfoldError(error) ? error.code : 'INTERNAL';
}

function outcomeOf(error: unknown): RequestOutcome {
  return outcomeOfCode(errorCodeOf(error));
}
