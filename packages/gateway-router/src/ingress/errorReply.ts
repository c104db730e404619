import type { ServiceError } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { ERROR_STATUS, isTenantfoldError, statusFor } from '@tenantfold/core';
import { ERROR_FIELD_KEY, metadataValue, OWNER_NODE_KEY, toServiceError } from '@tenantfold/wire';
import { RetryLaterError } from '../errors.js';
import { NodeAnswerError } from '../forwarding/errors.js';

/** HTTP status of a gRPC status without a tenantfold code (rare: node bugs, protocol trouble). */
const HTTP_OF_GRPC: Readonly<Record<number, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.NOT_FOUND]: 404,
  [status.PERMISSION_DENIED]: 403,
  [status.FAILED_PRECONDITION]: 422,
  [status.ABORTED]: 409,
  [status.UNIMPLEMENTED]: 501,
  [status.UNAVAILABLE]: 503,
  [status.DEADLINE_EXCEEDED]: 504,
};

/** Answers `retry-after` rides on (gRPC trailing metadata, HTTP header), in seconds. */
export const RETRY_AFTER = 'retry-after';

/** An error as the gRPC ingress sends it: the node's answer unchanged, else the one translation. */
export function grpcErrorOf(error: unknown): Partial<ServiceError> {
  if (error instanceof NodeAnswerError) {
    return { code: error.grpcStatus, details: error.details, metadata: error.metadata };
  }
  const translated = toServiceError(error);
  if (error instanceof RetryLaterError) {
    translated.metadata?.set(RETRY_AFTER, String(error.retryAfterSeconds));
  }
  return translated;
}

/** An error as the HTTP ingress sends it: status, JSON body, optional `retry-after`. */
export function httpErrorOf(error: unknown): {
  status: number;
  body: Record<string, unknown>;
  retryAfterSeconds?: number;
} {
  if (error instanceof NodeAnswerError) {
    const known = (ERROR_STATUS as Record<string, { http: number } | undefined>)[error.code];
    const owner = metadataValue(error.metadata, OWNER_NODE_KEY);
    const field = metadataValue(error.metadata, ERROR_FIELD_KEY);
    return {
      status: known?.http ?? HTTP_OF_GRPC[error.grpcStatus] ?? 500,
      body: {
        code: error.code,
        message: error.details,
        ...(field === undefined ? {} : { field }),
        ...(owner === undefined ? {} : { owner }),
      },
    };
  }
  if (!isTenantfoldError(error)) {
    return { status: 500, body: { code: 'INTERNAL', message: 'internal error' } };
  }
  return {
    status: statusFor(error).http,
    body: error.toJSON(),
    ...(error instanceof RetryLaterError ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
  };
}
