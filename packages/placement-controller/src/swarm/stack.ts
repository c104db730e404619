import { stringify } from 'yaml';
import type { Machine, NodeMachine, ResolvedLayout, StackLayout } from './layout.js';
import { resolveLayout } from './layout.js';
import type { Networking } from './networking.js';
import { natsServiceName, networkingFor } from './networking.js';
import { rangeConstraint } from './ranges.js';

export interface StackImages {
  /**
   * Image of each service. An id (`sha256:…`) keeps Swarm from pulling at task
   * start. @default a `${NODE_IMAGE}`-style variable, read by `docker stack deploy`
   */
  readonly node?: string;
  readonly router?: string;
  readonly controller?: string;
  readonly nats?: string;
}

export interface StackOptions {
  readonly images?: StackImages;
  /** Path of aggregates.yaml inside the node image. @default '/app/examples/bank-account/aggregates.yaml' */
  readonly manifestPath?: string;
  /** Name of the external Swarm secret holding the admin token. @default 'tenantfold_admin_token' */
  readonly adminSecret?: string;
  /** JetStream replicas of streams and buckets (3 with a NATS cluster). @default 1 */
  readonly replicas?: number;
  /** Log level of nodes, routers and the controller. @default 'info' */
  readonly logLevel?: string;
}

const DEFAULT_MANIFEST = '/app/examples/bank-account/aggregates.yaml';
const DEFAULT_ADMIN_SECRET = 'tenantfold_admin_token';
const SECRET_PATH = '/run/secrets/admin_token';

const IMAGE_VARIABLES = {
  node: 'NODE_IMAGE',
  router: 'ROUTER_IMAGE',
  controller: 'CONTROLLER_IMAGE',
  nats: 'NATS_IMAGE',
} as const;

/**
 * The whole platform as a Swarm stack (compose 3.8): NATS, one aggregate-node
 * service per node (placed by its machine's `tenant_range` label), a router on
 * every machine and the controller. Every service that others dial gets the
 * address of where it runs: its machine's address on the host network, its
 * service name on the overlay. Deterministic: the same layout gives the same
 * file, so a redeploy with one node more touches nothing else.
 */
export function swarmStack(layout: StackLayout, options: StackOptions = {}): string {
  const resolved = resolveLayout(layout);
  const net = networkingFor(resolved);
  const natsUrl = resolved.nats
    .map((server, i) => `nats://${net.nats(server, i).advertiseHost}:${resolved.ports.nats}`)
    .join(',');
  const context: Context = { layout: resolved, net, natsUrl, options };
  const services: Record<string, unknown> = {};
  resolved.nats.forEach((server, i) => (services[natsServiceName(i)] = nats(context, server, i)));
  for (const node of resolved.nodes) services[node.id] = aggregateNode(context, node);
  services.router = router(context);
  services.controller = controller(context);
  return stringify(
    {
      version: '3.8',
      services,
      networks: net.networks,
      volumes: { 'nats-data': {} },
      secrets: {
        admin_token: { external: true, name: options.adminSecret ?? DEFAULT_ADMIN_SECRET },
      },
      // Written out in full per service: no YAML anchors for a reader to chase.
    },
    { aliasDuplicateObjects: false },
  );
}

interface Context {
  readonly layout: ResolvedLayout;
  readonly net: Networking;
  readonly natsUrl: string;
  readonly options: StackOptions;
}

function image({ options }: Context, service: keyof typeof IMAGE_VARIABLES): string {
  const variable = IMAGE_VARIABLES[service];
  return (
    options.images?.[service] ??
    `\${${variable}:?set ${variable} to an image ID, see docker README}`
  );
}

