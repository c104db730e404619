import { SingleBar } from 'cli-progress';
import type { TenantId } from '@tenantfold/core';
import { TenantId as Tenant, ValidationError } from '@tenantfold/core';
import { loadView } from '../../cluster/view.js';
import type { MigrationResult, PhaseEvent } from '../../migration/types.js';
import { applyRebalance } from '../../rebalance/apply.js';
import { planRebalance } from '../../rebalance/plan.js';
import { parseInteger, parseNodeId } from '../arguments.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../exitCodes.js';
import { ms, percent, table } from '../output.js';
import type { CommandSet } from '../commandSet.js';

interface RebalanceFlags {
  plan?: boolean;
  apply?: boolean;
  concurrency?: number;
}

/** `migrate` and `rebalance`. */
export function migrationCommands({ program, context, run }: CommandSet): void {
  program
    .command('migrate')
    .description(
      'move a tenant to another node, verified: warm the target, drain the source, compare positions and state hashes, swap; any failure rolls back',
    )
    .argument('<tenant>', "tenant id ('' for the default tenant)")
    .option('--to <node>', 'the target node', parseNodeId)
    .option(
      '--recover',
      'settle a migration whose controller died (rolls back, or finishes a swap)',
    )
    .addHelpText(
      'after',
      "\nNeeds PLACEMENTCTL_ADMIN_TOKEN (the nodes' admin token). Exit code 1 when rolled back.\n\nExamples:\n  placementctl migrate acme-corp --to node-b\n  placementctl migrate acme-corp --recover",
    )
    .action(
      run(async (raw: string, options: { to?: string; recover?: boolean }) => {
        const tenant = Tenant.parse(raw === "''" ? '' : raw, 'tenant');
        if ((options.to === undefined) === (options.recover !== true)) {
          throw new ValidationError('give either --to <node> or --recover', 'to');
        }
        const migrator = await context.migrator();
        const onPhase = context.json ? undefined : phasePrinter(context);
        if (options.recover === true) {
          const result = await migrator.recover(tenant, { onPhase });
          if (result === undefined) {
            context.print(
              { tenant, recovered: false },
              () => `tenant ${Tenant.token(tenant)} has no unfinished migration\n`,
            );
            return;
          }
          printResult(context, result);
          return result.outcome === 'DONE' ? EXIT.OK : EXIT.FAILED;
        }
        const result = await migrator.migrate(tenant, options.to as string, { onPhase });
        printResult(context, result);
        return result.outcome === 'DONE' ? EXIT.OK : EXIT.FAILED;
      }),
    );

  program
    .command('rebalance')
    .description(
      'the fewest moves that bring every tenant to its ring owner (frozen tenants onto new nodes, draining nodes emptied, operator pins kept); --apply migrates each, verified',
    )
    .option('--plan', 'show the moves (the default)')
    .option('--apply', 'run the moves, then mark emptied draining nodes down')
    .option('--concurrency <n>', 'migrations at once', parseInteger('concurrency', 1, 64), 2)
    .addHelpText(
      'after',
      '\nExamples:\n  placementctl nodes add node-d   (then start node-d)\n  placementctl rebalance --plan\n  placementctl rebalance --apply',
    )
    .action(
      run(async (options: RebalanceFlags) => {
        if (options.plan === true && options.apply === true) {
          throw new ValidationError('give --plan or --apply, not both', 'apply');
        }
        const cluster = await context.cluster();
        const view = await loadView(cluster);
        const plan = planRebalance(
          view.placement,
          view.tenants.keys(),
          await cluster.frozen.list(),
        );
        const planJson = {
          total: plan.total,
          leaving: plan.leaving,
          unowned: plan.unowned,
          moves: plan.moves,
        };
        if (options.apply !== true) {
          context.print(planJson, () => describePlan(planJson));
          return;
        }
        const migrator = await context.migrator();
        const bar = progressBar(context, plan.moves.length);
        const outcome = await applyRebalance(plan, migrator, cluster, {
          concurrency: options.concurrency ?? 2,
          logger: context.logger(),
          onMove: (move, result) => {
            bar?.increment();
            if (bar === undefined && !context.json) {
              const what =
                result instanceof Error
                  ? `FAILED: ${result.message}`
                  : result.outcome === 'DONE'
                    ? `done (hold ${ms(result.holdMs)})`
                    : `ROLLED BACK: ${result.reason ?? ''}`;
              context.io.err(`${Tenant.token(move.tenant)}: ${move.from} → ${move.to} ${what}\n`);
            }
          },
        });
        bar?.stop();
        const holds = outcome.results
          .flatMap((r) => (r.holdMs === undefined ? [] : [r.holdMs]))
          .sort((a, b) => a - b);
        const summary = {
          ...planJson,
          moved: outcome.results.filter((r) => r.outcome === 'DONE').length,
          rolledBack: outcome.results
            .filter((r) => r.outcome === 'ROLLED_BACK')
            .map((r) => ({ tenant: r.tenant, reason: r.reason })),
          errors: outcome.errors.map((e) => ({ tenant: e.move.tenant, message: e.message })),
          retired: outcome.retired,
          unpinned: outcome.unpinned,
          holdMs: {
            max: holds.at(-1) ?? null,
            p50: quantile(holds, 0.5),
            p99: quantile(holds, 0.99),
          },
          complete: outcome.complete,
          results: outcome.results,
        };
        context.print(summary, () =>
          [
            `moved ${summary.moved} of ${plan.moves.length} tenant(s) (${percent(plan.moves.length, plan.total)} of ${plan.total})`,
            `; hold p50 ${ms(summary.holdMs.p50 ?? undefined)}, p99 ${ms(summary.holdMs.p99 ?? undefined)}\n`,
            ...summary.rolledBack.map(
              (r) => `rolled back ${Tenant.token(r.tenant as TenantId)}: ${r.reason ?? ''}\n`,
            ),
            ...summary.errors.map((e) => `not started ${Tenant.token(e.tenant)}: ${e.message}\n`),
            summary.retired.length > 0
              ? `now down (empty; \`placementctl nodes remove <id>\` to forget): ${summary.retired.join(', ')}\n`
              : '',
            summary.complete
              ? ''
              : 'INCOMPLETE: fix the cause above and run `placementctl rebalance --apply` again\n',
          ].join(''),
        );
        return outcome.complete ? EXIT.OK : EXIT.FAILED;
      }),
    );
}

