import type Database from 'better-sqlite3';

/** An aggregate whose state the read model could not hold, and why. */
export interface QuarantinedRow {
  readonly tenant: string;
  readonly type: string;
  readonly id: string;
  /** Log position of the state that failed (0: unknown, e.g. it could not be folded). */
  readonly position: number;
  readonly reason: string;
  /** ISO 8601: when it was quarantined. */
  readonly at: string;
}

export type QuarantineKey = Pick<QuarantinedRow, 'tenant' | 'type' | 'id'>;

/** Longest reason kept (an error message may quote the state). */
const MAX_REASON_CHARS = 1_000;

/**
 * SQLite error codes that say the row itself cannot be stored (its JSON is
 * malformed or too deep for SQLite's JSON functions, or too big); other
 * codes (disk full, I/O, busy) are the node's trouble and are thrown.
 */
const ROW_FAULTS = new Set(['SQLITE_ERROR', 'SQLITE_TOOBIG', 'SQLITE_MISMATCH']);

/**
 * Whether a failure to write one row is the row's own fault: then it is
 * quarantined and the read model goes on with every other row and tenant.
 * `JSON.stringify` of a state too deep or not JSON throws RangeError or TypeError.
 */
export function isRowFault(error: unknown): boolean {
  if (error instanceof RangeError || error instanceof TypeError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && error.name === 'SqliteError' && ROW_FAULTS.has(String(code));
}

/**
 * The read model's quarantine: aggregates whose state could not be applied
 * (stored in SQLite, or folded from the log). Their rows are removed, so a
 * query never returns a stale state, and each is listed here until a later
 * state of it applies or it is released (then rebuilt).
 */
export class Quarantine {
  /** Keys quarantined, so the serving path deletes an entry only when there is one. */
  readonly #keys = new Set<string>();
  readonly #insert: Database.Statement;
  readonly #remove: Database.Statement;
  readonly #removeRow: Database.Statement;

  constructor(private readonly db: Database.Database) {
    const rows = db.prepare('SELECT tenant, type, id FROM quarantine').all() as QuarantineKey[];
    for (const row of rows) this.#keys.add(keyOf(row));
    this.#insert = db.prepare(
      `INSERT OR REPLACE INTO quarantine (tenant, type, id, position, reason, at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#remove = db.prepare('DELETE FROM quarantine WHERE tenant = ? AND type = ? AND id = ?');
    this.#removeRow = db.prepare('DELETE FROM aggregates WHERE tenant = ? AND type = ? AND id = ?');
  }

  get size(): number {
    return this.#keys.size;
  }

  /** Records `row` and removes its aggregate's stored state (call inside a transaction). */
  add(row: Omit<QuarantinedRow, 'at'>): QuarantinedRow {
    const entry = { ...row, reason: clip(row.reason), at: new Date().toISOString() };
    this.#removeRow.run(row.tenant, row.type, row.id);
    this.#insert.run(row.tenant, row.type, row.id, row.position, entry.reason, entry.at);
    this.#keys.add(keyOf(row));
    return entry;
  }

  /** A state of the aggregate applied: it is no longer quarantined. */
  cleared(key: QuarantineKey): void {
    if (!this.#keys.delete(keyOf(key))) return;
    this.#remove.run(key.tenant, key.type, key.id);
  }

  list(tenant?: string): QuarantinedRow[] {
    const sql = 'SELECT tenant, type, id, position, reason, at FROM quarantine';
    return (
      tenant === undefined
        ? this.db.prepare(`${sql} ORDER BY tenant, type, id`).all()
        : this.db.prepare(`${sql} WHERE tenant = ? ORDER BY type, id`).all(tenant)
    ) as QuarantinedRow[];
  }

  /** Removes the tenant's entries (all tenants' when absent) and returns them. */
  release(tenant?: string): QuarantinedRow[] {
    const released = this.list(tenant);
    for (const row of released) this.cleared(row);
    return released;
  }
}

function keyOf({ tenant, type, id }: QuarantineKey): string {
  return `${tenant}\u0000${type}\u0000${id}`;
}

function clip(reason: string): string {
  return reason.length <= MAX_REASON_CHARS ? reason : `${reason.slice(0, MAX_REASON_CHARS)}…`;
}
