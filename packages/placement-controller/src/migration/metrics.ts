import { Counter, Histogram, Registry } from 'prom-client';
import type { MigrationResult } from './types.js';

const PHASE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Hand-off telemetry of migrations, on a prom-client registry. */
export class MigrationMetrics {
  readonly registry: Registry;
  readonly migrations: Counter<'outcome'>;
  readonly phaseDuration: Histogram<'phase'>;
  readonly hold: Histogram;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    this.migrations = new Counter({
      name: 'placement_migrations_total',
      help: 'Tenant migrations by outcome (DONE or ROLLED_BACK)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.phaseDuration = new Histogram({
      name: 'placement_migration_phase_duration_seconds',
      help: 'Time spent in each migration phase',
      labelNames: ['phase'],
      buckets: PHASE_BUCKETS,
      registers: [registry],
    });
    this.hold = new Histogram({
      name: 'placement_migration_hold_seconds',
      help: "How long routers hold a tenant's commands (record DRAINING until DONE or ROLLED_BACK)",
      buckets: PHASE_BUCKETS,
      registers: [registry],
    });
  }

  record(result: MigrationResult): void {
    this.migrations.inc({ outcome: result.outcome });
    for (const { phase, ms } of result.phases) this.phaseDuration.observe({ phase }, ms / 1000);
    if (result.holdMs !== undefined) this.hold.observe(result.holdMs / 1000);
  }
}
