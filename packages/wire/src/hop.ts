// The router → node hop for commands: NATS request-reply on the node's own
// subject, the client's bytes passed through untouched (packages/gateway-router/README.md).
// One request carries one SubmitCommand in the client's own encoding; the
// reply is the answer in that same encoding, or an error in headers.
import type { MethodDefinition } from '@grpc/proto-loader';
import {
  isJsonObject,
  isTenantfoldError,
  NotOwnerError,
  parseJson,
  statusFor,
  ValidationError,
} from '@tenantfold/core';
import type { SubmitCommandRequest } from './calls.js';
import { tenantfoldProtos } from './protos.js';
import { ERROR_CODE_KEY, ERROR_FIELD_KEY, OWNER_NODE_KEY } from './status.js';

/** How a forwarded command body is encoded: gRPC's protobuf or the HTTP API's JSON. */
export type HopFormat = 'proto' | 'json';

/** Headers of a forwarded command (the call's own context travels as its gRPC metadata names). */
export const HOP_HEADERS = {
  tenant: 'x-tenant-id',
  correlationId: 'x-correlation-id',
  traceparent: 'traceparent',
  format: 'tf-format',
  /**
   * The id the router gave a command that came without one: the same on its
   * retry, so a retried command is deduplicated like one the client named.
   */
  commandId: 'x-command-id',
  /** On an error reply: the node's code, owner, invalid field, and the gRPC status it maps to. */
  errorCode: ERROR_CODE_KEY,
  owner: OWNER_NODE_KEY,
  field: ERROR_FIELD_KEY,
  grpcStatus: 'tf-grpc-status',
} as const;

/**
 * The subject one node process answers forwarded commands on: per placement
 * bucket, node id and incarnation (a token new at each start), so that a
 * second process under the same id, or an old one still stopping, never
 * receives the commands meant for the process placement advertises.
 */
export function commandSubject(
  placementBucket: string,
  nodeId: string,
  incarnation: string,
): string {
  return `tenantfold.${placementBucket}.${nodeId}.${incarnation}.commands`;
}

const decoder = new TextDecoder();

/** An HTTP API body (a JSON object) from its bytes; anything else is a `ValidationError`. */
export function jsonBodyOf(bytes: Uint8Array): Record<string, unknown> {
  const body = parseJson(decoder.decode(bytes), 'body');
  if (!isJsonObject(body)) throw new ValidationError('body must be a JSON object', 'body');
  return body;
}

/** A `SubmitCommandRequest` from protobuf bytes; malformed bytes are a `ValidationError`. */
export function decodeSubmitRequest(bytes: Uint8Array): SubmitCommandRequest {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return submitCommandCodec().requestDeserialize(buffer);
  } catch (error) {
    throw new ValidationError('malformed SubmitCommandRequest', 'body', { cause: error });
  }
}

/** An error as an error reply carries it: headers, and the message as the body. */
export function hopErrorOf(error: unknown): {
  headers: Record<string, string>;
  message: string;
} {
  if (!isTenantfoldError(error)) {
    return {
      headers: { [HOP_HEADERS.errorCode]: 'INTERNAL', [HOP_HEADERS.grpcStatus]: '13' },
      message: 'internal error',
    };
  }
  return {
    headers: {
      [HOP_HEADERS.errorCode]: error.code,
      [HOP_HEADERS.grpcStatus]: String(statusFor(error).grpc),
      ...(error instanceof NotOwnerError && error.owner !== undefined
        ? { [HOP_HEADERS.owner]: error.owner }
        : {}),
      ...(error instanceof ValidationError && error.field !== undefined
        ? { [HOP_HEADERS.field]: error.field }
        : {}),
    },
    message: error.message,
  };
}

/** SubmitCommand's protobuf codec: the one the gRPC services use (proto-loader's options). */
export function submitCommandCodec(): MethodDefinition<SubmitCommandRequest, object> {
  const service = tenantfoldProtos().definition['tenantfold.v1.CommandService'] as Record<
    string,
    MethodDefinition<SubmitCommandRequest, object>
  >;
  return service.SubmitCommand!;
}
