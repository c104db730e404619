// The hostile fixture (test/fixtures/hostile): a manifest with programs that
// attack the host from inside their limits, beside the bank-account example;
// and what a version without limits could have left in a log.
import { fileURLToPath } from 'node:url';
import type { AggregateStore, StoredCommit, StreamKey } from '@tenantfold/core';
import { AggregateStore as Store, Uuid } from '@tenantfold/core';
import type { ProgramDecider, ProgramRuntime } from '@tenantfold/programs';
import { loadManifest, loadProgramDeciders } from '@tenantfold/programs';
import { sqliteQueryEngine } from '@tenantfold/query';

export const HOSTILE_MANIFEST = fileURLToPath(
  new URL('../fixtures/hostile/aggregates.yaml', import.meta.url),
);

/** The fixture's program deciders (`account`, `audit`, `hostile`, `recipe`), by type. */
export async function hostileDeciders(
  runtime: ProgramRuntime,
): Promise<(type: string) => ProgramDecider> {
  const deciders = await loadProgramDeciders(await loadManifest(HOSTILE_MANIFEST), { runtime });
  return (type) => {
    const found = deciders.find((d) => d.type === type);
    if (found === undefined) throw new Error(`no aggregate type '${type}' in the hostile manifest`);
    return found;
  };
}

/** An embedded store on `dir` with every type of the fixture and a query engine. */
export async function openHostileStore(
  dir: string,
  decider: (type: string) => ProgramDecider,
): Promise<AggregateStore> {
  let builder = Store.builder(dir).queryEngine(sqliteQueryEngine());
  for (const type of ['account', 'audit', 'hostile', 'recipe'])
    builder = builder.aggregate(decider(type));
  return builder.open();
}

/** A value nested `levels` arrays deep. */
export function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

/**
 * The first commit of audit case `key` as a version without limits wrote it:
 * a flag whose account nests 1,100 levels (SQLite's JSON functions refuse it).
 */
export function poisonedAuditCommit(key: StreamKey): StoredCommit {
  const timestamp = new Date().toISOString();
  return {
    command_id: Uuid.new(),
    stream: key,
    version: 1,
    position: 1,
    timestamp,
    events: [
      {
        tenant_id: key.tenant,
        event_id: Uuid.new(),
        aggregate_type: key.type,
        aggregate_id: key.id,
        version: 1,
        event_type: 'Flagged',
        payload: { account: nested(1_100) as never, amount: 1, version: 1 },
        command_id: Uuid.new(),
        correlation_id: 'c',
        trace_id: 't',
        timestamp,
        metadata: {},
      },
    ],
  };
}
