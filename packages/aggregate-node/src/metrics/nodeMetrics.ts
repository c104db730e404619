import type { FailureOutcome } from '@tenantfold/wire';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Label value for tenants past the cardinality cap. */
export const OVERFLOW_TENANT_LABEL = '_other';

/**
 * Tenant label with bounded cardinality: the first `cap` tenants seen keep
 * their own label, the rest share `_other`, so a node with many tenants
 * cannot blow up the metrics store.
 */
export class TenantLabels {
  private readonly known = new Set<string>();
  constructor(private readonly cap: number) {}

  of(tenant: string): string {
    const name = tenant === '' ? '=default' : tenant;
    if (this.known.has(name)) return name;
    if (this.known.size >= this.cap) return OVERFLOW_TENANT_LABEL;
    this.known.add(name);
    return name;
  }
}

const DEFAULT_GAUGES_NAMED_AS_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export type CommandOutcome = 'ok' | 'duplicate' | FailureOutcome;

/** The node's Prometheus metrics, on a registry of its own. */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly tenants: TenantLabels;
  readonly commands: Counter<'aggregate_type' | 'tenant_id' | 'outcome'>;
  readonly commandDuration: Histogram<'aggregate_type'>;
  readonly versionConflicts: Counter<'aggregate_type'>;
  readonly rehydrationDuration: Histogram<'aggregate_type'>;
  readonly tenantErrors: Counter<'tenant_id' | 'code'>;
  readonly liveActors: Gauge;
  readonly quarantined: Gauge;
  readonly projectionSkips: Counter<'projection'>;
  readonly breakerOpen: Gauge<'breaker'>;
  /** Children of the per-command metrics, resolved once per label set (bounded by the labels'). */
  readonly #children = new Map<
    string,
    {
      readonly count: Counter.Internal;
      readonly duration: Histogram.Internal<'aggregate_type'>;
    }
  >();

  constructor(options: {
    tenantLabelCap: number;
    liveActors: () => number;
    quarantined: () => number;
  }) {
    this.tenants = new TenantLabels(options.tenantLabelCap);
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // Gauges named *_total break Prometheus naming rules (promtool rejects them).
    for (const name of DEFAULT_GAUGES_NAMED_AS_COUNTERS) this.registry.removeSingleMetric(name);
    this.commands = new Counter({
      name: 'aggregate_commands_total',
      help: 'Commands handled, by aggregate type, tenant (bounded) and outcome.',
      labelNames: ['aggregate_type', 'tenant_id', 'outcome'],
      registers,
    });
    this.commandDuration = new Histogram({
      name: 'aggregate_command_duration_seconds',
      help: 'Time from receiving a command to its reply.',
      labelNames: ['aggregate_type'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.versionConflicts = new Counter({
      name: 'aggregate_version_conflicts_total',
      help: 'Commands that ended in a version conflict (after retries, or a stale expected version).',
      labelNames: ['aggregate_type'],
      registers,
    });
    this.rehydrationDuration = new Histogram({
      name: 'aggregate_rehydration_duration_seconds',
      help: 'Time to load an aggregate from its snapshot and commits.',
      labelNames: ['aggregate_type'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.tenantErrors = new Counter({
      name: 'aggregate_tenant_errors_total',
      help: 'Failed commands by tenant (bounded) and error code.',
      labelNames: ['tenant_id', 'code'],
      registers,
    });
    this.liveActors = new Gauge({
      name: 'aggregate_live_actors',
      help: 'Aggregates held in memory.',
      registers,
      collect() {
        this.set(options.liveActors());
      },
    });
    this.quarantined = new Gauge({
      name: 'aggregate_read_model_quarantined',
      help: 'Aggregates set aside by the state read model (GET /admin/quarantine lists them).',
      registers,
      collect() {
        this.set(options.quarantined());
      },
    });
    this.projectionSkips = new Counter({
      name: 'aggregate_projection_skipped_commits_total',
      help: 'Commits a projection could not fold (program fault or limit) and skipped.',
      labelNames: ['projection'],
      registers,
    });
    this.breakerOpen = new Gauge({
      name: 'aggregate_breaker_open',
      help: '1 while a circuit breaker is open or half-open, else 0.',
      labelNames: ['breaker'],
      registers,
    });
  }

  /** Counts one command and its duration, in seconds. */
  command(aggregateType: string, tenant: string, outcome: CommandOutcome, seconds: number): void {
    const tenantLabel = this.tenants.of(tenant);
    const key = `${aggregateType}\u0000${tenantLabel}\u0000${outcome}`;
    let children = this.#children.get(key);
    if (children === undefined) {
      children = {
        count: this.commands.labels({
          aggregate_type: aggregateType,
          tenant_id: tenantLabel,
          outcome,
        }),
        duration: this.commandDuration.labels({ aggregate_type: aggregateType }),
      };
      this.#children.set(key, children);
    }
    children.count.inc();
    children.duration.observe(seconds);
  }
}
