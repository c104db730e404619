import { writeFile } from 'node:fs/promises';
import type { TenantId } from '@tenantfold/core';
import { TenantId as Tenant, ValidationError } from '@tenantfold/core';
import type { NodeRecord, Pin, Placement, Stored } from '@tenantfold/nats';
import { placementToYaml, readPlacementFile, resolveOwner } from '@tenantfold/nats';
import type { Cluster } from '../../cluster/cluster.js';
import { loadView } from '../../cluster/view.js';
import type { CommandSet } from '../commandSet.js';

interface ImportFlags {
  dryRun?: boolean;
  prune?: boolean;
  force?: boolean;
}

/** What an import changes, and the tenants whose owner it changes (moved without a drain). */
interface ImportPlan {
  readonly ring: { from: number; to: number } | null;
  readonly nodes: ReadonlyArray<{ id: string; change: 'add' | 'update' | 'remove' }>;
  readonly pins: ReadonlyArray<{ tenant: TenantId; from: string | null; to: string | null }>;
  readonly moves: ReadonlyArray<{ tenant: TenantId; from: string | null; to: string | null }>;
  /** The placement after the import, for the moves above. */
  readonly after: Placement;
}

/** `export` and `import`: placement as YAML (ring, nodes, pins). */
export function fileCommands({ program, context, run }: CommandSet): void {
  program
    .command('export')
    .description('write placement (ring, nodes, pins) as YAML')
    .option('-o, --output <file>', 'write here instead of stdout')
    .addHelpText('after', '\nExample:\n  placementctl export -o placement.yaml')
    .action(
      run(async (options: { output?: string }) => {
        const placement = await (await context.cluster()).loadPlacement();
        const yaml = placementToYaml(placement);
        if (options.output === undefined) {
          context.print({ placement: yaml }, () => yaml);
          return;
        }
        await writeFile(options.output, yaml);
        context.print(
          { written: options.output },
          () => `placement written to ${options.output}\n`,
        );
      }),
    );

  program
    .command('import')
    .description(
      'make placement match a YAML file (ring, nodes, pins); refused if tenants would move without a drain',
    )
    .argument('<file>', 'placement YAML, as `export` writes it')
    .option('--dry-run', 'show what would change, change nothing')
    .option('--prune', 'also remove nodes and pins the file does not list')
    .option(
      '--force',
      'apply even if tenants change owner (they move WITHOUT a drain or verification)',
    )
    .addHelpText(
      'after',
      '\nExample:\n  placementctl import placement.yaml --dry-run\n  placementctl import placement.yaml',
    )
    .action(
      run(async (path: string, options: ImportFlags) => {
        const file = await readPlacementFile(path);
        const cluster = await context.cluster();
        const view = await loadView(cluster);
        const tenants = new Set([...view.tenants.keys(), ...file.pins.keys()]);
        const plan = planImport(view.placement, file, tenants, options.prune === true);
        const summary = {
          ring: plan.ring,
          nodes: plan.nodes,
          pins: plan.pins,
          moves: plan.moves,
          applied: false,
        };
        const describe = () =>
          [
            plan.ring === null ? '' : `ring vnodes ${plan.ring.from} → ${plan.ring.to}\n`,
            ...plan.nodes.map((n) => `${n.change} node ${n.id}\n`),
            ...plan.pins.map(
              (p) => `pin ${Tenant.token(p.tenant)}: ${p.from ?? '-'} → ${p.to ?? '-'}\n`,
            ),
            plan.moves.length === 0
              ? 'no tenant changes owner\n'
              : `${plan.moves.length} tenant(s) change owner without a drain\n`,
          ].join('');
        if (options.dryRun === true) {
          context.print(summary, () => `dry run, nothing changed:\n${describe()}`);
          return;
        }
        if (plan.moves.length > 0 && options.force !== true) {
          throw new ValidationError(
            `importing would move ${plan.moves.length} tenant(s) without a drain (e.g. ${Tenant.token(plan.moves[0]?.tenant ?? Tenant.DEFAULT)}): see --dry-run, move them with \`placementctl migrate\` first, or add --force`,
            'file',
          );
        }
        await applyImport(cluster, view.placement, file, plan);
        context.print({ ...summary, applied: true }, () => `imported ${path}:\n${describe()}`);
      }),
    );
}

