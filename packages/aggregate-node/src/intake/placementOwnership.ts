import type { Logger, TenantId } from '@tenantfold/core';
import { NotOwnerError, UnavailableError } from '@tenantfold/core';
import type {
  MigrationPhase,
  MigrationRecord,
  Placement,
  PlacementStore,
  PlacementWatch,
} from '@tenantfold/nats';
import { resolveOwner } from '@tenantfold/nats';
import type { OwnershipCheck } from './commandHandler.js';

/** Phases in which the source of a migration must not serve the tenant (docs/migration.md). */
const FENCED_PHASES: ReadonlySet<MigrationPhase> = new Set(['DRAINING', 'VERIFYING', 'SWAPPING']);

/**
 * Ownership from the live placement: a KV watch keeps the latest snapshot.
 * A tenant is served only while placement resolves it to this node and no
 * migration record fences this node off it as the source of a cutover.
 */
export class PlacementOwnership implements OwnershipCheck {
  private placement: Placement | undefined;
  private watch: PlacementWatch | undefined;

  constructor(
    private readonly nodeId: string,
    private readonly store: PlacementStore,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.placement = await this.store.load();
    const watch = await this.store.watch();
    this.watch = watch;
    void (async () => {
      for await (const placement of watch) {
        this.adopt(placement);
        this.logger.debug({ revision: placement.revision }, 'placement changed');
      }
    })().catch((error: unknown) => this.logger.error({ err: error }, 'placement watch ended'));
  }

  stop(): void {
    this.watch?.stop();
  }

  get loaded(): boolean {
    return this.placement !== undefined;
  }

  owns(tenant: TenantId): boolean {
    return this.placement !== undefined && resolveOwner(this.placement, tenant) === this.nodeId;
  }

  assertOwned(tenant: TenantId): void {
    const refusal = this.refusal(tenant);
    if (refusal !== undefined) throw refusal;
  }

  /** Whether commands of the tenant may run here now: owned and not fenced by a migration. */
  serves(tenant: TenantId): boolean {
    return this.refusal(tenant) === undefined;
  }

  private refusal(tenant: TenantId): Error | undefined {
    if (this.placement === undefined) return new UnavailableError('placement not loaded yet');
    const owner = resolveOwner(this.placement, tenant);
    if (owner !== this.nodeId) return new NotOwnerError(tenant, owner);
    const migration = this.placement.migrations.get(tenant);
    if (migration !== undefined && isFenced(migration, this.nodeId)) {
      return new UnavailableError(
        `tenant '${tenant}' is moving from this node to '${migration.to}' (epoch ${migration.epoch}, ${migration.phase}); retry shortly`,
      );
    }
    return undefined;
  }

  /**
   * Reads placement now instead of waiting for the watch, so a decision that
   * must not act on a stale view (releasing a tenant) sees the latest writes.
   */
  async refresh(): Promise<void> {
    this.adopt(await this.store.load());
  }

  private adopt(placement: Placement): void {
    // The watch and a refresh may deliver out of order: never go back.
    if (this.placement === undefined || placement.revision >= this.placement.revision) {
      this.placement = placement;
    }
  }
}

/** Whether `record` forbids `nodeId` to serve the tenant: it is the source of a cutover in progress. */
export function isFenced(record: MigrationRecord, nodeId: string): boolean {
  return record.from === nodeId && FENCED_PHASES.has(record.phase);
}
