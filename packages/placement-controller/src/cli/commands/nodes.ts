import { NotFoundError, TenantId as Tenant, ValidationError } from '@tenantfold/core';
import type { NodeStatus } from '@tenantfold/nats';
import { tenantRing } from '@tenantfold/nats';
import { loadView, tenantsByOwner } from '../../cluster/view.js';
import { parseInteger, parseNodeId } from '../arguments.js';
import { ago, table } from '../output.js';
import type { CommandSet } from '../program.js';

interface AddOptions {
  grpc: string;
  admin: string;
  range: string;
  weight?: number;
  active?: boolean;
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
        const owners = tenantsByOwner(view);
        const list = [...view.placement.nodes.values()].map((n) => ({
          id: n.id,
          status: n.status,
          tenantRange: n.tenantRange,
          weight: n.weight,
          grpcAddress: n.grpcAddress,
          adminAddress: n.adminAddress,
          heartbeatAt: n.heartbeatAt,
          tenants: owners.get(n.id)?.length ?? 0,
        }));
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
      'register a node; it joins as `draining` (no tenants) until `rebalance --apply` moves its share to it, verified',
    )
    .argument('<id>', 'node id (A-Z a-z 0-9 _ -)', parseNodeId)
    .requiredOption('--grpc <host:port>', 'where routers reach its gRPC')
    .requiredOption('--admin <host:port>', 'its admin HTTP address')
    .requiredOption('--range <label>', 'its Swarm tenant_range label')
    .option('--weight <n>', 'share of the ring (1-100)', parseInteger('weight', 1, 100))
    .option(
      '--active',
      'join the ring at once: its share of tenants moves WITHOUT a drain or verification',
    )
    .addHelpText(
      'after',
      '\nExample:\n  placementctl nodes add node-d --grpc 10.0.0.4:50051 --admin 10.0.0.4:8081 --range d\n  placementctl rebalance --apply',
    )
    .action(
      run(async (id: string, options: AddOptions) => {
        const { placement } = await context.cluster();
        const status: NodeStatus = options.active === true ? 'active' : 'draining';
        const existing = await placement.getNode(id);
        if (existing !== undefined && existing.status !== 'down') {
          throw new ValidationError(
            `node '${id}' is already registered (${existing.status}): remove it first, or use \`placementctl rebalance\``,
            'id',
          );
        }
        const revision = await placement.registerNode(
          {
            id,
            grpcAddress: options.grpc,
            adminAddress: options.admin,
            tenantRange: options.range,
            weight: options.weight ?? 1,
            status,
          },
          { expectedRevision: existing?.revision ?? 0 },
        );
        context.print({ id, status, revision }, () =>
          status === 'active'
            ? `node ${id} added, active: its ring share moved to it without verification\n`
            : `node ${id} added (draining: no tenants yet)\nnext: \`placementctl rebalance --plan\`, then \`placementctl rebalance --apply\`\n`,
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
          pinned++;
        }
        // An empty draining node would read as joining to `rebalance`: with nothing to move it is done.
        const owned = (tenantsByOwner(view).get(id)?.length ?? 0) > 0;
        const status = owned ? 'draining' : 'down';
        await cluster.placement.setNodeStatus(id, status, { expectedRevision: node.revision });
        context.print({ id, status, pinned }, () =>
          owned
            ? `node ${id} draining; ${pinned} ring tenant(s) pinned to it until moved\nnext: \`placementctl rebalance --apply\`\n`
            : `node ${id} owns no tenants: marked down\nnext: \`placementctl nodes remove ${id}\`\n`,
        );
      }),
    );
}
