import { Metadata } from '@grpc/grpc-js';
import type { DataLimits, Logger, TenantId } from '@tenantfold/core';
import {
  isJsonObject,
  isTenantfoldError,
  parseCommandEnvelope,
  StreamKey,
  traceIdOf,
  Uuid,
  ValidationError,
} from '@tenantfold/core';
import type { CallContext } from '@tenantfold/wire';
import { outcomeOfCode, tenantOfCall } from '@tenantfold/wire';
import { NodeAnswerError } from '../forwarding/errors.js';
import type { Forwarder } from '../forwarding/forwarder.js';
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
  readonly subscriptions: SubscriptionHub;
  readonly allowDefaultTenant: boolean;
  /** What a command is held to before it is forwarded (the node checks it again). @default DEFAULT_DATA_LIMITS */
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
   * Validates a command body (`aggregate_type`, `aggregate_id`, `payload`
   * `{type, data}`, optional `command_id`, `expected_version`, `metadata`,
   * `tenant_id`) and forwards it; a missing `command_id` gets a UUID v7.
   */
  async submit(
    call: CallContext,
    body: Record<string, unknown>,
    route: string,
  ): Promise<Routed<SubmitCommandResponse>> {
    return this.#answer(route, call, body, async (tenant, metadata) => {
      const envelope = parseCommandEnvelope({ ...body, tenant_id: tenant }, this.options.limits);
      const message = {
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
      return (await this.options.forwarder.forward({
        tenant,
        aggregate: `${envelope.aggregate_type}/${envelope.aggregate_id}`,
        method: 'SubmitCommand',
        message,
        metadata,
      })) as SubmitCommandResponse;
    });
  }

  /** Validates `aggregate_type` and `aggregate_id` and forwards a state read. */
  async getState(
    call: CallContext,
    body: Record<string, unknown>,
    route: string,
  ): Promise<Routed<GetStateResponse>> {
    return this.#answer(route, call, body, async (tenant, metadata) => {
      const key = StreamKey.of(tenant, body.aggregate_type as string, body.aggregate_id as string);
      return (await this.options.forwarder.forward({
        tenant,
        aggregate: `${key.type}/${key.id}`,
        method: 'GetState',
        message: { tenant_id: tenant, aggregate_type: key.type, aggregate_id: key.id },
        metadata,
      })) as GetStateResponse;
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
    return this.#answer(route, call, body, async (tenant, metadata) => {
      const message = queryMessageOf(body);
      return (await this.options.forwarder.forward({
        tenant,
        // Held queries of a type are released in order, beside the commands.
        aggregate: `${message.aggregate_type}?query`,
        method: 'Query',
        message: { tenant_id: tenant, ...message },
        metadata,
      })) as QueryResponse;
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
    return this.#answer(route, call, body, async (tenant, metadata) => {
      const message = subscribeMessageOf(body);
      return this.options.subscriptions.open({
        tenant,
        type: message.aggregate_type,
        filterText: message.filterText,
        filter: message.filter,
        consistencyToken: message.consistencyToken,
        resume: message.resume,
        metadata,
      });
    });
  }

  async #answer<T>(
    route: string,
    call: CallContext,
    body: Record<string, unknown>,
    run: (tenant: TenantId, metadata: Metadata) => Promise<T>,
  ): Promise<Routed<T>> {
    const correlationId = nonEmpty(call.correlationId) ?? Uuid.new();
    const traceparent = nonEmpty(call.traceparent) ?? newTraceparent();
    let tenant = call.tenant ?? '';
    try {
      if (!isJsonObject(body)) throw new ValidationError('body must be a JSON object', 'body');
      const tenantId = tenantOfCall(call, body.tenant_id, this.options.allowDefaultTenant);
      tenant = tenantId;
      const metadata = new Metadata();
      if (tenantId !== '') metadata.set('x-tenant-id', tenantId);
      metadata.set('x-correlation-id', headerValue(correlationId, 'x-correlation-id'));
      metadata.set('traceparent', headerValue(traceparent, 'traceparent'));
      const response = await run(tenantId, metadata);
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
