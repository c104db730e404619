import { JETSTREAM_BACKEND_DEFAULTS as STORAGE, openJetStreamBackend } from '@tenantfold/nats';
import { FrozenPins } from '../../cluster/frozenPins.js';
import { NodeAdminClient } from '../../admin/nodeAdminClient.js';
import { connectCluster } from '../../cluster/cluster.js';
import { loadView, nodeSummaries, tenantsByOwner } from '../../cluster/view.js';
import { parseInteger } from '../arguments.js';
import { ago, table } from '../output.js';
import type { CommandSet } from '../commandSet.js';

const HEALTH_PROBE_MS = 1_000;

/** `init` and `status`. */
export function clusterCommands({ program, context, run }: CommandSet): void {
  program
    .command('init')
    .description('create the commit stream, the KV buckets and the placement bucket (idempotent)')
    .option(
      '--replicas <n>',
      'replicas of what is created (3 in a cluster; PLACEMENTCTL_REPLICAS)',
      parseInteger('replicas', 1, 5),
    )
    .option(
      '--vnodes <n>',
      'virtual nodes per unit of weight, written if the ring is not set yet',
      parseInteger('vnodes', 1, 1000),
    )
    .addHelpText(
      'after',
      '\nExample:\n  placementctl --nats nats://127.0.0.1:4222 init --replicas 1',
    )
    .action(
      run(async (options: { replicas?: number; vnodes?: number }) => {
        const config = context.config();
        const replicas = options.replicas ?? config.replicas;
        const backend = await openJetStreamBackend({
          servers: config.natsServers,
          streamName: config.streamName,
          subjectPrefix: config.subjectPrefix,
          replicas,
          requestTimeoutMs: config.requestTimeoutMs,
          connectionName: 'placementctl',
        });
        try {
          const cluster = await connectCluster(config, { create: true, replicas, nc: backend.nc });
          const ring = await cluster.placement.getRing();
          if (ring.revision === 0 && options.vnodes !== undefined) {
            await cluster.placement.setRing({ vnodes: options.vnodes });
          }
          const created = {
            stream: config.streamName,
            deadLetterStream: STORAGE.deadLetterStream,
            buckets: [
              STORAGE.snapshotBucket,
              STORAGE.checkpointBucket,
              config.placementBucket,
              FrozenPins.bucketFor(config.placementBucket),
            ],
            replicas,
            vnodes: (await cluster.placement.getRing()).vnodes,
          };
          context.print(
            created,
            () =>
              `ready: streams ${created.stream}, ${created.deadLetterStream}; buckets ${created.buckets.join(', ')} (replicas ${replicas}, ring vnodes ${created.vnodes})\n`,
          );
        } finally {
          await backend.close();
        }
      }),
    );

  program
    .command('status')
    .description('nodes with health and tenant counts, migrations in flight, unreadable entries')
    .addHelpText(
      'after',
      '\nExample:\n  placementctl status\n  placementctl status --json | jq .nodes',
    )
    .action(
      run(async () => {
        const view = await loadView(await context.cluster());
        const admin = new NodeAdminClient(context.config().adminToken);
        const owners = tenantsByOwner(view);
        const nodes = await Promise.all(
          nodeSummaries(view).map(async (node) => ({
            ...node,
            healthy: node.status !== 'down' && (await admin.healthy(node, HEALTH_PROBE_MS)),
          })),
        );
        const migrations = [...view.placement.migrations]
          .filter(([, m]) => m.phase !== 'DONE' && m.phase !== 'ROLLED_BACK')
          .map(([tenant, m]) => ({
            tenant,
            phase: m.phase,
            from: m.from,
            to: m.to,
            epoch: m.epoch,
            startedAt: m.startedAt,
          }));
        const status = {
          revision: view.placement.revision,
          vnodes: view.placement.ring.vnodes,
          tenants: view.tenants.size,
          unassigned: owners.get(undefined)?.length ?? 0,
          nodes,
          migrations,
          issues: view.placement.issues,
        };
        context.print(status, () => {
          const lines = [
            `placement revision ${status.revision}, ring vnodes ${status.vnodes}, ${status.tenants} tenants${status.unassigned > 0 ? `, ${status.unassigned} WITHOUT AN OWNER` : ''}\n\n`,
            nodes.length === 0
              ? 'no nodes: start aggregate nodes or run `placementctl nodes add`\n'
              : table(
                  ['NODE', 'STATUS', 'HEALTH', 'RANGE', 'WEIGHT', 'TENANTS', 'HEARTBEAT', 'GRPC'],
                  nodes.map((n) => [
                    n.id,
                    n.status,
                    n.healthy ? 'ok' : 'unreachable',
                    n.tenantRange,
                    String(n.weight),
                    String(n.tenants),
                    ago(n.heartbeatAt),
                    n.grpcAddress,
                  ]),
                ),
            migrations.length === 0
              ? '\nno migrations in flight\n'
              : `\nmigrations in flight:\n${table(
                  ['TENANT', 'PHASE', 'FROM', 'TO', 'EPOCH', 'STARTED'],
                  migrations.map((m) => [
                    m.tenant,
                    m.phase,
                    m.from,
                    m.to,
                    String(m.epoch),
                    ago(m.startedAt),
                  ]),
                )}`,
            ...status.issues.map(
              (i) => `unreadable entry ${i.key} (revision ${i.revision}): ${i.message}\n`,
            ),
          ];
          return lines.join('');
        });
      }),
    );
}
