import type { AsyncProjection, JsonValue, Logger, StoredCommit } from '@tenantfold/core';
import type { Cursor } from './checkpoints.js';
import { advance } from './checkpoints.js';
import { checkProjectionState, isCommitFault, withSkipped } from './skippedCommits.js';

export interface ProjectionFeedOptions {
  /** Largest projection document, bytes of JSON (it must fit a checkpoint). */
  readonly maxStateBytes: number;
  readonly logger: Logger;
  /** Told of each commit a projection skipped (a metric). */
  readonly onSkipped?: (projection: string) => void;
}

/**
 * Folds commits into a projection: all at once when it can, else commit by
 * commit, advancing the cursor. A commit it cannot fold (a program fault,
 * or a document over the size limit) is skipped and listed, never a stuck
 * projection; false only when it must wait (the runtime is unavailable).
 */
export async function feedProjection(
  projection: AsyncProjection<JsonValue>,
  cursor: Cursor,
  commits: readonly StoredCommit[],
  options: ProjectionFeedOptions,
): Promise<boolean> {
  const { maxStateBytes } = options;
  const initial = cursor.state ?? projection.initialState();
  if (projection.applyMany !== undefined) {
    try {
      const events = commits.flatMap((c) => c.events);
      cursor.state = checkProjectionState(
        await projection.applyMany(initial, events),
        maxStateBytes,
      );
      advance(cursor, commits.at(-1));
      return true;
    } catch {
      // find the commit at fault below
    }
  }
  let state = initial;
  for (const commit of commits) {
    try {
      let next = state;
      for (const event of commit.events) next = await projection.apply(next, event);
      state = checkProjectionState(next, maxStateBytes);
    } catch (error) {
      if (!isCommitFault(error)) return false;
      options.logger.error(
        { projection: projection.name, position: commit.position, err: error },
        'projection skipped a commit it cannot fold',
      );
      cursor.skipped = withSkipped(cursor.skipped ?? [], commit, error);
      options.onSkipped?.(projection.name);
    }
    cursor.state = state;
    advance(cursor, commit);
  }
  return true;
}
