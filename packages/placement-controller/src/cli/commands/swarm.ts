import { writeFile } from 'node:fs/promises';
import { Option } from 'commander';
import { constraintsScript, swarmConstraints } from '../../swarm/constraints.js';
import type { RouterPublish, StackLayout, StackNetwork } from '../../swarm/layout.js';
import {
  PORT_NAMES,
  ROUTER_PUBLISH,
  STACK_NETWORKS,
  parseMachine,
  parseNodeMachine,
  parsePort,
} from '../../swarm/layout.js';
import { swarmStack } from '../../swarm/stack.js';
import { collectPairs, parseInteger } from '../arguments.js';
import type { CommandSet } from '../commandSet.js';

interface StackFlags {
  network: StackNetwork;
  node?: string[];
  natsMachine?: string;
  controllerMachine?: string;
  routerHost?: string;
  publish?: RouterPublish;
  port?: string[];
  nodeImage?: string;
  routerImage?: string;
  controllerImage?: string;
  natsImage?: string;
  manifest: string;
  adminSecret: string;
  replicas: number;
  logLevel: string;
  output?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

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
    .description(
      'a Swarm stack file for the whole platform (NATS, one service per node, routers, controller), each dialed service on its own address; needs no NATS',
    )
    .addOption(
      new Option('--network <mode>', 'host: machine addresses; overlay: service names')
        .choices(STACK_NETWORKS)
        .default('host'),
    )
    .option(
      '--node <id=range[@host]>',
      'an aggregate node, its machine tenant_range label and (host network) that machine address; repeatable',
      collect,
    )
    .option(
      '--nats-machine <range[@host]>',
      'the NATS server machine: tenant_range label and (host network) address',
    )
    .option(
      '--controller-machine <range[@host]>',
      'the controller machine (default: the NATS machine)',
    )
    .option(
      '--router-host <address>',
      'host network: the address routers bind on every machine (default 0.0.0.0)',
    )
    .addOption(
      new Option('--publish <mode>', 'overlay network: how routers are published').choices(
        ROUTER_PUBLISH,
      ),
    )
    .option(
      '--port <name=port>',
      `a port other than the default; names: ${PORT_NAMES.join(', ')}; repeatable`,
      collect,
    )
    .option('--node-image <ref>', 'aggregate-node image (default: ${NODE_IMAGE} at deploy)')
    .option('--router-image <ref>', 'router image (default: ${ROUTER_IMAGE} at deploy)')
    .option('--controller-image <ref>', 'controller image (default: ${CONTROLLER_IMAGE} at deploy)')
    .option('--nats-image <ref>', 'nats-server image (default: ${NATS_IMAGE} at deploy)')
    .option(
      '--manifest <path>',
      'aggregates.yaml path inside the node image',
      '/app/examples/bank-account/aggregates.yaml',
    )
    .option(
      '--admin-secret <name>',
      'external Swarm secret holding the admin token',
      'tenantfold_admin_token',
    )
    .option(
      '--replicas <n>',
      'JetStream replicas of streams and buckets',
      parseInteger('replicas', 1, 5),
      1,
    )
    .addOption(
      new Option('--log-level <level>', 'log level of every service')
        .choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
        .default('info'),
    )
    .option('-o, --output <file>', 'write the stack here instead of stdout')
    .addHelpText(
      'after',
      `
host: every service binds and advertises its own machine address (a router on any
machine dials each node where it runs); one port per service per machine; no
overlay or routing mesh needed. overlay: services reach each other by service name
on an overlay network; routers are published (routing mesh, or --publish host).
Image ids (sha256:…) keep Swarm from pulling.

Examples:
  placementctl stack --nats-machine range-a@10.0.0.11 --node node-1=range-a@10.0.0.11 \\
    --node node-2=range-b@10.0.0.12 --node node-3=range-c@10.0.0.13 -o stack.yml
  placementctl stack --network overlay --nats-machine range-a --node node-1=range-a \\
    --node node-2=range-b --node node-3=range-c -o stack.yml
  docker stack deploy --resolve-image never -c stack.yml tenantfold`,
    )
    .action(
      run(async (flags: StackFlags) => {
        const layout: StackLayout = {
          network: flags.network,
          nodes: (flags.node ?? []).map(parseNodeMachine),
          nats: flags.natsMachine === undefined ? [] : [parseMachine(flags.natsMachine)],
          ...(flags.controllerMachine === undefined
            ? {}
            : { controller: parseMachine(flags.controllerMachine) }),
          ...(flags.routerHost === undefined ? {} : { routerHost: flags.routerHost }),
          ...(flags.publish === undefined ? {} : { publish: flags.publish }),
          ports: Object.fromEntries((flags.port ?? []).map(parsePort)),
        };
        const yaml = swarmStack(layout, {
          images: {
            ...(flags.nodeImage === undefined ? {} : { node: flags.nodeImage }),
            ...(flags.routerImage === undefined ? {} : { router: flags.routerImage }),
            ...(flags.controllerImage === undefined ? {} : { controller: flags.controllerImage }),
            ...(flags.natsImage === undefined ? {} : { nats: flags.natsImage }),
          },
          manifestPath: flags.manifest,
          adminSecret: flags.adminSecret,
          replicas: flags.replicas,
          logLevel: flags.logLevel,
        });
        if (flags.output === undefined) {
          context.print({ stack: yaml }, () => yaml);
          return;
        }
        await writeFile(flags.output, yaml);
        context.print({ written: flags.output }, () => `stack written to ${flags.output}\n`);
      }),
    );
}
