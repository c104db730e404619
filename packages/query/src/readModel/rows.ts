import type Database from 'better-sqlite3';
import {
  AggregateId,
  AggregateType,
  TenantId,
  parseStateRecord,
  ValidationError,
} from '@tenantfold/core';
import type { SortValue } from './cursor.js';
import type { Quarantine } from './quarantine.js';
import { isRowFault } from './quarantine.js';
import type { TenantPositions } from './tenantPositions.js';
import type { AppliedChange, StateChange, StateRow } from './types.js';

/** A row as SQLite returns it: the state as JSON text, and the page's sort values `k0…`. */
export type RawRow = Omit<StateRow, 'state'> & { state: string } & Record<`k${number}`, SortValue>;

export const toRow = (raw: RawRow): StateRow => parseStateRecord(raw.id, raw, raw.state);

/** A tenant's checkpoint moves forward only. */
export const ADVANCE_CHECKPOINT = `INSERT INTO checkpoints (tenant, position) VALUES (?, ?)
  ON CONFLICT (tenant) DO UPDATE SET position = max(position, excluded.position)`;

export const ROW_COLUMNS = 'id, version, updated_at, position, json(state) AS state';

/** One aggregate's row by its key. */
export const SELECT_ROW = `SELECT ${ROW_COLUMNS} FROM aggregates WHERE tenant = ? AND type = ? AND id = ?`;

/**
 * Writes state changes and the checkpoints they advance; run inside the
 * caller's transaction. A change not newer than its row is skipped; a row
 * that cannot be stored is quarantined. Returns the changes written, each
 * with the row it replaced.
 */
export function writeChanges(
  statement: (sql: string) => Database.Statement,
  quarantine: Quarantine,
  positions: TenantPositions,
  changes: readonly StateChange[],
  /** false: the rows only (a migration's target, writing states that run ahead of its reads). */
  moveCheckpoints = true,
): AppliedChange[] {
  const select = statement(SELECT_ROW);
  const upsert = statement(
    `INSERT INTO aggregates (tenant, type, id, version, state, updated_at, position)
     VALUES (?, ?, ?, ?, jsonb(?), ?, ?)
     ON CONFLICT (tenant, type, id) DO UPDATE SET version = excluded.version,
       state = excluded.state, updated_at = excluded.updated_at, position = excluded.position`,
  );
  const checkpoint = statement(ADVANCE_CHECKPOINT);
  const applied: AppliedChange[] = [];
  const highest = new Map<string, number>();
  for (const change of changes) {
    const { tenant, type, id, version, state, updated_at, position } = checkChange(change);
    highest.set(tenant, Math.max(highest.get(tenant) ?? 0, position));
    const raw = select.get(tenant, type, id) as RawRow | undefined;
    if (raw !== undefined && raw.version >= version) continue;
    try {
      upsert.run(tenant, type, id, version, JSON.stringify(state), updated_at, position);
    } catch (error) {
      // One row that cannot be stored must not stop the others (nor a node's start).
      if (!isRowFault(error)) throw error;
      quarantine.add({ tenant, type, id, position, reason: (error as Error).message });
      continue;
    }
    quarantine.cleared(change);
    const after: StateRow = { id, version, updated_at, position, state };
    applied.push({ tenant, type, after, ...(raw === undefined ? {} : { before: toRow(raw) }) });
  }
  if (!moveCheckpoints) return applied;
  for (const [tenant, position] of highest) {
    positions.advance(tenant, position);
    // The visible position, not the highest: after a crash the catch-up
    // from the checkpoint re-reads a commit announced but not yet applied.
    checkpoint.run(tenant, positions.visible(tenant));
  }
  return applied;
}

function checkChange(change: StateChange): StateChange {
  TenantId.parse(change.tenant, 'tenant');
  AggregateType.parse(change.type, 'type');
  AggregateId.parse(change.id, 'id');
  if (!Number.isSafeInteger(change.version) || change.version < 1) {
    throw new ValidationError(
      `version must be a positive integer, got ${change.version}`,
      'version',
    );
  }
  if (!Number.isSafeInteger(change.position) || change.position < 0) {
    throw new ValidationError(
      `position must be a non-negative integer, got ${change.position}`,
      'position',
    );
  }
  return change;
}
