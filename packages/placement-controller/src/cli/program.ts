import { Command, CommanderError } from 'commander';
import { isTenantfoldError } from '@tenantfold/core';
import type { ActionResult, CommandSet } from './commandSet.js';
import { clusterCommands } from './commands/cluster.js';
import { fileCommands } from './commands/file.js';
import { migrationCommands } from './commands/migrate.js';
import { nodeCommands } from './commands/nodes.js';
import { ringCommand } from './commands/ring.js';
import { serveCommand } from './commands/serve.js';
import { swarmCommands } from './commands/swarm.js';
import { tenantCommands } from './commands/tenants.js';
import { CliContext } from './context.js';
import { EXIT, exitCodeFor, hintFor } from './exitCodes.js';
import type { CliIo } from './output.js';

const EXIT_CODES_HELP = `
Exit codes:
  0  done
  1  the work ran and did not succeed (migration rolled back, rebalance incomplete)
  2  bad arguments, flags or PLACEMENTCTL_* settings (nothing changed)
  3  not found: node, tenant, bucket or stream (run \`placementctl init\` first?)
  4  conflict: placement changed concurrently, or a migration is in flight
  5  unavailable: NATS or a node could not be reached

Environment: PLACEMENTCTL_NATS_URL, PLACEMENTCTL_ADMIN_TOKEN, PLACEMENTCTL_* (see the README).`;

/**
 * Runs placementctl with `argv` (the arguments after the program name) and
 * resolves with the exit code; never exits the process.
 */
export async function runPlacementctl(argv: readonly string[], io: CliIo): Promise<number> {
  const program = new Command('placementctl');
  const context = new CliContext(io, program);
  let code: number = EXIT.OK;
  // Commands report through this: commander's action handlers cannot return values.
  const run =
    <A extends unknown[]>(action: (...args: A) => Promise<ActionResult>) =>
    async (...args: A): Promise<void> => {
      code = (await action(...args)) ?? EXIT.OK;
    };
  program
    .description(
      'tenantfold placement: nodes, tenants, the hash ring, Swarm config, verified tenant migration',
    )
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(add --help for usage)')
    .option('--nats <urls>', 'NATS server URL(s), comma-separated (PLACEMENTCTL_NATS_URL)')
    .option('--bucket <name>', 'placement KV bucket (PLACEMENTCTL_PLACEMENT_BUCKET)')
    .option('--stream <name>', 'commit stream (PLACEMENTCTL_STREAM)')
    .option(
      '--subject-prefix <prefix>',
      'subject prefix of the deployment (PLACEMENTCTL_SUBJECT_PREFIX)',
    )
    .option('--json', 'print results as JSON (for scripts)')
    .addHelpText('after', EXIT_CODES_HELP);
  const commands: CommandSet = { program, context, run };
  clusterCommands(commands);
  nodeCommands(commands);
  tenantCommands(commands);
  ringCommand(commands);
  swarmCommands(commands);
  fileCommands(commands);
  migrationCommands(commands);
  serveCommand(commands);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    reportError(context, error);
    return exitCodeFor(error);
  } finally {
    await context.close();
  }
}

function reportError(context: CliContext, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  const hint = hintFor(error);
  if (context.json) {
    const body = isTenantfoldError(error) ? error.toJSON() : { code: 'INTERNAL', message };
    context.io.err(
      `${JSON.stringify({ error: { ...body, ...(hint === undefined ? {} : { hint }) } })}\n`,
    );
    return;
  }
  context.io.err(`placementctl: ${message}\n${hint === undefined ? '' : `hint: ${hint}\n`}`);
  if (!isTenantfoldError(error) && error instanceof Error && error.stack !== undefined) {
    context.io.err(`${error.stack}\n`);
  }
}
