import type { FailureOutcome } from '@tenantfold/wire';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** How a routed request ended; one label value per class of answer. */
export type RequestOutcome = 'ok' | FailureOutcome;

/** What happened to a command held during a cutover. */
export type HoldOutcome = 'released' | 'timeout' | 'full';

// Default gauges named *_total break Prometheus naming rules (promtool rejects them).
const DEFAULT_GAUGES_NAMED_AS_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The router's Prometheus metrics, on a registry of its own. Labels are bounded: no tenant label. */
export class RouterMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'outcome'>;
  readonly forwardDuration: Histogram<'route'>;
  readonly notOwnerRetries: Counter;
  readonly unreachable: Counter<'node'>;
  readonly heldNow: Gauge;
  readonly held: Counter<'outcome'>;
  readonly placementRevision: Gauge;
  readonly placementFromFile: Gauge;
  readonly natsConnected: Gauge;
  readonly nodeConnection: Gauge<'node' | 'state'>;
  readonly subscriptionsOpen: Gauge;
  readonly subscriptionMoves: Counter<'reason'>;

  constructor(options: { nodeStates: () => ReadonlyMap<string, string> }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    for (const name of DEFAULT_GAUGES_NAMED_AS_COUNTERS) this.registry.removeSingleMetric(name);
    this.requests = new Counter({
      name: 'router_requests_total',
      help: 'Requests answered, by route and outcome.',
      labelNames: ['route', 'outcome'],
      registers,
    });
    this.forwardDuration = new Histogram({
      name: 'router_forward_duration_seconds',
      help: 'Time of one forwarded call to the owning node (holding excluded).',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.notOwnerRetries = new Counter({
      name: 'router_not_owner_retries_total',
      help: 'Calls retried after a node answered that it does not own the tenant.',
      registers,
    });
    this.unreachable = new Counter({
      name: 'router_node_unreachable_total',
      help: 'Calls answered UNAVAILABLE because the owning node could not be reached.',
      labelNames: ['node'],
      registers,
    });
    this.heldNow = new Gauge({
      name: 'router_held_commands',
      help: 'Requests waiting for a tenant migration cutover to finish.',
      registers,
    });
    this.held = new Counter({
      name: 'router_held_commands_total',
      help: 'Requests held during a cutover, by how the wait ended (released, timeout, full).',
      labelNames: ['outcome'],
      registers,
    });
    this.placementRevision = new Gauge({
      name: 'router_placement_revision',
      help: 'KV revision of the placement in use (0: from the placement file).',
      registers,
    });
    this.placementFromFile = new Gauge({
      name: 'router_placement_from_file',
      help: '1 while the placement in use comes from the local file because KV was never reached.',
      registers,
    });
    this.natsConnected = new Gauge({
      name: 'router_nats_connected',
      help: '1 while connected to NATS (placement updates flow), else 0.',
      registers,
    });
    this.subscriptionsOpen = new Gauge({
      name: 'router_subscriptions_open',
      help: 'Subscriptions (gRPC Subscribe, SSE) held by this router now.',
      registers,
    });
    this.subscriptionMoves = new Counter({
      name: 'router_subscription_moves_total',
      help: 'Subscription streams re-opened on a node, by reason (owner_changed, lost).',
      labelNames: ['reason'],
      registers,
    });
    this.nodeConnection = new Gauge({
      name: 'router_node_connection',
      help: 'gRPC connection state per node (1 for the current state, by state name).',
      labelNames: ['node', 'state'],
      registers,
      collect() {
        this.reset();
        for (const [node, state] of options.nodeStates()) this.set({ node, state }, 1);
      },
    });
  }
}
