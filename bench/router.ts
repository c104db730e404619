// Router benchmark: commands through the gateway router vs straight to the node, same run.
//
//   npm run bench:router
//
// Starts its own nats-server (file storage, temp dir), one aggregate node with the
// bank-account manifest (in this process, test/support/cluster.ts) and one router in
// front of it as its own process (`tenantfold-router`, as deployed), opens
// 10,000 accounts, then measures interleaved round by round at concurrency 1, 32 and 256:
//   raw     acknowledged JetStream appends (bench/lib.ts), the floor of the storage;
//   node    `SubmitCommand` over gRPC straight to the node;
//   router  the same call to the router, which forwards it to the node;
//   http    `POST /v1/commands` on the router (fetch, keep-alive).
// Each command is `Deposit {amount: 1}` on one of the 10,000 accounts (workers on
// disjoint accounts). Then the route lookup cost per call: `resolveOwner` on a
// placement of 3 nodes (ring and pinned tenants) and the router's memoised lookup
// (`PlacementCache.ownerOf`). Prints a table of medians over the
// rounds, the CPU the router process and nats-server spend per call (from /proc; lines
// `{"case":"cpu_per_command","process":"router_grpc"|"router_http"|"nats","us":N}`), one JSON line per case and
// the router/node ratio per concurrency.
// Environment: BENCH_ROUNDS (default 3), BENCH_ROUND_MS (2000).
import { silentLogger, TenantId } from '@tenantfold/core';
import { PlacementCache } from '@tenantfold/gateway-router';
import type { NodeRecord } from '@tenantfold/nats';
import { createPlacement, resolveOwner } from '@tenantfold/nats';
import { freePort, startNatsServer } from '@tenantfold/testkit';
import { TestCluster } from '../test/support/cluster.js';
import {
  accountId,
  AGGREGATES,
  depositCase,
  grpcSubmitter,
  httpSubmitter,
  openAccounts,
} from './accounts.js';
import type { Case } from './lib.js';
import {
  CONCURRENCY,
  interleavedRounds,
  openRawStream,
  rawCase,
  ROUND_MS,
  ROUNDS,
  table,
} from './lib.js';
import { CpuMeter, cpuMsOf, startService } from './process.js';

const LOOKUPS = 1_000_000;

/** ns per owner lookup for ring-resolved and pinned tenants (1,000 pins, 3 nodes). */
function lookupCost() {
  const node = (id: string): NodeRecord => ({
    id,
    grpcAddress: `127.0.0.1:${id.length}`,
    adminAddress: '127.0.0.1:1',
    tenantRange: id,
    weight: 1,
    status: 'active',
    heartbeatAt: new Date().toISOString(),
  });
  const placement = createPlacement({
    nodes: ['node-a', 'node-b', 'node-c'].map(node),
    pins: Array.from(
      { length: 1_000 },
      (_, i) => [TenantId.parse(`pinned-${i}`), 'node-b'] as const,
    ),
  });
  const ring = Array.from({ length: 1_000 }, (_, i) => TenantId.parse(`tenant-${i}`));
  const pinned = Array.from({ length: 1_000 }, (_, i) => TenantId.parse(`pinned-${i}`));
  const cache = new PlacementCache(silentLogger);
  cache.adoptFile(placement, '(bench)');
  const time = (lookup: (tenant: TenantId) => string | undefined, tenants: TenantId[]) => {
    let sink = 0;
    for (let i = 0; i < 10_000; i++) sink += lookup(tenants[i % 1_000]!)!.length;
    const t = performance.now();
    for (let i = 0; i < LOOKUPS; i++) sink += lookup(tenants[i % 1_000]!)!.length;
    const ns = ((performance.now() - t) * 1e6) / LOOKUPS;
    if (sink === 0) throw new Error('unreachable');
    return Number(ns.toFixed(1));
  };
  const resolve = (tenant: TenantId) => resolveOwner(placement, tenant);
  const memo = (tenant: TenantId) => cache.ownerOf(tenant);
  return {
    case: 'route_lookup',
    resolve_owner_ns_ring: time(resolve, ring),
    resolve_owner_ns_pinned: time(resolve, pinned),
    router_ns_ring: time(memo, ring),
    router_ns_pinned: time(memo, pinned),
  };
}

