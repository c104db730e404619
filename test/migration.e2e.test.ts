// Verified tenant migration on a whole cluster: nats-server, 3 aggregate nodes, 2 routers and
// the controller's Migrator, all on loopback. Commands flow through the routers while tenants move.
import type { StoredCommit, TenantId } from '@tenantfold/core';
import { StreamKey, TenantId as Tenant, Uuid } from '@tenantfold/core';
import type { Placement } from '@tenantfold/nats';
import { JetStreamEventLog, resolveOwner } from '@tenantfold/nats';
import type {
  AggregatePosition,
  MigrationResult,
  VerifyScope,
} from '@tenantfold/placement-controller';
import {
  EXIT,
  MigrationMetrics,
  Migrator,
  NodeAdminClient,
} from '@tenantfold/placement-controller';
import { commitOf } from '@tenantfold/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { GrpcClient } from './support/clients.js';
import { grpcClient, metricSum } from './support/clients.js';
import { ADMIN_TOKEN, TestCluster } from './support/cluster.js';
import { placementctl, removePlacementctlBucket } from './support/placementctl.js';

let cluster: TestCluster;
/** A complete read of the cluster's placement (PlacementStore.load can miss a heartbeating node). */
let loadPlacement: () => Promise<Placement>;
let clients: GrpcClient[];
let log: JetStreamEventLog;

beforeAll(async () => {
  cluster = await TestCluster.start({ natsUrl: inject('natsUrl'), routers: 2 });
  loadPlacement = () => cluster.placement.load();
  clients = cluster.routers.map((router) => grpcClient(router.grpcPort));
  log = await JetStreamEventLog.open({
    nc: cluster.nc,
    streamName: cluster.names.storage.streamName,
    subjectPrefix: cluster.names.storage.subjectPrefix,
  });
});

afterAll(async () => {
  for (const client of clients ?? []) client.close();
  if (cluster !== undefined) await removePlacementctlBucket(cluster);
  await cluster?.stop();
});

const command = (id: string, type: string, data: Record<string, unknown>, commandId = '') => ({
  command_id: commandId,
  aggregate_type: 'account',
  aggregate_id: id,
  payload_json: JSON.stringify({ type, data }),
});

function migrator(admin = new NodeAdminClient(ADMIN_TOKEN)): Migrator {
  return new Migrator({
    placement: cluster.placement,
    admin,
    metrics: new MigrationMetrics(),
    timeouts: { warmMs: 20_000, drainMs: 10_000, verifyMs: 20_000, notifyMs: 5_000 },
  });
}

/** A fresh tenant name and its owner now, plus another node to move it to. */
async function tenantToMove(
  prefix: string,
): Promise<{ tenant: TenantId; from: string; to: string }> {
  const placement = await loadPlacement();
  const tenant = Tenant.parse(`${prefix}-${Math.random().toString(36).slice(2, 8)}`);
  const from = resolveOwner(placement, tenant) as string;
  const to = [...cluster.nodes.keys()].find((id) => id !== from) as string;
  return { tenant, from, to };
}

async function commitsOf(tenant: TenantId, id: string): Promise<StoredCommit[]> {
  const commits: StoredCommit[] = [];
  for await (const commit of log.read(StreamKey.of(tenant, 'account', id))) commits.push(commit);
  return commits;
}

