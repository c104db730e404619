// Migration benchmark: one verified tenant move under load, for tenants of 10, 1k and 10k aggregates.
//
//   npm run bench:migrate
//
// Starts its own nats-server, two aggregate nodes (bank-account manifest) and one router in this
// process (test/support/cluster.ts). For each size it writes the tenant's accounts straight to
// JetStream (an Opened commit each, as fast as raw appends go), lets LOOPS clients deposit through
// the router on random accounts of the tenant, and moves the tenant to the other node with the
// controller's Migrator. It prints, per move: the time of each phase, the total, the controller's
// hold window (record DRAINING → DONE) and the pause the clients saw (p99 and max latency of the
// commands that met the cutover, against the steady p99 before it), and failed commands.
// Environment: BENCH_SIZES (default 10,1000,10000), BENCH_LOOPS (16), BENCH_ROUNDS (moves per
// size, 3; the tenant goes back and forth).
import { connect } from '@nats-io/transport-node';
import type { Commit } from '@tenantfold/core';
import { StreamKey, TenantId, Uuid } from '@tenantfold/core';
import { JetStreamEventLog, resolveOwner } from '@tenantfold/nats';
import { MigrationMetrics, Migrator, NodeAdminClient } from '@tenantfold/placement-controller';
import { startNatsServer } from '@tenantfold/testkit';
import { grpcClient } from '../test/support/clients.js';
import { ADMIN_TOKEN, TestCluster } from '../test/support/cluster.js';
import { quantile, ROUNDS } from './lib.js';

function integers(name: string, fallback: number[]): number[] {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const values = raw.split(',').map(Number);
  if (values.some((v) => !Number.isSafeInteger(v) || v <= 0)) {
    console.error(`${name}=${raw}: expected positive integers, comma-separated`);
    process.exit(2);
  }
  return values;
}

const SIZES = integers('BENCH_SIZES', [10, 1_000, 10_000]);
const [LOOPS = 16] = integers('BENCH_LOOPS', [16]);
const WARMUP_MS = 1_000;
const TIMEOUT_MS = 300_000;

function openCommit(tenant: TenantId, id: string): Commit {
  const commandId = Uuid.new();
  const timestamp = new Date().toISOString();
  const stream = StreamKey.of(tenant, 'account', id);
  return {
    command_id: commandId,
    stream,
    version: 1,
    timestamp,
    events: [
      {
        tenant_id: tenant,
        event_id: Uuid.new(),
        aggregate_type: stream.type,
        aggregate_id: stream.id,
        version: 1,
        event_type: 'Opened',
        payload: { owner: 'bench' },
        command_id: commandId,
        correlation_id: commandId,
        trace_id: '0af7651916cd43dd8448eb211c80319c',
        timestamp,
        metadata: {},
      },
    ],
  };
}

async function seed(log: JetStreamEventLog, tenant: TenantId, size: number): Promise<string[]> {
  const ids = Array.from({ length: size }, (_, i) => `acc-${i}`);
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < ids.length) await log.append(openCommit(tenant, ids[next++] as string), 0);
    }),
  );
  return ids;
}

interface Sent {
  readonly startedAt: number;
  readonly ms: number;
  readonly failed: boolean;
}

