import type { Logger } from '@tenantfold/core';
import { silentLogger, TenantId as Tenant } from '@tenantfold/core';
import { tenantRing } from '@tenantfold/nats';
import type { Cluster } from '../cluster/cluster.js';
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
  /** Leaving nodes, emptied, marked down. */
  readonly retired: readonly string[];
  /** Pins the moves left that the ring now gives anyway, removed. */
  readonly unpinned: number;
  /** Every move DONE and every leaving node emptied. */
  readonly complete: boolean;
}

/**
 * Runs a plan: each move a verified migration; then emptied leaving nodes go
 * down, and pins that only repeat the ring are removed along with their
 * freeze marks (ownership does not change at either step).
 */
export async function applyRebalance(
  plan: RebalancePlan,
  migrator: Migrator,
  cluster: Pick<Cluster, 'placement' | 'frozen' | 'loadPlacement'>,
  options: ApplyOptions = {},
): Promise<RebalanceOutcome> {
  const logger = options.logger ?? silentLogger;
  const results: MigrationResult[] = [];
  const errors: Array<{ move: PlannedMove; message: string }> = [];
  const unsettled = new Set<string>();
  const queue = [...plan.moves];
  const worker = async (): Promise<void> => {
    for (let move = queue.shift(); move !== undefined; move = queue.shift()) {
      try {
        const result = await migrator.migrate(move.tenant, move.to, options);
        results.push(result);
        if (result.outcome !== 'DONE') unsettled.add(move.from);
        options.onMove?.(move, result);
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        errors.push({ move, message: failure.message });
        unsettled.add(move.from);
        options.onMove?.(move, failure);
      }
    }
  };
  const concurrency = Math.max(1, options.concurrency ?? 2);
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));

  const retired: string[] = [];
  for (const id of plan.leaving.filter((n) => !unsettled.has(n))) {
    await cluster.placement.setNodeStatus(id, 'down');
    retired.push(id);
  }
  const done = results.filter((r) => r.outcome === 'DONE').map((r) => r.tenant);
  const unpinned = await unpinRingRepeats(cluster, done, logger);
  const complete =
    errors.length === 0 &&
    results.every((r) => r.outcome === 'DONE') &&
    retired.length === plan.leaving.length;
  return { results, errors, retired, unpinned, complete };
}

async function unpinRingRepeats(
  cluster: Pick<Cluster, 'placement' | 'frozen' | 'loadPlacement'>,
  moved: readonly string[],
  logger: Logger,
): Promise<number> {
  const now = await cluster.loadPlacement();
  const ring = tenantRing(now);
  let unpinned = 0;
  for (const raw of moved) {
    const tenant = Tenant.parse(raw);
    try {
      await cluster.frozen.clear(tenant);
      const pin = now.pins.get(tenant);
      if (pin === undefined || ring.ownerOf(Tenant.token(tenant)) !== pin.nodeId) continue;
      await cluster.placement.unpin(tenant, { expectedRevision: pin.revision });
      unpinned++;
    } catch (error) {
      // harmless: the pin names the ring's owner anyway
      logger.warn({ tenant_id: tenant, err: error }, 'could not remove a redundant pin');
    }
  }
  return unpinned;
}
