import { writeFile } from 'node:fs/promises';
import { constraintsScript, swarmConstraints } from '../../swarm/constraints.js';
import { swarmStack } from '../../swarm/stack.js';
import { collectPairs } from '../arguments.js';
import type { CommandSet } from '../commandSet.js';

interface StackFlags {
  image: string;
  natsUrl?: string;
  manifest?: string;
  output?: string;
}

/** `constraints` and `stack`: Swarm configuration from the current nodes. */
export function swarmCommands({ program, context, run }: CommandSet): void {
  program
    .command('constraints')
    .description(
      'the Swarm --constraint lines and `docker node update --label-add` commands for each tenant_range',
    )
    .option(
      '--swarm-node <range=node>',
      'the Swarm node (hostname or id) that runs a range; repeatable',
      collectPairs('--swarm-node'),
    )
    .addHelpText(
      'after',
      '\nExample:\n  placementctl constraints --swarm-node a=worker-1 --swarm-node b=worker-2',
    )
    .action(
      run(async (options: { swarmNode?: Map<string, string> }) => {
        const placement = await (await context.cluster()).loadPlacement();
        const constraints = swarmConstraints(placement, options.swarmNode);
        context.print(constraints, () =>
          constraints.length === 0
            ? 'no nodes that are up: nothing to place\n'
            : constraintsScript(constraints),
        );
      }),
    );

  program
    .command('stack')
    .description('a Swarm stack file: one aggregate-node service per tenant_range, host network')
    .requiredOption(
      '--image <ref>',
      'aggregate-node image; an id (sha256:…) keeps Swarm from pulling it',
    )
    .option('--nats-url <url>', 'NATS URL inside the stack', 'nats://127.0.0.1:4222')
    .option('--manifest <path>', 'aggregates.yaml path inside the image', '/app/aggregates.yaml')
    .option('-o, --output <file>', 'write the stack here instead of stdout')
    .addHelpText(
      'after',
      '\nExample:\n  placementctl stack --image sha256:3f1c… -o stack.yml\n  TENANTFOLD_ADMIN_TOKEN=… docker stack deploy -c stack.yml tenantfold',
    )
    .action(
      run(async (options: StackFlags) => {
        const placement = await (await context.cluster()).loadPlacement();
        const yaml = swarmStack(placement, {
          image: options.image,
          ...(options.natsUrl === undefined ? {} : { natsUrl: options.natsUrl }),
          ...(options.manifest === undefined ? {} : { manifestPath: options.manifest }),
        });
        if (options.output === undefined) {
          context.print({ stack: yaml }, () => yaml);
          return;
        }
        await writeFile(options.output, yaml);
        context.print({ written: options.output }, () => `stack written to ${options.output}\n`);
      }),
    );
}