interface Sent {
  readonly commandId: string;
  readonly account: string;
  readonly startedAt: number;
  readonly ms: number;
  readonly error?: string;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** `loops` concurrent senders of Deposit 1 over both routers until `stop()`. */
function load(tenant: TenantId, accounts: readonly string[], loops: number) {
  const sent: Sent[] = [];
  let running = true;
  const headers = { 'x-tenant-id': tenant };
  const workers = Array.from({ length: loops }, async (_, loop) => {
    for (let i = 0; running; i++) {
      const account = accounts[(loop + i * loops) % accounts.length] as string;
      const commandId = Uuid.new();
      const startedAt = performance.now();
      try {
        await clients[i % clients.length]!.submit(
          command(account, 'Deposit', { amount: 1 }, commandId),
          headers,
        );
        sent.push({ commandId, account, startedAt, ms: performance.now() - startedAt });
      } catch (error) {
        const { code, message } = error as { code?: number; message: string };
        sent.push({
          commandId,
          account,
          startedAt,
          ms: performance.now() - startedAt,
          error: `${code}: ${message}`,
        });
        // A client closed under a loop (a failed attempt never stopped) fails at once:
        // yield, or the loop would starve every timer of the test run.
        await yieldToEventLoop();
      }
    }
  });
  return {
    sent,
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

describe('tenant migration', () => {
  // The ≥ 200 commands/s precondition is CPU-bound: on a 2-core machine shared with other
  // suites it can fall short, so an attempt may be repeated (each with a fresh tenant).
  it(
    'moves a tenant under load: no failed command, every acknowledged commit once, states equal a replay',
    { retry: 2 },
    async () => {
      const { tenant, from, to } = await tenantToMove('moving');
      const accounts = Array.from({ length: 20 }, (_, i) => `acc-${i}`);
      const headers = { 'x-tenant-id': tenant };
      for (const id of accounts)
        await clients[0]!.submit(command(id, 'Open', { owner: 'e2e' }), headers);

      const traffic = load(tenant, accounts, 64);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const phaseAt = new Map<string, number>();
      const result: MigrationResult = await migrator().migrate(tenant, to, {
        onPhase: (event) => phaseAt.set(event.phase, performance.now()),
      });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await traffic.stop();

      expect(result.outcome, result.reason).toBe('DONE');
      expect(result.from).toBe(from);
      expect(result.aggregates).toBe(accounts.length);
      expect(resolveOwner(await loadPlacement(), tenant)).toBe(to);

      const failed = traffic.sent.filter((s) => s.error !== undefined);
      expect(failed.map((f) => f.error)).toEqual([]);
      const spanMs =
        Math.max(...traffic.sent.map((s) => s.startedAt + s.ms)) -
        Math.min(...traffic.sent.map((s) => s.startedAt));
      const rate = (traffic.sent.length / spanMs) * 1000;
      expect(rate).toBeGreaterThanOrEqual(200);

      // Every acknowledged command is in JetStream exactly once; nothing else was appended.
      const acked = new Map(traffic.sent.map((s) => [s.commandId, s.account]));
      const seen = new Map<string, number>();
      for (const id of accounts) {
        const commits = await commitsOf(tenant, id);
        const deposits = commits.slice(1); // the Open
        for (const commit of deposits)
          seen.set(commit.command_id, (seen.get(commit.command_id) ?? 0) + 1);
        // The state the cluster serves equals a replay of the stream.
        const replayed = deposits.reduce(
          (sum, c) =>
            sum +
            c.events.reduce((s, e) => s + ((e.payload as { amount?: number }).amount ?? 0), 0),
          0,
        );
        const state = await clients[1]!.getState(
          { aggregate_type: 'account', aggregate_id: id },
          headers,
        );
        expect(JSON.parse(state.state_json as string)).toMatchObject({ balance: replayed });
        expect(Number(state.version)).toBe(commits.at(-1)?.version);
      }
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(seen.keys())).toEqual(new Set(acked.keys()));

      // Pause: what the commands that met the cutover (DRAINING → DONE) waited.
      const drainingAt = phaseAt.get('DRAINING') as number;
      const doneAt = phaseAt.get('DONE') as number;
      const held = traffic.sent.filter(
        (s) => s.startedAt <= doneAt && s.startedAt + s.ms >= drainingAt,
      );
      const pauseP99 = quantile(
        held.map((s) => s.ms),
        0.99,
      );
      const steady = traffic.sent.filter((s) => s.startedAt + s.ms < drainingAt).map((s) => s.ms);
      process.stdout.write(
        `migration under load: ${traffic.sent.length} commands at ${Math.round(rate)}/s, 0 failed; ` +
          `phases ${result.phases.map((p) => `${p.phase} ${p.ms.toFixed(0)} ms`).join(', ')}; ` +
          `hold window ${result.holdMs?.toFixed(0)} ms; ${held.length} commands met the cutover, pause p99 ${pauseP99.toFixed(0)} ms ` +
          `(steady p99 ${quantile(steady, 0.99).toFixed(0)} ms)\n`,
      );
      expect(held.length).toBeGreaterThan(0);
      // The routers did hold commands in the cutover, and let every one of them go.
      const holds = async (outcome: string) =>
        (
          await Promise.all(
            cluster.routers.map((r) =>
              metricSum(r.httpPort, 'router_held_commands_total', { outcome }),
            ),
          )
        ).reduce((a, b) => a + b, 0);
      expect(await holds('released')).toBeGreaterThan(0);
      expect((await holds('timeout')) + (await holds('full'))).toBe(0);
    },
  );

  it('rolls back when the target does not match the drain (a stale writer appended), and the tenant keeps working on the source', async () => {
    const { tenant, from, to } = await tenantToMove('stale');
    const headers = { 'x-tenant-id': tenant };
    for (const id of ['acc-1', 'acc-2']) {
      await clients[0]!.submit(command(id, 'Open', { owner: 'e2e' }), headers);
      await clients[1]!.submit(command(id, 'Deposit', { amount: 10 }), headers);
    }
    // After the source drained (acc-1 pre-verified before the hold), a writer that missed the
    // fence appends straight to JetStream: the delta the target reads from the log shows it.
    class StaleWriterBeforeVerify extends NodeAdminClient {
      override async verify(
        node: { id: string; adminAddress: string },
        t: TenantId,
        epoch: number,
        aggregates: readonly AggregatePosition[],
        scope: VerifyScope,
        timeoutMs: number,
      ) {
        if (scope.scope !== 'delta')
          return super.verify(node, t, epoch, aggregates, scope, timeoutMs);
        const last = (await commitsOf(t, 'acc-1')).at(-1) as StoredCommit;
        const stale = commitOf(StreamKey.of(t, 'account', 'acc-1'), last.version + 1);
        const events = stale.events.map((e) => ({
          ...e,
          event_type: 'Deposited',
          payload: { amount: 1000 },
        }));
        await log.append({ ...stale, events }, last.position);
        return super.verify(node, t, epoch, aggregates, scope, timeoutMs);
      }
    }
    const result = await migrator(new StaleWriterBeforeVerify(ADMIN_TOKEN)).migrate(tenant, to);

    expect(result.outcome).toBe('ROLLED_BACK');
    expect(result.reason).toMatch(/verification failed: 1 aggregate\(s\) differ.*account\/acc-1/);
    const placement = await loadPlacement();
    expect(resolveOwner(placement, tenant)).toBe(from);
    expect(placement.migrations.get(tenant)).toMatchObject({ phase: 'ROLLED_BACK', from, to });
    // The source serves the tenant again, on top of the stale commit too.
    for (const id of ['acc-1', 'acc-2']) {
      await clients[0]!.submit(command(id, 'Deposit', { amount: 1 }), headers);
    }
    const state = await clients[1]!.getState(
      { aggregate_type: 'account', aggregate_id: 'acc-1' },
      headers,
    );
    expect(JSON.parse(state.state_json as string)).toMatchObject({ balance: 1011 });
  });

  // Last: it adds a fourth node to the shared cluster.
  it('nodes add + rebalance --apply: about 1/N of the tenants move to the new node, each verified, under load', async () => {
    const tenants = Array.from({ length: 60 }, (_, i) => Tenant.parse(`spread-${i}`));
    for (const [i, tenant] of tenants.entries()) {
      await clients[i % 2]!.submit(command('acc', 'Open', { owner: 'e2e' }), {
        'x-tenant-id': tenant,
      });
    }
    const added = await placementctl(cluster, '--json', 'nodes', 'add', 'node-d');
    expect(added.code, added.err).toBe(EXIT.OK);
    const frozen = (JSON.parse(added.out) as { frozen: number }).frozen;
    await cluster.startNode('node-d');
    // Joining moved nobody: the plan is exactly the frozen tenants, onto node-d.
    const plan = JSON.parse((await placementctl(cluster, '--json', 'rebalance', '--plan')).out) as {
      moves: Array<{ tenant: string; to: string }>;
    };
    expect(plan.moves).toHaveLength(frozen);
    expect(plan.moves.every((m) => m.to === 'node-d')).toBe(true);
    // Other tests' tenants live here too: the share is counted on this test's 60.
    const spread = new Set<string>(tenants);
    const share = plan.moves.filter((m) => spread.has(m.tenant)).length / tenants.length;
    expect(share).toBeGreaterThan(0.1);
    expect(share).toBeLessThan(0.45);

    // Light traffic on every tenant while they move.
    const failures: string[] = [];
    let running = true;
    const traffic = Array.from({ length: 4 }, async (_, loop) => {
      for (let i = loop; running; i += 4) {
        const tenant = tenants[i % tenants.length] as TenantId;
        await clients[i % 2]!.submit(command('acc', 'Deposit', { amount: 1 }), {
          'x-tenant-id': tenant,
        }).catch(async (error: Error) => {
          failures.push(`${tenant}: ${error.message}`);
          await yieldToEventLoop();
        });
      }
    });
    const applied = await placementctl(
      cluster,
      '--json',
      'rebalance',
      '--apply',
      '--concurrency',
      '3',
    );
    running = false;
    await Promise.all(traffic);
    expect(applied.code, applied.err + applied.out).toBe(EXIT.OK);
    const outcome = JSON.parse(applied.out) as {
      results: MigrationResult[];
      moved: number;
      unpinned: number;
      complete: boolean;
      holdMs: { p99: number };
    };
    expect(outcome).toMatchObject({ moved: frozen, unpinned: frozen, complete: true });
    expect(failures).toEqual([]);
    // Each source released its tenant (a placement read that never answered once held a release 5 s).
    expect(outcome.results.flatMap((r) => r.warnings)).toEqual([]);

    // Every tenant is where the ring over four nodes puts it, without pins.
    const placement = await loadPlacement();
    expect(tenants.filter((t) => placement.pins.has(t))).toEqual([]);
    const onD = tenants.filter((t) => resolveOwner(placement, t) === 'node-d');
    expect(onD.map(String).sort()).toEqual(
      plan.moves
        .map((m) => m.tenant)
        .filter((t) => spread.has(t))
        .sort(),
    );
    expect(
      (
        JSON.parse((await placementctl(cluster, '--json', 'rebalance', '--plan')).out) as {
          moves: unknown[];
        }
      ).moves,
    ).toEqual([]);
    process.stdout.write(
      `rebalance: ${onD.length} of ${tenants.length} tenants (and ${frozen - onD.length} other) moved to node-d under load, 0 failed commands, hold p99 ${outcome.holdMs.p99.toFixed(0)} ms; ` +
        `source release p99 ${quantile(
          outcome.results.map((r) => r.releaseMs ?? 0),
          0.99,
        ).toFixed(0)} ms; warnings ${JSON.stringify(outcome.results.flatMap((r) => r.warnings))}\n`,
    );
  });
});
