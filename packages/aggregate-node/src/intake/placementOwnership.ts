import type { Logger, TenantId } from '@tenantfold/core';
import { NotOwnerError, UnavailableError } from '@tenantfold/core';
import type { Placement, PlacementStore, PlacementWatch } from '@tenantfold/nats';
import { resolveOwner } from '@tenantfold/nats';
import type { OwnershipCheck } from './commandHandler.js';

/** Ownership from the live placement: a KV watch keeps the latest snapshot. */
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
        this.placement = placement;
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
    if (this.placement === undefined) throw new UnavailableError('placement not loaded yet');
    const owner = resolveOwner(this.placement, tenant);
    if (owner !== this.nodeId) throw new NotOwnerError(tenant, owner);
  }
}
