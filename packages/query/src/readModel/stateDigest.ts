import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { stateHash, TenantId } from '@tenantfold/core';

/**
 * The digest `ReadModel.digest` gives, from aggregates listed by type, id,
 * version and state hash (sorted by type, then id): a migration compares a
 * drain report with the target's rows this way.
 */
export function stateDigest(
  aggregates: Iterable<{
    readonly type: string;
    readonly id: string;
    readonly version: number;
    readonly state_hash: string;
  }>,
): string {
  const hash = createHash('sha256');
  for (const { type, id, version, state_hash } of aggregates) {
    hash.update(`${type}\t${id}\t${version}\t${state_hash}\n`);
  }
  return hash.digest('hex');
}

/** `stateDigest` of a tenant's rows in the database. */
export function tenantDigest(db: Database.Database, tenant: string): string {
  const rows = db
    .prepare(
      'SELECT type, id, version, json(state) AS state FROM aggregates WHERE tenant = ? ORDER BY type, id',
    )
    .iterate(TenantId.parse(tenant)) as IterableIterator<{
    type: string;
    id: string;
    version: number;
    state: string;
  }>;
  return stateDigest(
    (function* () {
      for (const row of rows) yield { ...row, state_hash: stateHash(JSON.parse(row.state)) };
    })(),
  );
}
