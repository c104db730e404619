import { NotFoundError, TenantId as Tenant, ValidationError } from '@tenantfold/core';
import { movesIfNodeAdded, tenantRing } from '@tenantfold/nats';
import { loadView, nodeSummaries, tenantsByOwner } from '../../cluster/view.js';
import { parseInteger, parseNodeId } from '../arguments.js';
import { ago, table } from '../output.js';
import type { CommandSet } from '../commandSet.js';

interface AddOptions {
  grpc?: string;
  admin?: string;
  range?: string;
  weight?: number;
}

/** `nodes list|add|remove|drain`. */
export function nodeCommands({ program, context, run }: CommandSet): void {
  const nodes = program.command('nodes').description('aggregate nodes in placement');

  nodes
    .command('list')
    .description('every node with status, range, weight, heartbeat and tenants owned')
    .addHelpText('after', '\nExample:\n  placementctl nodes list --json')
    .action(
      run(async () => {
        const view = await loadView(await context.cluster());
        const list = nodeSummaries(view);
        context.print(list, () =>
          list.length === 0
            ? 'no nodes registered\n'
            : table(
                ['NODE', 'STATUS', 'RANGE', 'WEIGHT', 'TENANTS', 'HEARTBEAT', 'GRPC', 'ADMIN'],
                list.map((n) => [
                  n.id,
                  n.status,
                  n.tenantRange,
                  String(n.weight),
                  String(n.tenants),
                  ago(n.heartbeatAt),
                  n.grpcAddress,
                  n.adminAddress,
                ]),
              ),
        );
      }),
    );

  nodes
    .command('add')
    .description(
      'prepare a node joining: pin the tenants it would take to their current owners (frozen), and register it if addresses are given; `rebalance --apply` then moves each, verified',
    )
    .argument('<id>', 'node id (A-Z a-z 0-9 _ -)', parseNodeId)
    .option(
      '--grpc <host:port>',
      'where routers reach its gRPC (else the node registers itself when it starts)',
    )
    .option('--admin <host:port>', 'its admin HTTP address')
    .option('--range <label>', 'its Swarm tenant_range label')
    .option('--weight <n>', 'share of the ring (1-100)', parseInteger('weight', 1, 100))
    .addHelpText(
      'after',
      '\nRun it before the node starts: a node that registers itself joins the ring at once.\n\nExample:\n  placementctl nodes add node-d\n  (start node-d)\n  placementctl rebalance --apply',
    )
    .action(
      run(async (id: string, options: AddOptions) => {
        const cluster = await context.cluster();
        const view = await loadView(cluster);
        const existing = view.placement.nodes.get(id);
        if (existing !== undefined && existing.status !== 'down') {
          throw new ValidationError(
            `node '${id}' is already registered (${existing.status}): to move tenants onto it run \`placementctl rebalance --apply\``,
            'id',
          );
        }
        const given = [options.grpc, options.admin, options.range].filter((o) => o !== undefined);
        if (given.length !== 0 && given.length !== 3) {
          throw new ValidationError('give all of --grpc, --admin and --range, or none', 'grpc');
        }
        const weight = options.weight ?? 1;
        const { moves } = movesIfNodeAdded(view.placement, { id, weight }, view.tenants.keys());
        for (const move of moves) {
          if (move.from === undefined) continue;
          await cluster.placement.pin(move.tenant, move.from);
          await cluster.frozen.mark(move.tenant, move.from);
        }
        if (
          options.grpc !== undefined &&
          options.admin !== undefined &&
          options.range !== undefined
        ) {
          await cluster.placement.registerNode(
            {
              id,
              grpcAddress: options.grpc,
              adminAddress: options.admin,
              tenantRange: options.range,
              weight,
            },
            { expectedRevision: existing?.revision ?? 0 },
          );
        }
        const registered = given.length === 3;
        context.print({ id, registered, frozen: moves.length }, () =>
          [
            `${moves.length} tenant(s) that node ${id} will take are pinned to their current owners\n`,
            registered
              ? `node ${id} registered (active)\n`
              : `start node ${id}: it registers itself\n`,
            'next: `placementctl rebalance --plan`, then `placementctl rebalance --apply`\n',
          ].join(''),
        );
      }),
    );

  nodes
    .command('remove')
    .description('delete a node record; refused while it owns tenants (drain and rebalance first)')
    .argument('<id>', 'node id', parseNodeId)
    .option('--force', 'remove even if it owns tenants (they fall to the ring without a drain)')
    .addHelpText(
      'after',
      '\nExample:\n  placementctl nodes drain node-c && placementctl rebalance --apply && placementctl nodes remove node-c',
    )
    .action(
      run(async (id: string, options: { force?: boolean }) => {
        const cluster = await context.cluster();
        const view = await loadView(cluster);
        const node = view.placement.nodes.get(id);
        if (node === undefined) throw new NotFoundError(`node '${id}' is not registered`);
        const owned = tenantsByOwner(view).get(id) ?? [];
        if (owned.length > 0 && options.force !== true) {
          throw new ValidationError(
            `node '${id}' owns ${owned.length} tenant(s): run \`placementctl nodes drain ${id}\` and \`placementctl rebalance --apply\` first, or add --force`,
            'id',
          );
        }
        await cluster.placement.removeNode(id, { expectedRevision: node.revision });
        context.print(
          { id, removed: true, tenantsMovedUnverified: owned.length },
          () => `node ${id} removed\n`,
        );
      }),
    );

  nodes
    .command('drain')
    .description(
      'take a node out of the ring: its tenants stay on it (pinned) until `rebalance --apply` moves each, verified',
    )
    .argument('<id>', 'node id', parseNodeId)
    .addHelpText(
      'after',
      '\nExample:\n  placementctl nodes drain node-c\n  placementctl rebalance --apply',
    )
    .action(
      run(async (id: string) => {
        const cluster = await context.cluster();
        const view = await loadView(cluster);
        const node = view.placement.nodes.get(id);
        if (node === undefined) throw new NotFoundError(`node '${id}' is not registered`);
        if (node.status !== 'active') {
          throw new ValidationError(`node '${id}' is ${node.status}, not active`, 'id');
        }
        // Pin what the ring gives it first, so leaving the ring moves nothing by itself.
        const ring = tenantRing(view.placement);
        let pinned = 0;
        for (const tenant of tenantsByOwner(view).get(id) ?? []) {
          if (view.placement.pins.has(tenant) || ring.ownerOf(Tenant.token(tenant)) !== id)
            continue;
          await cluster.placement.pin(tenant, id);
          await cluster.frozen.mark(tenant, id);
          pinned++;
        }
        await cluster.placement.setNodeStatus(id, 'draining', { expectedRevision: node.revision });
        context.print(
          { id, status: 'draining', pinned },
          () =>
            `node ${id} draining; ${pinned} ring tenant(s) pinned to it until moved\nnext: \`placementctl rebalance --apply\` (it marks the emptied node down)\n`,
        );
      }),
    );
}
