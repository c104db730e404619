// Node benchmark: gRPC commands on a whole aggregate node vs raw JetStream appends.
//
//   npm run bench:node
//
// Starts its own nats-server (file storage, temp dir) and one `tenantfold-node`
// process (as deployed, logging at info to this output) with the bank-account
// manifest (examples/bank-account/aggregates.yaml), then, in the
// same run and interleaved round by round, measures at concurrency 1, 32 and 256:
//   raw   acknowledged JetStream publishes: 150-byte payload, Nats-Msg-Id and
//         expected last subject sequence, one subject per worker (as bench/store.ts);
//   node  `SubmitCommand` over gRPC (one client on a worker thread, as a client
//         elsewhere would not share the node's event loop; tenant header
//         `x-tenant-id`), `Deposit {amount: 1}` spread over 10,000 accounts
//         opened beforehand;
//   node_nats  the same deposits as routers send them: protobuf bytes over NATS
//         request-reply on the node's command subject.
// Then the rehydration time of one aggregate of 10,000 events, without snapshots
// and with a snapshot every 1,000 events: `state()` on a fresh store and backend.
// Prints a table of medians over the rounds, one JSON line per case, the
// node/raw ratio, and the CPU each process spends per command (node,
// nats-server; for raw appends nats-server and the client), read from /proc:
// `{"case":"cpu_per_command","process":…,"concurrency":…,"us":…}`.
// BENCH_CPU_PROF=<dir> writes a --cpu-prof profile of the node there
// (`npm run bench:profile -- <file>` prints where the time goes). Environment: BENCH_ROUNDS (default 3), BENCH_ROUND_MS (2000),
// BENCH_REHYDRATION_RUNS (5), BENCH_MANIFEST (another manifest with an `account`
// aggregate, e.g. without the example's projection and process manager).
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AggregateStore } from '@tenantfold/core';
import { openJetStreamBackend } from '@tenantfold/nats';
import { freePort, startNatsServer } from '@tenantfold/testkit';
import { AGGREGATES, depositCase, natsSubmitter } from './accounts.js';
import type { ClientReply, ClientRequest } from './grpcClientWorker.js';
import type { Round } from './lib.js';
import { CpuMeter, cpuMsOf, startService } from './process.js';
import {
  CONCURRENCY,
  interleavedRounds,
  openRawStream,
  quantile,
  rawCase,
  ROUND_MS,
  ROUNDS,
  table,
  Tally,
} from './lib.js';

const REHYDRATION_RUNS = Number(process.env.BENCH_REHYDRATION_RUNS ?? 5);
const REHYDRATION_EVENTS = 10_000;
const manifestSetting = process.env.BENCH_MANIFEST?.trim() ?? '';
const MANIFEST =
  manifestSetting === ''
    ? fileURLToPath(new URL('../examples/bank-account/aggregates.yaml', import.meta.url))
    : manifestSetting;

interface RehydrationSummary {
  readonly case: 'rehydration';
  readonly events: number;
  readonly snapshot_every: number;
  readonly runs: number;
  readonly median_ms: number;
  readonly min_ms: number;
  readonly max_ms: number;
}

async function openTallyStore(url: string, snapshotEvery: number): Promise<AggregateStore> {
  const backend = await openJetStreamBackend({ servers: url, connectionName: 'bench-rehydrate' });
  return AggregateStore.builder(backend).with({ snapshotEvery }).aggregate(Tally).open();
}

/**
 * One aggregate of 10,000 events, then `state()` on a fresh store (and backend
 * connection) per run: the whole load is timed, not the store's opening.
 */
