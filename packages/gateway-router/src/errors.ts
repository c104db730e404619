import { UnavailableError } from '@tenantfold/core';

/** UNAVAILABLE with a hint when to try again (`retry-after`, seconds). */
export class RetryLaterError extends UnavailableError {
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
  override toJSON() {
    return { ...super.toJSON(), retry_after_s: this.retryAfterSeconds };
  }
}
