import { NotFoundError, TenantId as Tenant } from '@tenantfold/core';
import type { MovePlan } from '@tenantfold/nats';
import { movesIfNodeAdded, movesIfNodeRemoved, ringDistribution } from '@tenantfold/nats';
import { loadView } from '../../cluster/view.js';
import { parseInteger, parseNodeId } from '../arguments.js';
import { percent, table } from '../output.js';
import type { CommandSet } from '../commandSet.js';

interface RingOptions {
  add?: string;
  weight?: number;
  remove?: string;
  list?: boolean;
}

/** `ring`: the distribution, and what a node joining or leaving would move. */
export function ringCommand({ program, context, run }: CommandSet): void {
  program
    .command('ring')
    .description('tenants per node, and what would move if a node were added or removed')
    .option('--add <id>', 'what if this node joined (active)', parseNodeId)
    .option('--weight <n>', 'weight of the --add node', parseInteger('weight', 1, 100))
    .option('--remove <id>', 'what if this node left', parseNodeId)
    .option('--list', 'list every tenant that would move')
    .addHelpText(
      'after',
      '\nExamples:\n  placementctl ring\n  placementctl ring --add node-d\n  placementctl ring --remove node-b --list',
    )
    .action(
      run(async (options: RingOptions) => {
        const view = await loadView(await context.cluster());
        const tenants = [...view.tenants.keys()];
        const { counts, unassigned } = ringDistribution(view.placement, tenants);
        if (options.remove !== undefined && !view.placement.nodes.has(options.remove)) {
          throw new NotFoundError(`node '${options.remove}' is not registered`);
        }
        const whatIf: Array<{ change: string; plan: MovePlan }> = [];
        if (options.add !== undefined) {
          const node = {
            id: options.add,
            ...(options.weight === undefined ? {} : { weight: options.weight }),
          };
          whatIf.push({
            change: `add ${options.add}`,
            plan: movesIfNodeAdded(view.placement, node, tenants),
          });
        }
        if (options.remove !== undefined) {
          whatIf.push({
            change: `remove ${options.remove}`,
            plan: movesIfNodeRemoved(view.placement, options.remove, tenants),
          });
        }
        const total = tenants.length;
        const data = {
          vnodes: view.placement.ring.vnodes,
          tenants: total,
          unassigned,
          nodes: [...counts].map(([id, n]) => ({
            id,
            tenants: n,
            share: total === 0 ? 0 : n / total,
          })),
          whatIf: whatIf.map(({ change, plan }) => ({
            change,
            moves: plan.moves.length,
            fraction: plan.fraction,
            tenants: plan.moves.map((m) => ({
              tenant: m.tenant,
              from: m.from ?? null,
              to: m.to ?? null,
            })),
          })),
        };
        context.print(data, () => {
          const head = `${total} tenants over ${counts.size} active node(s), ${data.vnodes} vnodes per weight unit${unassigned > 0 ? `; ${unassigned} without an owner` : ''}\n`;
          const dist = table(
            ['NODE', 'TENANTS', 'SHARE'],
            data.nodes.map((n) => [n.id, String(n.tenants), percent(n.tenants, total)]),
          );
          const ifs = data.whatIf.map(
            (w) =>
              `\nif ${w.change}: ${w.moves} of ${total} tenants move (${percent(w.moves, total)})\n` +
              (options.list === true && w.tenants.length > 0
                ? table(
                    ['TENANT', 'FROM', 'TO'],
                    w.tenants.map((m) => [Tenant.token(m.tenant), m.from ?? '-', m.to ?? '-']),
                  )
                : ''),
          );
          return head + dist + ifs.join('');
        });
      }),
    );
}