async function rehydrationCase(url: string, snapshotEvery: number): Promise<RehydrationSummary> {
  const id = `rehydrate-every-${snapshotEvery}`;
  const writer = await openTallyStore(url, snapshotEvery);
  try {
    const handle = writer.get(Tally, id);
    // The actor queues these: one aggregate, so they commit one after another.
    for (let done = 0; done < REHYDRATION_EVENTS; done += 100) {
      await Promise.all(
        Array.from({ length: 100 }, () => handle.execute({ type: 'Add', data: { n: 1 } })),
      );
    }
  } finally {
    await writer.close();
  }
  const times: number[] = [];
  for (let run = 0; run < REHYDRATION_RUNS; run++) {
    const store = await openTallyStore(url, snapshotEvery);
    try {
      const t = performance.now();
      const state = await store.get(Tally, id).state();
      times.push(performance.now() - t);
      if (state.count !== REHYDRATION_EVENTS) {
        throw new Error(`rehydrated ${state.count} events, expected ${REHYDRATION_EVENTS}`);
      }
    } finally {
      await store.close();
    }
  }
  const sorted = times.sort((a, b) => a - b);
  return {
    case: 'rehydration',
    events: REHYDRATION_EVENTS,
    snapshot_every: snapshotEvery,
    runs: sorted.length,
    median_ms: Number(quantile(sorted, 0.5).toFixed(3)),
    min_ms: Number(sorted[0]!.toFixed(3)),
    max_ms: Number(sorted[sorted.length - 1]!.toFixed(3)),
  };
}

