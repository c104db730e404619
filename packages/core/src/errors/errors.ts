/**
 * One error hierarchy for the whole platform. Every error has a stable string
 * `code`; transports map codes to statuses in one table (`statusFor`), never by
 * matching messages.
 */
export type ErrorCode =
  | 'TENANT_ACCESS_DENIED'
  | 'VALIDATION'
  | 'VERSION_CONFLICT'
  | 'STORAGE'
  | 'STREAM'
  | 'REHYDRATION'
  | 'DECIDE'
  | 'APPLY'
  | 'NOT_FOUND'
  | 'NOT_OWNER'
  | 'UNAVAILABLE'
  | 'PROGRAM_LIMIT';

export abstract class TenantfoldError extends Error {
  abstract readonly code: ErrorCode;
  /** Whether the same request may succeed if sent again unchanged. */
  readonly retryable: boolean = false;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }

  /** Plain JSON form for logs, dead letters and wire details. */
  toJSON(): { code: ErrorCode; message: string } & Record<string, unknown> {
    return { code: this.code, message: this.message };
  }
}

export class TenantAccessDeniedError extends TenantfoldError {
  readonly code = 'TENANT_ACCESS_DENIED';
}

/** Bad input: the request is wrong and nothing was written. */
export class ValidationError extends TenantfoldError {
  readonly code = 'VALIDATION';
  constructor(
    message: string,
    readonly field?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
  override toJSON() {
    return { ...super.toJSON(), ...(this.field === undefined ? {} : { field: this.field }) };
  }
}

export class VersionConflictError extends TenantfoldError {
  readonly code = 'VERSION_CONFLICT';
  override readonly retryable = true;
  constructor(
    readonly expected: number,
    readonly actual: number,
    options?: ErrorOptions,
  ) {
    super(`expected version ${expected}, found ${actual}`, options);
  }
  override toJSON() {
    return { ...super.toJSON(), expected: this.expected, actual: this.actual };
  }
}

export class StorageError extends TenantfoldError {
  readonly code = 'STORAGE';
  override readonly retryable = true;
}

export class StreamError extends TenantfoldError {
  readonly code = 'STREAM';
  override readonly retryable = true;
}

export class RehydrationError extends TenantfoldError {
  readonly code = 'REHYDRATION';
}

/** A domain rejection: the decider refused the command, with its own message. */
export class DomainError extends TenantfoldError {
  readonly code = 'DECIDE';
}

export class ApplyError extends TenantfoldError {
  readonly code = 'APPLY';
}

export class NotFoundError extends TenantfoldError {
  readonly code = 'NOT_FOUND';
}

export class NotOwnerError extends TenantfoldError {
  readonly code = 'NOT_OWNER';
  override readonly retryable = true;
  constructor(
    readonly tenantId: string,
    readonly owner: string | undefined,
    options?: ErrorOptions,
  ) {
    super(
      `tenant '${tenantId}' is served by ${owner === undefined ? 'no node' : `node '${owner}'`}`,
      options,
    );
  }
  override toJSON() {
    return { ...super.toJSON(), owner: this.owner };
  }
}

export class UnavailableError extends TenantfoldError {
  readonly code = 'UNAVAILABLE';
  override readonly retryable = true;
}

/** A sandboxed program used more CPU time or memory than its limit allows. */
export class ProgramLimitError extends TenantfoldError {
  readonly code = 'PROGRAM_LIMIT';
}

export function isTenantfoldError(error: unknown): error is TenantfoldError {
  return error instanceof TenantfoldError;
}
