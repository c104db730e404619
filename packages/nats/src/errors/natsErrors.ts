import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  TimeoutError,
} from '@nats-io/transport-node';
import type { TenantfoldError } from '@tenantfold/core';
import {
  isTenantfoldError,
  StorageError,
  StreamError,
  VersionConflictError,
} from '@tenantfold/core';

/**
 * The JetStream API error codes this package acts on: `@nats-io/jetstream`'s
 * own where it has them. Server error codes are read here and nowhere else.
 */
export const NatsApiCode = {
  /** `Nats-Expected-Last-Subject-Sequence` (or a KV revision) did not match. */
  WrongLastSequence: JetStreamApiCodes.StreamWrongLastSequence,
  StreamNotFound: JetStreamApiCodes.StreamNotFound,
  JetStreamNotEnabledForAccount: JetStreamApiCodes.JetStreamNotEnabledForAccount,
  // Not among JetStreamApiCodes (nats.js 3.4):
  StreamNameInUse: 10058,
  SubjectsOverlap: 10065,
} as const;

/** Which kind of store failed: the event stream, or a KV/dead-letter store. */
export type FailedStore = 'stream' | 'storage';

export interface FailureContext {
  readonly store: FailedStore;
  /** What was being done, for the message: `append to tenant.a.aggregate.counter.c-1`. */
  readonly operation: string;
  /**
   * The position the append expected; when set, a wrong-last-sequence error
   * becomes a `VersionConflictError`.
   */
  readonly expectedPosition?: number;
}

function apiCode(error: unknown): number | undefined {
  return error instanceof JetStreamApiError ? error.code : undefined;
}

/** A compare-and-set lost: the stream or KV key moved on since it was read. */
export function isWrongLastSequence(error: unknown): boolean {
  return apiCode(error) === NatsApiCode.WrongLastSequence;
}

export function isStreamNotFound(error: unknown): boolean {
  return apiCode(error) === NatsApiCode.StreamNotFound;
}

export function isStreamNameInUse(error: unknown): boolean {
  return apiCode(error) === NatsApiCode.StreamNameInUse;
}

/**
 * The subject's last sequence as the server reports it with a wrong-last-sequence
 * error (`wrong last sequence: 42`). Only context for the error: the error is
 * classified by its code, never by its text.
 */
function reportedLastSequence(error: JetStreamApiError): number {
  const match = /(\d+)\s*$/.exec(error.apiError().description);
  return match?.[1] === undefined ? -1 : Number(match[1]);
}

/** The error of the failed store's kind: `StreamError` for the event stream, else `StorageError`. */
export function storeFailure(
  ctx: FailureContext,
  message: string,
  cause?: unknown,
): StreamError | StorageError {
  const text = `${ctx.operation}: ${message}`;
  const options = cause === undefined ? undefined : { cause };
  return ctx.store === 'stream' ? new StreamError(text, options) : new StorageError(text, options);
}

/** The error and its `cause` chain (nats.js wraps, e.g. no-responders inside a RequestError). */
function* causes(error: unknown): Generator<unknown> {
  let current = error;
  for (let depth = 0; depth < 5 && current !== undefined; depth++) {
    yield current;
    current = current instanceof Error ? current.cause : undefined;
  }
}

/** Classifies `error` (one link of the chain); the result's cause is `outer`, the error as thrown. */
function classify(
  error: unknown,
  ctx: FailureContext,
  outer: unknown,
): TenantfoldError | undefined {
  if (error instanceof JetStreamApiError) {
    switch (error.code) {
      case NatsApiCode.WrongLastSequence:
        return ctx.expectedPosition === undefined
          ? storeFailure(ctx, 'the subject moved on (wrong last sequence)', outer)
          : new VersionConflictError(ctx.expectedPosition, reportedLastSequence(error), {
              cause: outer,
            });
      case NatsApiCode.StreamNotFound:
        return storeFailure(ctx, 'the stream does not exist (deleted while in use?)', outer);
      case NatsApiCode.SubjectsOverlap:
        return storeFailure(
          ctx,
          'its subjects overlap another stream on this server (use another subject prefix)',
          outer,
        );
      case NatsApiCode.JetStreamNotEnabledForAccount:
        return storeFailure(ctx, 'JetStream is not enabled for this account', outer);
      default:
        return storeFailure(ctx, `JetStream error ${error.code}: ${error.message}`, outer);
    }
  }
  if (error instanceof TimeoutError) return storeFailure(ctx, 'NATS request timed out', outer);
  if (error instanceof NoRespondersError) {
    return storeFailure(
      ctx,
      'no stream takes this subject, or JetStream is not available (no responders)',
      outer,
    );
  }
  if (
    error instanceof ClosedConnectionError ||
    error instanceof DrainingConnectionError ||
    error instanceof ConnectionError
  ) {
    return storeFailure(ctx, `the NATS connection is not usable (${error.message})`, outer);
  }
  return undefined;
}

/**
 * Translates anything a nats.js call threw into the platform's errors: the
 * one place that knows NATS error classes and JetStream error codes.
 */
export function translateNatsError(error: unknown, ctx: FailureContext): TenantfoldError {
  if (isTenantfoldError(error)) return error;
  for (const cause of causes(error)) {
    const known = classify(cause, ctx, error);
    if (known !== undefined) return known;
  }
  return storeFailure(ctx, error instanceof Error ? error.message : String(error), error);
}

/** Runs one NATS call, translating whatever it throws. */
export async function natsCall<T>(ctx: FailureContext, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw translateNatsError(error, ctx);
  }
}
