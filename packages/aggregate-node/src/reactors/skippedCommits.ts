import type { JsonValue, StoredCommit } from '@tenantfold/core';
import { isJsonObject, isTenantfoldError, jsonBytes, ProgramLimitError } from '@tenantfold/core';

/** A commit a projection could not fold, set aside so the projection goes on. */
export interface SkippedCommit {
  readonly position: number;
  readonly reason: string;
  /** ISO 8601: when it was skipped. */
  readonly at: string;
}

/** Most skipped commits kept per projection and tenant (the newest). */
const MAX_SKIPPED = 100;
/** Longest reason kept (the list lives in the projection's checkpoint). */
const MAX_REASON_CHARS = 300;

/**
 * Whether a projection's failure on a commit is that commit's (a program
 * fault or limit): then it is skipped and listed; a retryable failure (the
 * runtime going away) makes the projection wait and try again instead.
 */
export function isCommitFault(error: unknown): boolean {
  return !(isTenantfoldError(error) && error.retryable);
}

/** Refuses a projection document that could not be checkpointed. */
export function checkProjectionState(state: JsonValue, maxBytes: number): JsonValue {
  const bytes = jsonBytes(state);
  if (bytes > maxBytes) {
    throw new ProgramLimitError(
      `the projection state would be ${bytes} bytes, over the limit of ${maxBytes}`,
    );
  }
  return state;
}

/** `skipped` with `commit` added (the oldest dropped beyond the cap). */
export function withSkipped(
  skipped: readonly SkippedCommit[],
  commit: StoredCommit,
  error: unknown,
): SkippedCommit[] {
  const message = error instanceof Error ? error.message : String(error);
  const reason =
    message.length <= MAX_REASON_CHARS ? message : `${message.slice(0, MAX_REASON_CHARS)}…`;
  const entry = { position: commit.position, reason, at: new Date().toISOString() };
  return [...skipped, entry].slice(-MAX_SKIPPED);
}

/** The skipped commits a stored checkpoint lists (none when absent or malformed). */
export function skippedOf(stored: unknown): SkippedCommit[] {
  if (!isJsonObject(stored) || !Array.isArray(stored.skipped)) return [];
  return stored.skipped.filter(
    (item): item is JsonValue & SkippedCommit =>
      isJsonObject(item) &&
      typeof item.position === 'number' &&
      typeof item.reason === 'string' &&
      typeof item.at === 'string',
  );
}