function base(context: Context, service: keyof typeof IMAGE_VARIABLES) {
  return {
    image: image(context, service),
    networks: [...context.net.serviceNetworks],
    logging: { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
  };
}

// stop-first: on the host network a new task would collide with the old one's
// ports, and a node id must not run twice anywhere.
const UPDATES = {
  update_config: { order: 'stop-first', parallelism: 1, failure_action: 'rollback' },
  rollback_config: { order: 'stop-first', parallelism: 1 },
  restart_policy: { condition: 'any', delay: '2s', window: '30s' },
};

function pinned(machine: Machine) {
  return { constraints: [rangeConstraint(machine.range)] };
}

function limits(cpus: string, memory: string, reserved: string) {
  return { limits: { cpus, memory }, reservations: { memory: reserved } };
}

function nats(context: Context, server: Machine, index: number) {
  const { ports } = context.layout;
  const { listenHost } = context.net.nats(server, index);
  const probeHost = listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost;
  return {
    ...base(context, 'nats'),
    command: [
      '-js',
      '-sd',
      '/data',
      '-a',
      listenHost,
      '-p',
      String(ports.nats),
      '-m',
      String(ports['nats-monitor']),
    ],
    volumes: ['nats-data:/data'],
    healthcheck: {
      test: [
        'CMD',
        'wget',
        '-q',
        '-O',
        '/dev/null',
        `http://${probeHost}:${ports['nats-monitor']}/healthz`,
      ],
      interval: '5s',
      timeout: '10s',
      retries: 6,
    },
    stop_grace_period: '20s',
    deploy: {
      ...UPDATES,
      replicas: 1,
      // The JetStream volume lives on one machine: keep the server there.
      placement: pinned(server),
      resources: limits('1.0', '1G', '128M'),
    },
  };
}

function aggregateNode(context: Context, node: NodeMachine) {
  const { layout, options } = context;
  const { listenHost, advertiseHost } = context.net.node(node);
  return {
    ...base(context, 'node'),
    secrets: ['admin_token'],
    environment: {
      AGGREGATE_NODE_ID: node.id,
      AGGREGATE_TENANT_RANGE: node.range,
      AGGREGATE_NATS_URL: context.natsUrl,
      AGGREGATE_GRPC_LISTEN: `${listenHost}:${layout.ports['node-grpc']}`,
      AGGREGATE_ADMIN_LISTEN: `${listenHost}:${layout.ports['node-admin']}`,
      AGGREGATE_ADVERTISE_HOST: advertiseHost,
      AGGREGATE_MANIFEST: options.manifestPath ?? DEFAULT_MANIFEST,
      AGGREGATE_ADMIN_TOKEN_FILE: SECRET_PATH,
      AGGREGATE_STREAM_REPLICAS: String(options.replicas ?? 1),
      AGGREGATE_LOG_LEVEL: options.logLevel ?? 'info',
    },
    stop_grace_period: '30s',
    deploy: {
      ...UPDATES,
      replicas: 1,
      placement: pinned(node),
      resources: limits('1.0', '768M', '128M'),
    },
  };
}

function router(context: Context) {
  const { layout, net, options } = context;
  return {
    ...base(context, 'router'),
    ...(net.routerPorts === undefined ? {} : { ports: net.routerPorts }),
    environment: {
      ROUTER_NATS_URL: context.natsUrl,
      ROUTER_GRPC_LISTEN: `${net.routerListenHost}:${layout.ports['router-grpc']}`,
      ROUTER_HTTP_LISTEN: `${net.routerListenHost}:${layout.ports['router-http']}`,
      ROUTER_LOG_LEVEL: options.logLevel ?? 'info',
    },
    stop_grace_period: '20s',
    deploy: {
      ...UPDATES,
      // One router on every machine: each reaches every node where it runs.
      mode: 'global',
      resources: limits('1.0', '512M', '64M'),
    },
  };
}

function controller(context: Context) {
  const { layout, options } = context;
  const { listenHost } = context.net.controller(layout.controller);
  return {
    ...base(context, 'controller'),
    command: ['serve'],
    secrets: ['admin_token'],
    environment: {
      PLACEMENTCTL_NATS_URL: context.natsUrl,
      PLACEMENTCTL_ADMIN_TOKEN_FILE: SECRET_PATH,
      PLACEMENTCTL_LISTEN: `${listenHost}:${layout.ports.controller}`,
      PLACEMENTCTL_REPLICAS: String(options.replicas ?? 1),
      PLACEMENTCTL_LOG_LEVEL: options.logLevel ?? 'info',
    },
    stop_grace_period: '20s',
    deploy: {
      ...UPDATES,
      replicas: 1,
      placement: pinned(layout.controller),
      resources: limits('0.5', '256M', '64M'),
    },
  };
}
