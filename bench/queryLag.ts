// Read-model lag of a node under a steady command load (issue 9).
//
// Starts its own nats-server and one AggregateNode (bank-account programs),
// opens BENCH_LAG_ACCOUNTS accounts, then sends deposits at BENCH_LAG_RATE per
// second for BENCH_ROUNDS x BENCH_ROUND_MS over gRPC. Lag of one commit = the
// moment its state notification arrives on `state.<tenant>.account.*` minus
// its commit timestamp (taken just before the JetStream append): append,
// evolve in the sandbox, the SQLite transaction and the NATS hop, an upper
// bound of "acknowledged → queryable". Prints a line and one JSON line.
//
//   npm run bench:query   (bench/query.ts, then this)
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { AggregateNode, loadNodeConfig } from '@tenantfold/aggregate-node';
import { silentLogger } from '@tenantfold/core';
import { decodeNotification, stateSubject } from '@tenantfold/query/live';
import { startNatsServer } from '@tenantfold/testkit';
import { grpcSubmitter } from './accounts.js';
import { quantile, ROUND_MS, ROUNDS } from './lib.js';

const ACCOUNTS = Number(process.env.BENCH_LAG_ACCOUNTS ?? 1_000);
const RATE = Number(process.env.BENCH_LAG_RATE ?? 300);
const TENANT = 'bench-lag';
const MANIFEST = fileURLToPath(
  new URL('../examples/bank-account/aggregates.yaml', import.meta.url),
);

const nats = await startNatsServer();
const dir = await mkdtemp(join(tmpdir(), 'tenantfold-bench-lag-'));
const node = await AggregateNode.start(
  loadNodeConfig({
    AGGREGATE_NODE_ID: 'bench-lag',
    AGGREGATE_NATS_URL: nats.url,
    AGGREGATE_MANIFEST: MANIFEST,
    AGGREGATE_GRPC_LISTEN: '127.0.0.1:0',
    AGGREGATE_ADMIN_LISTEN: '127.0.0.1:0',
    AGGREGATE_READ_MODEL_PATH: join(dir, 'read-model.sqlite'),
  }),
  { logger: silentLogger },
);
const { submit, close } = grpcSubmitter(node.grpcPort, TENANT);

const nc = await connect({ servers: nats.url });
try {
  for (let i = 0; i < ACCOUNTS; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, ACCOUNTS - i) }, (_, j) =>
        submit(`acc-${i + j}`, 'Open', { owner: 'bench' }),
      ),
    );
  }
  const lags: number[] = [];
  let measuring = false;
  nc.subscribe(stateSubject(TENANT, 'account'), {
    callback: (_error, message) => {
      if (!measuring) return;
      lags.push(Date.now() - Date.parse(decodeNotification(message.data).updated_at));
    },
  });
  await nc.flush();
  measuring = true;
  const durationMs = ROUNDS * ROUND_MS;
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  let failed = 0;
  while (performance.now() - started < durationMs) {
    const due = Math.floor(((performance.now() - started) / 1000) * RATE);
    for (; sent < due; sent++) {
      const id = `acc-${Math.floor(Math.random() * ACCOUNTS)}`;
      const call = submit(id, 'Deposit', { amount: 1 }).catch(() => void failed++);
      inFlight.add(call);
      void call.finally(() => inFlight.delete(call));
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(inFlight);
  await new Promise((resolve) => setTimeout(resolve, 200));
  measuring = false;
  const seconds = (performance.now() - started) / 1000;
  const sorted = [...lags].sort((a, b) => a - b);
  const summary = {
    case: 'read-model lag',
    rate_per_s: RATE,
    commands: sent,
    failed,
    notifications: lags.length,
    achieved_per_s: Math.round(sent / seconds),
    p50_ms: quantile(sorted, 0.5),
    p99_ms: quantile(sorted, 0.99),
    max_ms: sorted.at(-1) ?? 0,
    load_average: Number(loadavg()[0]!.toFixed(1)),
  };
  console.log(
    `read-model lag at ${RATE} commands/s over ${ACCOUNTS} accounts (${summary.commands} commands, ${failed} failed): p50 ${summary.p50_ms} ms, p99 ${summary.p99_ms} ms, max ${summary.max_ms} ms (aim p99 < 50 ms); load average ${summary.load_average}`,
  );
  console.log(JSON.stringify(summary));
} finally {
  close();
  await nc.close();
  await node.stop();
  await nats.stop();
  await rm(dir, { recursive: true, force: true });
}
