import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@tenantfold/core';
import type { Placement, PlacementStore, PlacementWatch } from '@tenantfold/nats';
import { NODE_STATUSES, PlacementConflictError } from '@tenantfold/nats';
import { Counter, Gauge } from 'prom-client';
import type { MigrationMetrics } from '../migration/metrics.js';
import type { Migrator } from '../migration/migrator.js';

export interface ControllerServiceOptions {
  readonly placement: PlacementStore;
  readonly migrator: Migrator;
  /** Its registry also serves the service's own metrics. */
  readonly metrics: MigrationMetrics;
  readonly logger: Logger;
  /** A node whose heartbeat is older than this is marked down, in ms. */
  readonly heartbeatTimeoutMs: number;
  /** How often heartbeats and migrations are checked, in ms. @default heartbeatTimeoutMs / 4 */
  readonly checkIntervalMs?: number;
  /**
   * An unfinished migration older than this has lost its controller and is
   * settled here (rolled back, or its swap finished), in ms.
   * @default the migrator's warm + drain + verify timeouts + 30 s
   */
  readonly abandonedMigrationMs?: number;
  /** Where /health and /metrics listen (port 0: any free port). */
  readonly listen: { readonly host: string; readonly port: number };
}

const FINAL = new Set(['DONE', 'ROLLED_BACK']);

/**
 * `placementctl serve`: watches placement, marks nodes whose heartbeat went
 * silent as down (their tenants fall to the ring's next node, which rebuilds
 * them from JetStream), settles migrations whose controller or nodes died,
 * and serves /health and /metrics.
 */
export class ControllerService {
  private placementNow: Placement | undefined;
  private watch: PlacementWatch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private server: Server | undefined;
  private sweeping: Promise<void> | undefined;
  private lastSweepAt: string | undefined;
  private readonly markedDown: Counter;
  private readonly nodeGauge: Gauge<'status'>;
  private readonly inFlight: Gauge;
  /** The port /health and /metrics got. */
  port = 0;

  constructor(private readonly options: ControllerServiceOptions) {
    const registers = [options.metrics.registry];
    this.markedDown = new Counter({
      name: 'placement_nodes_marked_down_total',
      help: 'Nodes marked down after their heartbeat went silent',
      registers,
    });
    this.nodeGauge = new Gauge({
      name: 'placement_nodes',
      help: 'Nodes in placement by status',
      labelNames: ['status'],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'placement_migrations_in_flight',
      help: 'Migrations not yet DONE or ROLLED_BACK',
      registers,
    });
  }

  async start(): Promise<void> {
    const { placement, heartbeatTimeoutMs } = this.options;
    this.placementNow = await placement.load();
    const watch = await placement.watch();
    this.watch = watch;
    void (async () => {
      for await (const snapshot of watch) this.placementNow = snapshot;
    })().catch((error: unknown) =>
      this.options.logger.error({ err: error }, 'placement watch ended'),
    );
    this.server = await listen(this.options.listen, (path) => this.route(path));
    this.port = (this.server.address() as AddressInfo).port;
    const interval =
      this.options.checkIntervalMs ?? Math.max(100, Math.floor(heartbeatTimeoutMs / 4));
    this.timer = setInterval(() => void this.sweep(), interval);
    await this.sweep();
    this.options.logger.info(
      { port: this.port, heartbeatTimeoutMs },
      'placement controller serving',
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.watch?.stop();
    await this.sweeping;
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** One check of heartbeats and unfinished migrations (never two at once). */
  sweep(): Promise<void> {
    this.sweeping ??= this.checkOnce()
      .catch((error: unknown) =>
        this.options.logger.error({ err: error }, 'placement check failed'),
      )
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async checkOnce(): Promise<void> {
    const snapshot = this.placementNow;
    if (snapshot === undefined) return;
    const now = Date.now();
    for (const node of snapshot.nodes.values()) {
      if (node.status === 'down') continue;
      const silentMs = now - Date.parse(node.heartbeatAt);
      if (silentMs <= this.options.heartbeatTimeoutMs) continue;
      try {
        await this.options.placement.setNodeStatus(node.id, 'down', {
          expectedRevision: node.revision,
        });
        this.markedDown.inc();
        this.options.logger.warn(
          { node_id: node.id, silentMs, was: node.status },
          'node heartbeat silent: marked down, its tenants fall to the ring',
        );
      } catch (error) {
        // A heartbeat (or an operator) got there first: the node is alive after all.
        if (!(error instanceof PlacementConflictError)) throw error;
      }
    }
    await this.settleMigrations(snapshot, now);
    this.lastSweepAt = new Date(now).toISOString();
  }

  private async settleMigrations(snapshot: Placement, now: number): Promise<void> {
    const timeouts = this.options.migrator.timeouts;
    const abandonedMs =
      this.options.abandonedMigrationMs ??
      timeouts.warmMs + timeouts.drainMs + timeouts.verifyMs + 30_000;
    for (const [tenant, record] of snapshot.migrations) {
      if (FINAL.has(record.phase)) continue;
      const nodeGone = [record.from, record.to].some((id) => {
        const node = snapshot.nodes.get(id);
        return node === undefined || node.status === 'down';
      });
      const abandoned = now - Date.parse(record.startedAt) > abandonedMs;
      if (!nodeGone && !abandoned) continue;
      this.options.logger.warn(
        { tenant_id: tenant, phase: record.phase, epoch: record.epoch, nodeGone, abandoned },
        'settling an unfinished migration',
      );
      await this.options.migrator
        .recover(tenant)
        .catch((error: unknown) =>
          this.options.logger.warn(
            { tenant_id: tenant, err: error },
            'could not settle the migration',
          ),
        );
    }
  }

  private async route(path: string): Promise<{ status: number; type: string; body: string }> {
    if (path === '/health') {
      const ok = this.placementNow !== undefined && this.server !== undefined;
      const body = {
        ok,
        nodes: this.placementNow?.nodes.size ?? 0,
        lastCheckAt: this.lastSweepAt ?? null,
      };
      return { status: ok ? 200 : 503, type: 'application/json', body: JSON.stringify(body) };
    }
    if (path === '/metrics') {
      this.refreshGauges();
      const registry = this.options.metrics.registry;
      return { status: 200, type: registry.contentType, body: await registry.metrics() };
    }
    return {
      status: 404,
      type: 'application/json',
      body: JSON.stringify({ code: 'NOT_FOUND', message: `no route ${path}` }),
    };
  }

  private refreshGauges(): void {
    const snapshot = this.placementNow;
    for (const status of NODE_STATUSES) {
      this.nodeGauge.set(
        { status },
        [...(snapshot?.nodes.values() ?? [])].filter((n) => n.status === status).length,
      );
    }
    this.inFlight.set(
      [...(snapshot?.migrations.values() ?? [])].filter((m) => !FINAL.has(m.phase)).length,
    );
  }
}

async function listen(
  address: { readonly host: string; readonly port: number },
  route: (path: string) => Promise<{ status: number; type: string; body: string }>,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const answer =
      req.method === 'GET'
        ? route(path)
        : Promise.resolve({ status: 405, type: 'text/plain', body: 'GET only\n' });
    answer.then(
      ({ status, type, body }) => res.writeHead(status, { 'content-type': type }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  return server;
}
