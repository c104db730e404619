import type { ServiceError } from '@grpc/grpc-js';
import { Metadata, status } from '@grpc/grpc-js';
import { isTenantfoldError, NotOwnerError, statusFor, ValidationError } from '@tenantfold/core';

/** Trailing metadata keys a client can act on. */
export const ERROR_CODE_KEY = 'x-error-code';
export const OWNER_NODE_KEY = 'x-owner-node';
/** The request field a validation error names. */
export const ERROR_FIELD_KEY = 'x-error-field';

/** The one translation from any thrown value to a gRPC status with details. */
export function toServiceError(error: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  if (!isTenantfoldError(error)) {
    return { code: status.INTERNAL, details: 'internal error', metadata };
  }
  metadata.set(ERROR_CODE_KEY, error.code);
  if (error instanceof NotOwnerError && error.owner !== undefined)
    metadata.set(OWNER_NODE_KEY, error.owner);
  if (error instanceof ValidationError && error.field !== undefined)
    metadata.set(ERROR_FIELD_KEY, error.field);
  return { code: statusFor(error).grpc, details: error.message, metadata };
}

/** First value of a metadata key as a string, if present. */
export function metadataValue(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return value === undefined ? undefined : value.toString();
}
