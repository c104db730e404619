import type { ErrorCode } from './errors.js';
import { isTenantfoldError } from './errors.js';

/** gRPC status codes (numeric, as on the wire) used by the platform. */
export const GrpcStatus = {
  OK: 0,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export interface TransportStatus {
  readonly grpc: number;
  readonly http: number;
}

/** The one table from error code to transport status. */
export const ERROR_STATUS: Readonly<Record<ErrorCode, TransportStatus>> = Object.freeze({
  TENANT_ACCESS_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, http: 403 },
  VALIDATION: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  VERSION_CONFLICT: { grpc: GrpcStatus.ABORTED, http: 409 },
  STORAGE: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  STREAM: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  REHYDRATION: { grpc: GrpcStatus.INTERNAL, http: 500 },
  DECIDE: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 422 },
  APPLY: { grpc: GrpcStatus.INTERNAL, http: 500 },
  NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404 },
  NOT_OWNER: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  PROGRAM_LIMIT: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 422 },
});

const INTERNAL: TransportStatus = { grpc: GrpcStatus.INTERNAL, http: 500 };

/** Status for any thrown value; unknown errors are INTERNAL. */
export function statusFor(error: unknown): TransportStatus {
  return isTenantfoldError(error) ? ERROR_STATUS[error.code] : INTERNAL;
}
