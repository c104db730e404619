import type { Logger } from '@tenantfold/core';
import { silentLogger, TenantId as Tenant } from '@tenantfold/core';
import type { PlacementStore } from '@tenantfold/nats';
import { tenantRing } from '@tenantfold/nats';
import type { MigrateOptions, Migrator } from '../migration/migrator.js';
import type { MigrationResult } from '../migration/types.js';
import type { PlannedMove, RebalancePlan } from './plan.js';

export interface ApplyOptions extends MigrateOptions {
  /** Migrations run at once. @default 2 */
  readonly concurrency?: number;
  /** Called with each finished move (the progress display counts these). */
  readonly onMove?: (move: PlannedMove, outcome: MigrationResult | Error) => void;
  readonly logger?: Logger;
}

export interface RebalanceOutcome {
  readonly results: readonly MigrationResult[];
  /** Moves that could not even start (refused, node unreachable before the record was written). */
  readonly errors: ReadonlyArray<{ readonly move: PlannedMove; readonly message: string }>;
  /** Joining nodes switched to active. */
  readonly activated: readonly string[];
  /** Leaving nodes marked down. */
  readonly retired: readonly string[];
  /** Pins the moves left that the ring now gives anyway, removed. */
  readonly unpinned: number;
  /** Every move DONE and every node settled. */
  readonly complete: boolean;
}

/**
 * Runs a plan: each move a verified migration; then joining nodes whose moves
 * all succeeded go active, emptied leaving nodes go down, and pins that only
 * repeat the ring are removed (ownership does not change at any of these steps).
 */
export async function applyRebalance(
  plan: RebalancePlan,
  migrator: Migrator,
  placement: PlacementStore,
  options: ApplyOptions = {},
): Promise<RebalanceOutcome> {
  const logger = options.logger ?? silentLogger;
  const results: MigrationResult[] = [];
  const errors: Array<{ move: PlannedMove; message: string }> = [];
  const failedNodes = new Set<string>();
  const queue = [...plan.moves];
  const worker = async (): Promise<void> => {
    for (let move = queue.shift(); move !== undefined; move = queue.shift()) {
      try {
        const result = await migrator.migrate(move.tenant, move.to, options);
        results.push(result);
        if (result.outcome !== 'DONE') failedNodes.add(move.to).add(move.from);
        options.onMove?.(move, result);
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        errors.push({ move, message: failure.message });
        failedNodes.add(move.to).add(move.from);
        options.onMove?.(move, failure);
      }
    }
  };
  const concurrency = Math.max(1, options.concurrency ?? 2);
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));

  const activated: string[] = [];
  for (const id of plan.joining.filter((n) => !failedNodes.has(n))) {
    await placement.setNodeStatus(id, 'active');
    activated.push(id);
  }
  const retired: string[] = [];
  for (const id of plan.leaving.filter((n) => !failedNodes.has(n))) {
    await placement.setNodeStatus(id, 'down');
    retired.push(id);
  }
  const unpinned = await unpinRingRepeats(placement, plan.moves, results, logger);
  const complete =
    errors.length === 0 &&
    results.every((r) => r.outcome === 'DONE') &&
    activated.length === plan.joining.length &&
    retired.length === plan.leaving.length;
  return { results, errors, activated, retired, unpinned, complete };
}

async function unpinRingRepeats(
  placement: PlacementStore,
  moves: readonly PlannedMove[],
  results: readonly MigrationResult[],
  logger: Logger,
): Promise<number> {
  const done = new Set(results.filter((r) => r.outcome === 'DONE').map((r) => r.tenant));
  const now = await placement.load();
  const ring = tenantRing(now);
  let unpinned = 0;
  for (const move of moves) {
    if (!move.viaRing || !done.has(move.tenant)) continue;
    const pin = now.pins.get(move.tenant);
    if (pin === undefined || ring.ownerOf(Tenant.token(move.tenant)) !== pin.nodeId) continue;
    try {
      await placement.unpin(move.tenant, { expectedRevision: pin.revision });
      unpinned++;
    } catch (error) {
      // harmless: the pin names the ring's owner anyway
      logger.warn({ tenant_id: move.tenant, err: error }, 'could not remove a redundant pin');
    }
  }
  return unpinned;
}
