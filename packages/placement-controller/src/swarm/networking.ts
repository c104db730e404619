import type { Machine, NodeMachine, ResolvedLayout } from './layout.js';

/** Where a dialed service listens and the address it gives others. */
export interface Endpoint {
  readonly listenHost: string;
  readonly advertiseHost: string;
}

/** What differs between the two network modes; the services are otherwise the same. */
export interface Networking {
  /** The `networks` entry of every service. */
  readonly serviceNetworks: readonly string[];
  /** The top-level `networks` of the stack. */
  readonly networks: Record<string, unknown>;
  node(node: NodeMachine): Endpoint;
  nats(server: Machine, index: number): Endpoint;
  controller(machine: Machine): Endpoint;
  /** The address routers bind. */
  readonly routerListenHost: string;
  /** The `ports` of the router service (none on the host network). */
  readonly routerPorts: readonly Record<string, unknown>[] | undefined;
}

const ANY = '0.0.0.0';
const HOST_NETWORK = 'hostnet';
const OVERLAY_NETWORK = 'backplane';

/**
 * Host network: a service binds its machine's address and gives that address
 * out, so a router on any machine dials the node where it runs.
 */
function hostNetworking(layout: ResolvedLayout): Networking {
  const own = (machine: Machine): Endpoint => ({
    listenHost: machine.host as string,
    advertiseHost: machine.host as string,
  });
  return {
    serviceNetworks: [HOST_NETWORK],
    networks: { [HOST_NETWORK]: { external: true, name: 'host' } },
    node: own,
    nats: own,
    controller: own,
    routerListenHost: layout.routerHost,
    routerPorts: undefined,
  };
}

/**
 * Overlay network: services listen on every interface of their container and
 * are reached by service name (Docker's DNS gives each stack service its short
 * name on the stack's networks).
 */
function overlayNetworking(layout: ResolvedLayout): Networking {
  const named = (name: string): Endpoint => ({ listenHost: ANY, advertiseHost: name });
  const published = (target: number) => ({
    target,
    published: target,
    protocol: 'tcp',
    mode: layout.publish,
  });
  return {
    serviceNetworks: [OVERLAY_NETWORK],
    // attachable: `docker run --network <stack>_backplane … placementctl` can reach the services.
    networks: { [OVERLAY_NETWORK]: { driver: 'overlay', attachable: true } },
    node: (node) => named(node.id),
    nats: (_server, index) => named(natsServiceName(index)),
    controller: () => named('controller'),
    routerListenHost: ANY,
    routerPorts: [published(layout.ports['router-grpc']), published(layout.ports['router-http'])],
  };
}

export function networkingFor(layout: ResolvedLayout): Networking {
  return layout.network === 'host' ? hostNetworking(layout) : overlayNetworking(layout);
}

/** The service of the n-th NATS server (`nats` while there is one). */
export function natsServiceName(index: number): string {
  return index === 0 ? 'nats' : `nats-${index + 1}`;
}
