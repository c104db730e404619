import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  ProtocolError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import type { ErrorCode } from '@tenantfold/core';
import { isTenantfoldError } from '@tenantfold/core';

/** Platform codes that mean "the backend did not answer", not "the backend said no". */
const FAILURE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'STORAGE',
  'STREAM',
  'UNAVAILABLE',
]);

/** Node.js system error codes of a broken transport or device. */
const SYSTEM_FAILURE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'EIO',
]);

const NATS_TRANSPORT_ERRORS = [
  TimeoutError,
  ConnectionError,
  ClosedConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  ProtocolError,
  JetStreamError,
] as const;

const MAX_CAUSE_DEPTH = 5;

/**
 * Whether an error means the backend is unreachable or broken, so that it
 * counts against a circuit breaker. Decided by class and code only:
 * - platform errors: `STORAGE`, `STREAM`, `UNAVAILABLE` count; every other code
 *   (`VERSION_CONFLICT`, `VALIDATION`, `DECIDE`, `NOT_FOUND`, …) is an answer;
 * - NATS: timeouts, connection errors, no responders, JetStream errors, and
 *   JetStream API errors with a 5xx status (a 4xx such as "wrong last
 *   sequence" 10071 is an answer);
 * - Node.js system errors of a broken connection or device (`ECONNREFUSED`, `EIO`, …);
 * - any other error counts only if its `cause` chain holds one of the above.
 */
export function isTransportFailure(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH; depth++) {
    if (isTenantfoldError(current)) return FAILURE_CODES.has(current.code);
    if (current instanceof JetStreamApiError) return current.status >= 500;
    if (NATS_TRANSPORT_ERRORS.some((type) => current instanceof type)) return true;
    if (!(current instanceof Error)) return false;
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && SYSTEM_FAILURE_CODES.has(code)) return true;
    current = current.cause;
  }
  return false;
}