/** The gRPC client on its own thread (see grpcClientWorker.ts): one request at a time. */
function grpcClientThread(port: number) {
  // tsx's loader does not follow into a worker: the worker registers it, then loads the client.
  const script = new URL('./grpcClientWorker.ts', import.meta.url).href;
  const worker = new Worker(
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); });`,
    { eval: true, workerData: { port }, execArgv: ['--conditions=source'] },
  );
  let pending: { resolve: (round?: Round) => void; reject: (error: Error) => void } | undefined;
  const settle = (outcome: (p: NonNullable<typeof pending>) => void) => {
    const waiting = pending;
    pending = undefined;
    if (waiting !== undefined) outcome(waiting);
  };
  worker.on('message', (reply: ClientReply) =>
    settle((p) =>
      reply.error === undefined ? p.resolve(reply.round) : p.reject(new Error(reply.error)),
    ),
  );
  worker.on('error', (error) => settle((p) => p.reject(error)));
  const ask = (request: ClientRequest) =>
    new Promise<Round | undefined>((resolve, reject) => {
      pending = { resolve, reject };
      worker.postMessage(request);
    });
  return {
    open: () => ask({ op: 'open' }),
    warm: (concurrency: number) => ask({ op: 'warm', concurrency }),
    deposit: async (concurrency: number, offset: number) =>
      (await ask({ op: 'deposit', concurrency, offset }))!,
    close: async () => {
      worker.postMessage('close');
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}

async function main(): Promise<void> {
  const server = await startNatsServer();
  const [grpcPort, adminPort] = [await freePort(), await freePort()];
  const node = await startService({
    name: 'node',
    main: 'aggregate-node/src/main.ts',
    readyPort: adminPort,
    env: {
      AGGREGATE_NODE_ID: 'bench-node',
      AGGREGATE_NATS_URL: server.url,
      AGGREGATE_MANIFEST: MANIFEST,
      AGGREGATE_GRPC_LISTEN: `127.0.0.1:${grpcPort}`,
      AGGREGATE_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
      AGGREGATE_ADMIN_TOKEN: 'bench-secret',
      // Every account stays live: the measured window is warm actors.
      AGGREGATE_MAX_LIVE_ACTORS: String(2 * AGGREGATES),
    },
  });
  const grpc = grpcClientThread(grpcPort);
  const bench = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1_000;
  };
  const cpu = new CpuMeter({
    node: () => node.cpuMs(),
    nats: () => cpuMsOf(server.pid!),
    client: bench,
  });
  const { nc, js } = await openRawStream(server.url);
  try {
    console.log(
      `nats-server ${nc.info?.version ?? '?'}, node ${process.version}, ${ROUNDS} rounds x ${ROUND_MS} ms per case, ${AGGREGATES} accounts`,
    );

    const t = performance.now();
    await grpc.open();
    console.log(
      `opened ${AGGREGATES} accounts over gRPC in ${((performance.now() - t) / 1_000).toFixed(2)} s`,
    );
    // Warm-up, not measured: JIT and connections warm.
    const overNats = await natsSubmitter(nc, 'bench-node');
    for (const c of CONCURRENCY) {
      await rawCase(js, 0, c);
      await grpc.warm(c);
      await depositCase(overNats, c, 0);
    }

    const summaries = await interleavedRounds({
      raw: (r, c) =>
        cpu.charge(
          (p) => `raw_${p}/${c}`,
          () => rawCase(js, r, c),
        ),
      node: (r, c) =>
        cpu.charge(
          (p) => `${p}/${c}`,
          () => grpc.deposit(c, r * 997),
        ),
      node_nats: (r, c) =>
        cpu.charge(
          (p) => `${p}_nats/${c}`,
          () => depositCase(overNats, c, r * 997 + 500),
        ),
    });

    const rehydration = [
      await rehydrationCase(server.url, 0),
      await rehydrationCase(server.url, 1_000),
    ];

    console.log('');
    console.log(table(summaries));
    for (const r of rehydration) {
      console.log(
        `rehydration of one aggregate of ${r.events} events, ${r.snapshot_every === 0 ? 'no snapshots' : `snapshot every ${r.snapshot_every}`}: median ${r.median_ms} ms (min ${r.min_ms}, max ${r.max_ms}, ${r.runs} runs)`,
      );
    }
    const perOp = cpu.perOp();
    const cpuLines = CONCURRENCY.flatMap((c) => [
      ...['node', 'nats'].map((p) => ({ process: p, concurrency: c, us: perOp.get(`${p}/${c}`)! })),
      ...['node', 'nats'].map((p) => ({
        process: `${p}_via_nats`,
        concurrency: c,
        us: perOp.get(`${p}_nats/${c}`)!,
      })),
      { process: 'raw_nats', concurrency: c, us: perOp.get(`raw_nats/${c}`)! },
      {
        process: 'raw_append_box',
        concurrency: c,
        us: perOp.get(`raw_nats/${c}`)! + perOp.get(`raw_client/${c}`)!,
      },
    ]);
    console.log('CPU per command (µs, all threads of each process, from /proc):');
    for (const c of CONCURRENCY) {
      const at = (p: string) => cpuLines.find((l) => l.process === p && l.concurrency === c)!.us;
      console.log(
        `  ${String(c).padStart(3)} in flight: node ${at('node')}, nats-server ${at('nats')} (over gRPC); node ${at('node_via_nats')}, nats-server ${at('nats_via_nats')} (over the NATS hop); raw append: nats-server ${at('raw_nats')}, whole box ${at('raw_append_box')}`,
      );
    }
    console.log('');
    for (const s of summaries) console.log(JSON.stringify(s));
    for (const r of rehydration) console.log(JSON.stringify(r));
    for (const line of cpuLines) console.log(JSON.stringify({ case: 'cpu_per_command', ...line }));
    for (const c of CONCURRENCY) {
      const raw = summaries.find((s) => s.case === 'raw' && s.concurrency === c)!;
      const over = (kind: string) =>
        Number(
          (
            summaries.find((s) => s.case === kind && s.concurrency === c)!.ops_per_s / raw.ops_per_s
          ).toFixed(3),
        );
      console.log(
        JSON.stringify({
          case: 'ratio',
          concurrency: c,
          node_over_raw: over('node'),
          node_nats_over_raw: over('node_nats'),
        }),
      );
    }
  } finally {
    await grpc.close();
    await node.stop();
    await nc.close();
    await server.stop();
  }
}

await main();
