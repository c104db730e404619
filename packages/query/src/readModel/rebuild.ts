import type Database from 'better-sqlite3';
import { ValidationError } from '@tenantfold/core';
import type { Quarantine } from './quarantine.js';
import type { TenantPositions } from './tenantPositions.js';
import type { AppliedChange, StateChange } from './types.js';
import { batchesOf } from './batches.js';

/** What a rebuild replaces the rows of, and how it applies the new ones. */
export interface RebuildTarget {
  readonly db: Database.Database;
  readonly quarantine: Quarantine;
  readonly positions: TenantPositions;
  readonly apply: (changes: readonly StateChange[]) => AppliedChange[];
}

/**
 * Replaces the rows of `tenant` (of all, when undefined) with `changes`, in
 * batches bounded in count and memory (`batchesOf`), under a `rebuilding` marker; the stored checkpoint ends at each
 * tenant's lowest position rebuilt (see `ReadModel.rebuild`).
 */
export async function rebuildRows(
  target: RebuildTarget,
  changes: Iterable<StateChange> | AsyncIterable<StateChange>,
  tenant: string | undefined,
): Promise<{ readonly rows: number }> {
  const { db } = target;
  db.transaction(() => {
    db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('rebuilding', ?)`).run(
      tenant === undefined ? 'all tenants' : `tenant '${tenant}'`,
    );
    const scope = tenant === undefined ? '' : ' WHERE tenant = ?';
    const params = tenant === undefined ? [] : [tenant];
    db.prepare(`DELETE FROM aggregates${scope}`).run(...params);
    db.prepare(`DELETE FROM checkpoints${scope}`).run(...params);
    target.quarantine.release(tenant); // what still fails is set aside again
  })();
  target.positions.forget(tenant);
  let rows = 0;
  const lowest = new Map<string, number>();
  for await (const batch of batchesOf(changes)) {
    for (const change of batch) {
      if (tenant !== undefined && change.tenant !== tenant) {
        throw new ValidationError(
          `rebuild of tenant '${tenant}' was given a change of tenant '${change.tenant}'`,
          'tenant',
        );
      }
      lowest.set(
        change.tenant,
        Math.min(lowest.get(change.tenant) ?? change.position, change.position),
      );
    }
    rows += target.apply(batch).length;
  }
  db.transaction(() => {
    const lower = db.prepare('UPDATE checkpoints SET position = min(position, ?) WHERE tenant = ?');
    for (const [name, position] of lowest) lower.run(position, name);
    db.prepare(`DELETE FROM meta WHERE key = 'rebuilding'`).run();
  })();
  return { rows };
}