function planImport(
  current: Placement,
  file: Placement,
  tenants: ReadonlySet<TenantId>,
  prune: boolean,
): ImportPlan {
  const nodes = new Map<string, Stored<NodeRecord>>(prune ? [] : current.nodes);
  const nodeChanges: Array<{ id: string; change: 'add' | 'update' | 'remove' }> = [];
  for (const node of file.nodes.values()) {
    const before = current.nodes.get(node.id);
    // A node new to placement counts as just heard from, so `serve` gives it a heartbeat timeout to show up.
    const heartbeatAt = before?.heartbeatAt ?? new Date().toISOString();
    const kept = { ...node, heartbeatAt, revision: before?.revision ?? 0 };
    nodes.set(node.id, kept);
    if (before === undefined) nodeChanges.push({ id: node.id, change: 'add' });
    else if (!sameNode(before, node)) nodeChanges.push({ id: node.id, change: 'update' });
  }
  if (prune) {
    for (const id of current.nodes.keys())
      if (!file.nodes.has(id)) nodeChanges.push({ id, change: 'remove' });
  }
  const pins = new Map<TenantId, Stored<Pin>>(prune ? [] : current.pins);
  const pinChanges: Array<{ tenant: TenantId; from: string | null; to: string | null }> = [];
  for (const [tenant, pin] of file.pins) {
    const before = current.pins.get(tenant);
    pins.set(tenant, { nodeId: pin.nodeId, revision: before?.revision ?? 0 });
    if (before?.nodeId !== pin.nodeId)
      pinChanges.push({ tenant, from: before?.nodeId ?? null, to: pin.nodeId });
  }
  if (prune) {
    for (const [tenant, pin] of current.pins) {
      if (!file.pins.has(tenant)) pinChanges.push({ tenant, from: pin.nodeId, to: null });
    }
  }
  const ring =
    file.ring.vnodes === current.ring.vnodes
      ? null
      : { from: current.ring.vnodes, to: file.ring.vnodes };
  const after: Placement = Object.freeze({
    ...current,
    nodes,
    pins,
    ring: { vnodes: file.ring.vnodes, revision: current.ring.revision },
  });
  const moves = [...tenants]
    .map((tenant) => ({
      tenant,
      from: resolveOwner(current, tenant) ?? null,
      to: resolveOwner(after, tenant) ?? null,
    }))
    // A tenant nobody could serve before loses nothing by gaining an owner.
    .filter((m) => m.from !== null && m.from !== m.to);
  return { ring, nodes: nodeChanges, pins: pinChanges, moves, after };
}

function sameNode(a: NodeRecord, b: NodeRecord): boolean {
  return (
    a.grpcAddress === b.grpcAddress &&
    a.adminAddress === b.adminAddress &&
    a.tenantRange === b.tenantRange &&
    a.weight === b.weight &&
    a.status === b.status
  );
}

/** Nodes first (pins must name known nodes), then pins, the ring, and removals last. */
async function applyImport(
  cluster: Cluster,
  current: Placement,
  file: Placement,
  plan: ImportPlan,
): Promise<void> {
  const store = cluster.placement;
  for (const { id, change } of plan.nodes) {
    if (change === 'remove') continue;
    const node = plan.after.nodes.get(id) as Stored<NodeRecord>;
    await store.registerNode(node, { expectedRevision: current.nodes.get(id)?.revision ?? 0 });
  }
  for (const { tenant, to } of plan.pins) {
    const revision = current.pins.get(tenant)?.revision ?? 0;
    if (to === null) await store.unpin(tenant, { expectedRevision: revision });
    else await store.pin(tenant, to, { expectedRevision: revision });
  }
  if (plan.ring !== null) {
    await store.setRing(file.ring, { expectedRevision: current.ring.revision });
  }
  for (const { id, change } of plan.nodes) {
    if (change === 'remove')
      await store.removeNode(id, { expectedRevision: current.nodes.get(id)?.revision ?? 0 });
  }
}