function describePlan(plan: {
  total: number;
  leaving: readonly string[];
  unowned: readonly TenantId[];
  moves: ReadonlyArray<{ tenant: TenantId; from: string; to: string }>;
}): string {
  const head = [
    plan.leaving.length > 0 ? `leaving: ${plan.leaving.join(', ')}\n` : '',
    plan.unowned.length > 0
      ? `${plan.unowned.length} tenant(s) have no owner (no active node)\n`
      : '',
    `${plan.moves.length} of ${plan.total} tenant(s) move (${percent(plan.moves.length, plan.total)})\n`,
  ].join('');
  if (plan.moves.length === 0) return head;
  return `${head}${table(
    ['TENANT', 'FROM', 'TO'],
    plan.moves.map((m) => [Tenant.token(m.tenant), m.from, m.to]),
  )}next: \`placementctl rebalance --apply\`\n`;
}

function phasePrinter(context: CliContext): (event: PhaseEvent) => void {
  return (event) => context.io.err(`  ${event.phase.padEnd(11)} +${ms(event.elapsedMs)}\n`);
}

function printResult(context: CliContext, result: MigrationResult): void {
  context.print(result, () => {
    const head =
      result.outcome === 'DONE'
        ? `migrated ${Tenant.token(result.tenant as TenantId)}: ${result.from} → ${result.to} (epoch ${result.epoch}${result.aggregates === undefined ? '' : `, ${result.aggregates} aggregates`})\n`
        : `migration of ${Tenant.token(result.tenant as TenantId)} ROLLED BACK to ${result.from} (epoch ${result.epoch}): ${result.reason ?? ''}\n`;
    const phases = table(
      ['PHASE', 'TIME'],
      result.phases.map((p) => [p.phase, ms(p.ms)]),
    );
    const release =
      result.releaseMs === undefined ? '' : `, source released in ${ms(result.releaseMs)}`;
    const tail = `commands held: ${ms(result.holdMs)} (DRAINING → ${result.outcome})${release}; total ${ms(result.totalMs)}\n`;
    return head + phases + tail + result.warnings.map((w) => `warning: ${w}\n`).join('');
  });
}

function progressBar(context: CliContext, total: number): SingleBar | undefined {
  if (context.json || !context.io.interactive || total === 0) return undefined;
  const bar = new SingleBar({
    format: 'rebalance [{bar}] {value}/{total} tenants | {duration_formatted}',
    hideCursor: true,
  });
  bar.start(total, 0);
  return bar;
}

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? null;
}