async function main(): Promise<void> {
  const server = await startNatsServer();
  // Commands held longer than the router's default 10 s would fail: the bench measures the move.
  const cluster = await TestCluster.start({
    natsUrl: server.url,
    nodeIds: ['node-a', 'node-b'],
    routers: 1,
    routerEnv: { ROUTER_HOLD_TIMEOUT_MS: String(TIMEOUT_MS) },
  });
  const nc = await connect({ servers: server.url });
  const client = grpcClient(cluster.routers[0]!.grpcPort);
  try {
    const log = await JetStreamEventLog.open({
      nc,
      streamName: cluster.names.storage.streamName,
      subjectPrefix: cluster.names.storage.subjectPrefix,
    });
    const migrator = new Migrator({
      placement: cluster.placement,
      admin: new NodeAdminClient(ADMIN_TOKEN),
      metrics: new MigrationMetrics(),
      timeouts: { warmMs: TIMEOUT_MS, drainMs: TIMEOUT_MS, verifyMs: TIMEOUT_MS },
    });
    console.log(
      `migration bench: ${LOOPS} clients depositing through one router, ${ROUNDS} moves per size\n`,
    );
    const rows: string[][] = [];
    for (const size of SIZES) {
      const tenant = TenantId.parse(`bench-${size}`);
      const seeded = performance.now();
      const ids = await seed(log, tenant, size);
      console.log(
        `tenant ${tenant}: ${size} accounts written in ${(performance.now() - seeded).toFixed(0)} ms`,
      );
      for (let move = 1; move <= ROUNDS; move++) {
        const from = resolveOwner(await cluster.placement.load(), tenant) as string;
        const to = from === 'node-a' ? 'node-b' : 'node-a';
        const sent: Sent[] = [];
        let running = true;
        const loops = Array.from({ length: LOOPS }, async () => {
          while (running) {
            const id = ids[Math.floor(Math.random() * ids.length)] as string;
            const startedAt = performance.now();
            const failed = await client
              .submit(
                {
                  aggregate_type: 'account',
                  aggregate_id: id,
                  payload_json: '{"type":"Deposit","data":{"amount":1}}',
                },
                { 'x-tenant-id': tenant },
              )
              .then(
                () => false,
                () => true,
              );
            sent.push({ startedAt, ms: performance.now() - startedAt, failed });
          }
        });
        await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
        const at = new Map<string, number>();
        const result = await migrator.migrate(tenant, to, {
          onPhase: (event) => {
            at.set(event.phase, performance.now());
            console.error(`  ${tenant} ${event.phase} +${event.elapsedMs.toFixed(0)} ms`);
          },
        });
        await new Promise((resolve) => setTimeout(resolve, 500));
        running = false;
        await Promise.all(loops);
        const drainingAt = at.get('DRAINING') ?? Infinity;
        const endAt = at.get(result.outcome) ?? -Infinity;
        const met = sent.filter((s) => s.startedAt <= endAt && s.startedAt + s.ms >= drainingAt);
        const steady = sent.filter((s) => s.startedAt + s.ms < (at.get('PREPARING') ?? 0));
        const sorted = (list: Sent[]) => list.map((s) => s.ms).sort((a, b) => a - b);
        const phase = (name: string) =>
          result.phases.find((p) => p.phase === name)?.ms.toFixed(0) ?? '-';
        rows.push([
          String(size),
          `${from}→${to}`,
          result.outcome,
          phase('WARMING'),
          phase('DRAINING'),
          phase('VERIFYING'),
          phase('SWAPPING'),
          result.totalMs.toFixed(0),
          result.holdMs?.toFixed(0) ?? '-',
          String(met.length),
          quantile(sorted(met), 0.99).toFixed(0),
          (sorted(met).at(-1) ?? Number.NaN).toFixed(0),
          quantile(sorted(steady), 0.99).toFixed(0),
          String(sent.filter((s) => s.failed).length),
        ]);
        console.log(
          JSON.stringify({
            case: 'migrate',
            size,
            move,
            outcome: result.outcome,
            hold_ms: Math.round(result.holdMs ?? 0),
            pause_p99_ms: Math.round(quantile(sorted(met), 0.99)),
            failed: sent.filter((s) => s.failed).length,
            verified_before_hold: result.verifiedBeforeHold ?? 0,
            verified_in_hold: result.verifiedInHold ?? 0,
            total_ms: Math.round(result.totalMs),
            pre_rounds: result.preRounds,
            phases: result.phases.map((p) => ({ phase: p.phase, ms: Math.round(p.ms) })),
          }),
        );
        if (result.outcome !== 'DONE') console.log(`  rolled back: ${result.reason}`);
      }
    }
    const header = [
      'aggregates',
      'move',
      'outcome',
      'warm ms',
      'drain ms',
      'verify ms',
      'swap ms',
      'total ms',
      'hold ms',
      'held cmds',
      'pause p99',
      'pause max',
      'steady p99',
      'failed',
    ];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: readonly string[]) =>
      cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
    console.log(
      `\n${[line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')}`,
    );
  } finally {
    client.close();
    await nc.close();
    await cluster.stop();
    await server.stop();
  }
}

await main();
