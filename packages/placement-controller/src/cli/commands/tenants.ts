import type { TenantId } from '@tenantfold/core';
import { NotFoundError, TenantId as Tenant, ValidationError } from '@tenantfold/core';
import { resolveOwner, tenantRing } from '@tenantfold/nats';
import type { ClusterView } from '../../cluster/view.js';
import { loadView } from '../../cluster/view.js';
import { parseNodeId } from '../arguments.js';
import { table } from '../output.js';
import type { CommandSet } from '../commandSet.js';

/** Where a tenant is and why. */
function whereIs(view: ClusterView, tenant: TenantId) {
  const pin = view.placement.pins.get(tenant);
  const migration = view.placement.migrations.get(tenant);
  const owner = resolveOwner(view.placement, tenant);
  return {
    tenant,
    owner: owner ?? null,
    via: owner === undefined ? 'none' : pin?.nodeId === owner ? 'pin' : 'ring',
    pin: pin?.nodeId ?? null,
    ringOwner: tenantRing(view.placement).ownerOf(Tenant.token(tenant)) ?? null,
    aggregates: view.tenants.get(tenant) ?? 0,
    migration:
      migration === undefined
        ? null
        : {
            phase: migration.phase,
            from: migration.from,
            to: migration.to,
            epoch: migration.epoch,
            reason: migration.reason ?? null,
          },
  };
}

/** The default tenant is written `''` on the command line. */
function tenantArgument(raw: string): TenantId {
  return Tenant.parse(raw === "''" ? '' : raw, 'tenant');
}

/** `tenants where|pin|unpin|list`. */
export function tenantCommands({ program, context, run }: CommandSet): void {
  const tenants = program.command('tenants').description('tenant ownership and pins');

  tenants
    .command('list')
    .description('every known tenant (in storage, pinned or migrating) with its owner')
    .option('--node <id>', 'only tenants owned by this node', parseNodeId)
    .addHelpText('after', '\nExample:\n  placementctl tenants list --node node-a')
    .action(
      run(async (options: { node?: string }) => {
        const view = await loadView(await context.cluster());
        const list = [...view.tenants.keys()]
          .map((t) => whereIs(view, t))
          .filter((t) => options.node === undefined || t.owner === options.node);
        context.print(list, () =>
          list.length === 0
            ? 'no tenants\n'
            : table(
                ['TENANT', 'OWNER', 'VIA', 'AGGREGATES', 'MIGRATION'],
                list.map((t) => [
                  Tenant.token(t.tenant),
                  t.owner ?? '(none)',
                  t.via,
                  String(t.aggregates),
                  t.migration === null
                    ? ''
                    : `${t.migration.phase} ${t.migration.from}→${t.migration.to}`,
                ]),
              ),
        );
      }),
    );

  tenants
    .command('where')
    .description('the node that owns a tenant, and whether by pin or by the ring')
    .argument('<tenant>', "tenant id ('' for the default tenant)", tenantArgument)
    .addHelpText('after', '\nExample:\n  placementctl tenants where acme-corp')
    .action(
      run(async (tenant: TenantId) => {
        const where = whereIs(await loadView(await context.cluster()), tenant);
        context.print(where, () => {
          const owner =
            where.owner === null ? 'no node (no active node?)' : `${where.owner} (by ${where.via})`;
          const migration =
            where.migration === null
              ? ''
              : `last migration: ${where.migration.phase} ${where.migration.from} → ${where.migration.to}, epoch ${where.migration.epoch}${where.migration.reason === null ? '' : ` (${where.migration.reason})`}\n`;
          return `tenant ${Tenant.token(tenant)}: ${owner}; ${where.aggregates} aggregate(s)\n${migration}`;
        });
      }),
    );

  tenants
    .command('pin')
    .description(
      'pin a tenant to the node that owns it now (it then stays there when the ring changes)',
    )
    .argument('<tenant>', "tenant id ('' for the default tenant)", tenantArgument)
    .argument('<node>', 'node id', parseNodeId)
    .option(
      '--force',
      'pin to another node at once: the tenant moves WITHOUT a drain or verification',
    )
    .addHelpText(
      'after',
      '\nExample:\n  placementctl tenants pin acme-corp node-a\n  (to move a tenant with its data use `placementctl migrate acme-corp --to node-b`)',
    )
    .action(
      run(async (tenant: TenantId, node: string, options: { force?: boolean }) => {
        const cluster = await context.cluster();
        const placement = await cluster.loadPlacement();
        const target = placement.nodes.get(node);
        if (target === undefined) throw new NotFoundError(`node '${node}' is not registered`);
        if (target.status === 'down') throw new ValidationError(`node '${node}' is down`, 'node');
        const owner = resolveOwner(placement, tenant);
        if (owner !== undefined && owner !== node && options.force !== true) {
          throw new ValidationError(
            `tenant '${Tenant.token(tenant)}' is on node '${owner}': move it verified with \`placementctl migrate ${Tenant.token(tenant)} --to ${node}\`, or add --force to re-pin without a drain`,
            'node',
          );
        }
        const pin = placement.pins.get(tenant);
        if (pin?.nodeId === node) {
          await cluster.frozen.clear(tenant); // the operator's pin now, which rebalance keeps
          context.print(
            { tenant, node, changed: false },
            () => `tenant already pinned to ${node}\n`,
          );
          return;
        }
        await cluster.placement.pin(tenant, node, { expectedRevision: pin?.revision ?? 0 });
        await cluster.frozen.clear(tenant); // the operator's pin now, which rebalance keeps
        context.print(
          { tenant, node, changed: true },
          () => `tenant ${Tenant.token(tenant)} pinned to ${node}\n`,
        );
      }),
    );

  tenants
    .command('unpin')
    .description('remove a pin; refused when the ring would give the tenant to another node')
    .argument('<tenant>', "tenant id ('' for the default tenant)", tenantArgument)
    .option('--force', 'unpin even if the tenant then moves to its ring owner WITHOUT a drain')
    .addHelpText('after', '\nExample:\n  placementctl tenants unpin acme-corp')
    .action(
      run(async (tenant: TenantId, options: { force?: boolean }) => {
        const cluster = await context.cluster();
        const placement = await cluster.loadPlacement();
        const pin = placement.pins.get(tenant);
        if (pin === undefined)
          throw new NotFoundError(`tenant '${Tenant.token(tenant)}' is not pinned`);
        const owner = resolveOwner(placement, tenant);
        const ringOwner = tenantRing(placement).ownerOf(Tenant.token(tenant));
        if (owner !== ringOwner && options.force !== true) {
          throw new ValidationError(
            `unpinning moves tenant '${Tenant.token(tenant)}' from '${owner ?? 'nobody'}' to its ring owner '${ringOwner ?? 'nobody'}' without a drain: run \`placementctl migrate ${Tenant.token(tenant)} --to ${ringOwner ?? '<node>'}\` first, or add --force`,
            'tenant',
          );
        }
        await cluster.placement.unpin(tenant, { expectedRevision: pin.revision });
        await cluster.frozen.clear(tenant);
        context.print(
          { tenant, unpinned: true, owner: ringOwner ?? null },
          () => `tenant ${Tenant.token(tenant)} unpinned (owner: ${ringOwner ?? 'none'})\n`,
        );
      }),
    );
}
