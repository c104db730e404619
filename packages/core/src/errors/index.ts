export {
  TenantfoldError,
  TenantAccessDeniedError,
  ValidationError,
  VersionConflictError,
  StorageError,
  StreamError,
  RehydrationError,
  DomainError,
  ApplyError,
  NotFoundError,
  NotOwnerError,
  UnavailableError,
  ProgramLimitError,
  isTenantfoldError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export { ERROR_STATUS, GrpcStatus, statusFor } from './status.js';
export type { TransportStatus } from './status.js';