/** `tenantfold-router` as its own process over the cluster's placement; resolves once ready. */
async function startRouterProcess(cluster: TestCluster, natsUrl: string) {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const router = await startService({
    name: 'router',
    main: 'gateway-router/src/main.ts',
    readyPort: httpPort,
    env: {
      ROUTER_NATS_URL: natsUrl,
      ROUTER_PLACEMENT_BUCKET: cluster.names.placementBucket,
      ROUTER_GRPC_LISTEN: `127.0.0.1:${grpcPort}`,
      ROUTER_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
      ROUTER_LOG_LEVEL: 'warn',
    },
  });
  return { ...router, grpcPort, httpPort };
}

async function main(): Promise<void> {
  const server = await startNatsServer();
  const cluster = await TestCluster.start({
    natsUrl: server.url,
    nodeIds: ['bench-node'],
    // Every account stays live: the measured window is warm actors.
    nodeEnv: { AGGREGATE_MAX_LIVE_ACTORS: String(2 * AGGREGATES) },
  });
  const routerProcess = await startRouterProcess(cluster, server.url);
  const node = grpcSubmitter(cluster.node('bench-node').grpcPort);
  const router = grpcSubmitter(routerProcess.grpcPort);
  const routerHttp = httpSubmitter(routerProcess.httpPort);
  const { nc, js } = await openRawStream(server.url);
  try {
    console.log(
      `nats-server ${nc.info?.version ?? '?'}, node ${process.version}, ${ROUNDS} rounds x ${ROUND_MS} ms per case, ${AGGREGATES} accounts`,
    );
    const t = performance.now();
    await openAccounts(node.submit, 256);
    console.log(
      `opened ${AGGREGATES} accounts in ${((performance.now() - t) / 1_000).toFixed(2)} s`,
    );

    const cases = { node: node.submit, router: router.submit, http: routerHttp } as const;
    for (const c of CONCURRENCY) {
      await rawCase(js, 0, c);
      for (const submit of Object.values(cases)) {
        await Promise.all(
          Array.from({ length: c }, (_, w) => submit(accountId(w), 'Deposit', { amount: 1 })),
        );
      }
    }

    // CPU the router process and nats-server spend per call (load-independent, unlike ops/s).
    const cpu = new CpuMeter({
      router: () => routerProcess.cpuMs(),
      nats: () => cpuMsOf(server.pid!),
    });
    const deposits =
      (kind: keyof typeof cases): Case =>
      (r, c) =>
        cpu.charge(
          (p) => `${p}/${kind}`,
          () => depositCase(cases[kind], c, r * 997),
        );
    const summaries = await interleavedRounds({
      raw: (r, c) => rawCase(js, r, c),
      node: deposits('node'),
      router: deposits('router'),
      http: deposits('http'),
    });
    const lookup = lookupCost();
    console.log('');
    console.log(table(summaries));
    console.log(
      `route lookup per call (3 nodes, 1,000 pins): resolveOwner ${lookup.resolve_owner_ns_ring} ns (ring) / ${lookup.resolve_owner_ns_pinned} ns (pinned); router's memoised lookup ${lookup.router_ns_ring} / ${lookup.router_ns_pinned} ns`,
    );
    const perOp = cpu.perOp();
    const cpuLines = [
      { process: 'router_grpc', us: perOp.get('router/router')! },
      { process: 'router_http', us: perOp.get('router/http')! },
      { process: 'nats', us: perOp.get('nats/router')! },
    ];
    console.log(
      `router process CPU per call: ${cpuLines[0]!.us} µs (gRPC), ${cpuLines[1]!.us} µs (HTTP); nats-server per command ${cpuLines[2]!.us} µs`,
    );
    console.log('');
    for (const s of summaries) console.log(JSON.stringify(s));
    console.log(JSON.stringify(lookup));
    for (const line of cpuLines) console.log(JSON.stringify({ case: 'cpu_per_command', ...line }));
    for (const c of CONCURRENCY) {
      const of = (kind: string) => summaries.find((s) => s.case === kind && s.concurrency === c)!;
      console.log(
        JSON.stringify({
          case: 'ratio',
          concurrency: c,
          router_over_node: Number((of('router').ops_per_s / of('node').ops_per_s).toFixed(3)),
          http_over_node: Number((of('http').ops_per_s / of('node').ops_per_s).toFixed(3)),
        }),
      );
    }
  } finally {
    node.close();
    router.close();
    await routerProcess.stop();
    await cluster.stop();
    await nc.close();
    await server.stop();
  }
}

await main();
