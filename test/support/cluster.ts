// A whole cluster on loopback for e2e tests: N aggregate nodes and M routers
// in this process, on the run's nats-server, with stream and bucket names of
// their own so that test files do not see each other's data.
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { AggregateNode, loadNodeConfig } from '@tenantfold/aggregate-node';
import type { Logger } from '@tenantfold/core';
import { silentLogger } from '@tenantfold/core';
import { GatewayRouter, loadRouterConfig } from '@tenantfold/gateway-router';
import { PlacementStore } from '@tenantfold/nats';
import type { IsolatedNames } from '@tenantfold/testkit';
import { isolatedNames, streamsOf } from '@tenantfold/testkit';

/** The bank-account example: `account` with Open / Deposit / Withdraw. */
export const BANK_MANIFEST = fileURLToPath(
  new URL('../../examples/bank-account/aggregates.yaml', import.meta.url),
);

/** Bearer token of every node's `/admin/*` in a test cluster. */
export const ADMIN_TOKEN = 'test-admin-token';

export interface ClusterOptions {
  /** URL of the nats-server (`inject('natsUrl')`). */
  readonly natsUrl: string;
  /** Node ids, started in this order. @default ['node-a', 'node-b', 'node-c'] */
  readonly nodeIds?: readonly string[];
  /** Extra `AGGREGATE_*` settings for every node (e.g. `AGGREGATE_DRAIN_TIMEOUT_MS`). */
  readonly nodeEnv?: Readonly<Record<string, string>>;
  /** Routers started after the nodes. @default 0 */
  readonly routers?: number;
  /** Extra `ROUTER_*` settings for every router (e.g. `ROUTER_HOLD_TIMEOUT_MS`). */
  readonly routerEnv?: Readonly<Record<string, string>>;
  /** Heartbeat period of the nodes. @default 500 ms */
  readonly heartbeatMs?: number;
  readonly logger?: Logger;
}

/** Storage names of one cluster; every node of it shares them (one event stream). */
export type ClusterNames = IsolatedNames;

export const clusterNames = (): ClusterNames => isolatedNames('c');

export class TestCluster {
  private constructor(
    readonly options: ClusterOptions,
    readonly names: ClusterNames,
    /** The test's own connection (not shared with any node). */
    readonly nc: NatsConnection,
    /** The cluster's placement bucket, for pins and migration records. */
    readonly placement: PlacementStore,
    /** Running nodes by id. */
    readonly nodes: Map<string, AggregateNode>,
    /** Running routers, in start order. */
    readonly routers: GatewayRouter[],
  ) {}

  static async start(options: ClusterOptions): Promise<TestCluster> {
    const names = clusterNames();
    const nc = await connect({ servers: options.natsUrl, name: 'test-cluster' });
    const placement = await PlacementStore.open(nc, { bucket: names.placementBucket });
    const cluster = new TestCluster(options, names, nc, placement, new Map(), []);
    try {
      for (const id of options.nodeIds ?? ['node-a', 'node-b', 'node-c']) {
        await cluster.startNode(id);
      }
      for (let i = 0; i < (options.routers ?? 0); i++) await cluster.startRouter();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The running node `id`; throws if there is none. */
  node(id: string): AggregateNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no running node '${id}' in this cluster`);
    return node;
  }

  /** Starts (or restarts) node `id` on free ports; it registers itself in placement. */
  async startNode(id: string): Promise<AggregateNode> {
    if (this.nodes.has(id)) throw new Error(`node '${id}' is already running`);
    const config = loadNodeConfig({
      AGGREGATE_NODE_ID: id,
      AGGREGATE_NATS_URL: this.options.natsUrl,
      AGGREGATE_MANIFEST: BANK_MANIFEST,
      AGGREGATE_GRPC_LISTEN: '127.0.0.1:0',
      AGGREGATE_ADMIN_LISTEN: '127.0.0.1:0',
      AGGREGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      AGGREGATE_TENANT_RANGE: id,
      ...this.options.nodeEnv,
    });
    const node = await AggregateNode.start(config, {
      logger: this.options.logger ?? silentLogger,
      storage: this.names.storage,
      placementBucket: this.names.placementBucket,
      heartbeatMs: this.options.heartbeatMs ?? 500,
    });
    this.nodes.set(id, node);
    return node;
  }

  /** Gracefully stops node `id` (it marks itself `down` in placement). */
  async stopNode(id: string): Promise<void> {
    const node = this.node(id);
    this.nodes.delete(id);
    await node.stop();
  }

  /**
   * Starts a router on free ports over the cluster's placement bucket; `env`
   * adds or overrides `ROUTER_*` settings (e.g. a placement file).
   */
  async startRouter(env: Readonly<Record<string, string>> = {}): Promise<GatewayRouter> {
    const config = loadRouterConfig({
      ROUTER_NATS_URL: this.options.natsUrl,
      ROUTER_PLACEMENT_BUCKET: this.names.placementBucket,
      ROUTER_GRPC_LISTEN: '127.0.0.1:0',
      ROUTER_HTTP_LISTEN: '127.0.0.1:0',
      ...this.options.routerEnv,
      ...env,
    });
    const router = await GatewayRouter.start(config, {
      logger: this.options.logger ?? silentLogger,
    });
    this.routers.push(router);
    return router;
  }

  /** Stops one router and drops it from `routers`. */
  async stopRouter(router: GatewayRouter): Promise<void> {
    const index = this.routers.indexOf(router);
    if (index === -1) throw new Error('not a router of this cluster');
    this.routers.splice(index, 1);
    await router.stop();
  }

  /** Stops everything and deletes the cluster's streams and buckets. */
  async stop(): Promise<void> {
    const routers = this.routers.splice(0);
    await Promise.allSettled(routers.map((router) => router.stop()));
    const nodes = [...this.nodes.values()];
    this.nodes.clear();
    await Promise.allSettled(nodes.map((node) => node.stop()));
    const jsm = await jetstreamManager(this.nc);
    for (const stream of streamsOf(this.names)) {
      await jsm.streams.delete(stream).catch(() => undefined);
    }
    await this.nc.close();
  }
}
