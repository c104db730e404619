import { ValidationError } from '@tenantfold/core';

/**
 * How the services of a stack reach each other:
 * - `host`: each service on its machine's own address (host network), one
 *   port per service per machine; no overlay, no routing mesh.
 * - `overlay`: an overlay network; services dial each other by service name,
 *   routers are published through the routing mesh or on each machine's port.
 */
export type StackNetwork = 'host' | 'overlay';
export const STACK_NETWORKS: readonly StackNetwork[] = ['host', 'overlay'];

/** How overlay routers are published: the routing mesh (`ingress`) or each machine's own port (`host`). */
export type RouterPublish = 'ingress' | 'host';
export const ROUTER_PUBLISH: readonly RouterPublish[] = ['ingress', 'host'];

/**
 * Where a service runs: the `tenant_range` label of its machine and, on the
 * host network, that machine's address (it binds and advertises only that).
 */
export interface Machine {
  readonly range: string;
  readonly host?: string;
}

/** An aggregate node: its placement id (also its service name) and its machine. */
export interface NodeMachine extends Machine {
  readonly id: string;
}

export const PORT_NAMES = [
  'nats',
  'nats-monitor',
  'node-grpc',
  'node-admin',
  'router-grpc',
  'router-http',
  'controller',
] as const;
export type PortName = (typeof PORT_NAMES)[number];

/** The ports of `npm run cluster` and `platform.yml`. */
export const DEFAULT_PORTS: Readonly<Record<PortName, number>> = Object.freeze({
  nats: 4222,
  'nats-monitor': 8222,
  'node-grpc': 50051,
  'node-admin': 8081,
  'router-grpc': 50050,
  'router-http': 8080,
  controller: 9464,
});

/** What `placementctl stack` is told about the cluster. */
export interface StackLayout {
  /** @default 'host' */
  readonly network?: StackNetwork;
  /** One per aggregate node, each on its own machine (host network: its own address). */
  readonly nodes: readonly NodeMachine[];
  /**
   * The NATS servers. One today; a list so that a 3-server cluster (each on
   * its own machine address, with routes between them) fits later.
   */
  readonly nats: readonly Machine[];
  /** Where the controller runs. @default the (first) NATS server's machine */
  readonly controller?: Machine;
  /** Host network: the address routers bind on every machine. @default '0.0.0.0' */
  readonly routerHost?: string;
  /** Overlay network: how routers are published. @default 'ingress' */
  readonly publish?: RouterPublish;
  /** Ports by name (see `PORT_NAMES`); the rest keep `DEFAULT_PORTS`. */
  readonly ports?: Readonly<Partial<Record<PortName, number>>>;
}

/** A layout checked and completed: every field set. */
export interface ResolvedLayout {
  readonly network: StackNetwork;
  readonly nodes: readonly NodeMachine[];
  readonly nats: readonly Machine[];
  readonly controller: Machine;
  readonly routerHost: string;
  readonly publish: RouterPublish;
  readonly ports: Readonly<Record<PortName, number>>;
}

const RANGE = /^[A-Za-z0-9_.-]{1,64}$/;
// A node id is also a Swarm service name and, on the overlay, a DNS name.
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
const WILDCARDS = new Set(['0.0.0.0', '[::]']);
const PLATFORM_SERVICES = new Set(['nats', 'router', 'controller']);

/** `<range>[@<host>]`, the form of `--nats-machine` and `--controller-machine`. */
export function parseMachine(raw: string): Machine {
  const at = raw.indexOf('@');
  const range = at < 0 ? raw : raw.slice(0, at);
  if (at < 0) return { range };
  return { range, host: raw.slice(at + 1) };
}

/** `<id>=<range>[@<host>]`, the form of `--node`. */
export function parseNodeMachine(raw: string): NodeMachine {
  const eq = raw.indexOf('=');
  if (eq <= 0) {
    throw new ValidationError(
      `--node must be <id>=<range>[@<host>] (e.g. node-1=range-a@10.0.0.11), got '${raw}'`,
      'node',
    );
  }
  return { id: raw.slice(0, eq), ...parseMachine(raw.slice(eq + 1)) };
}

/** `<name>=<port>`, the form of `--port`. */
export function parsePort(raw: string): [PortName, number] {
  const [name, value = ''] = raw.split('=', 2);
  if (!PORT_NAMES.includes(name as PortName)) {
    throw new ValidationError(
      `--port must be <name>=<port> with a name of ${PORT_NAMES.join(', ')}, got '${raw}'`,
      'port',
    );
  }
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port < 1 || port > 65535) {
    throw new ValidationError(`--port ${name} must be 1-65535, got '${value}'`, 'port');
  }
  return [name as PortName, port];
}

/**
 * Checks a layout and fills in its defaults. Refuses what would deploy but
 * not work: a node without its machine's address on the host network, two
 * nodes advertising one address, one address claimed by two ranges (two
 * machines), two services on one port.
 */
export function resolveLayout(layout: StackLayout): ResolvedLayout {
  const network = layout.network ?? 'host';
  if (!STACK_NETWORKS.includes(network)) {
    throw new ValidationError(`network must be host or overlay, got '${network}'`, 'network');
  }
  if (layout.nodes.length === 0) {
    throw new ValidationError(
      'no nodes: give one --node <id>=<range>[@<host>] per aggregate node',
      'node',
    );
  }
  if (layout.nats.length === 0) {
    throw new ValidationError('where does NATS run? give --nats-machine <range>[@<host>]', 'nats');
  }
  if (layout.nats.length > 1) {
    throw new ValidationError(
      `give exactly one NATS server (--nats-machine <range>[@<host>]), got ${layout.nats.length}: a NATS cluster is not generated yet: give one`,
      'nats',
    );
  }
  const ids = new Set<string>();
  for (const node of layout.nodes) {
    if (!SERVICE_NAME.test(node.id) || PLATFORM_SERVICES.has(node.id)) {
      throw new ValidationError(
        `node id '${node.id}' must be 1-63 of A-Z a-z 0-9 _ -, start with a letter or digit and not be nats, router or controller (it names the node's service)`,
        'node',
      );
    }
    if (ids.has(node.id)) throw new ValidationError(`node '${node.id}' is given twice`, 'node');
    ids.add(node.id);
    checkMachine(node, network, `node ${node.id}`);
  }
  const nats = layout.nats.map((server) => checkMachine(server, network, 'NATS'));
  const controller = checkMachine(layout.controller ?? (nats[0] as Machine), network, 'controller');
  const routerHost = layout.routerHost ?? '0.0.0.0';
  if (layout.routerHost !== undefined) {
    if (network === 'overlay') {
      throw new ValidationError(
        'the router host is for the host network: on the overlay routers are published (--publish)',
        'router-host',
      );
    }
    checkHost(routerHost, 'router host', true);
  }
  if (layout.publish !== undefined && network === 'host') {
    throw new ValidationError(
      '--publish is for the overlay network: on the host network routers bind --router-host on each machine',
      'publish',
    );
  }
  const publish = layout.publish ?? 'ingress';
  if (!ROUTER_PUBLISH.includes(publish)) {
    throw new ValidationError(`publish must be ingress or host, got '${publish}'`, 'publish');
  }
  const ports = { ...DEFAULT_PORTS, ...layout.ports };
  checkPorts(ports);
  if (network === 'host') checkAddresses(layout.nodes, nats, controller);
  return Object.freeze({
    network,
    nodes: layout.nodes,
    nats,
    controller,
    routerHost,
    publish,
    ports: Object.freeze(ports),
  });
}

function checkMachine(machine: Machine, network: StackNetwork, what: string): Machine {
  if (!RANGE.test(machine.range)) {
    throw new ValidationError(
      `${what}: tenant_range '${machine.range}' must be 1-64 of A-Z a-z 0-9 _ . -`,
      'range',
    );
  }
  if (network === 'overlay') {
    if (machine.host !== undefined) {
      throw new ValidationError(
        `${what}: no @${machine.host} on the overlay network (services are reached by service name); give only its range`,
        'host',
      );
    }
    return machine;
  }
  if (machine.host === undefined) {
    throw new ValidationError(
      `${what}: the host network needs the address of its machine: ${machine.range}@<address>`,
      'host',
    );
  }
  checkHost(machine.host, what, false);
  return machine;
}

function checkHost(host: string, what: string, wildcardAllowed: boolean): void {
  const v4 = IPV4.exec(host);
  const valid =
    (v4 !== null && v4.slice(1).every((octet) => Number(octet) <= 255)) ||
    IPV6.test(host) ||
    (v4 === null && DNS_NAME.test(host));
  if (!valid) {
    throw new ValidationError(
      `${what}: '${host}' is not an IPv4 address, a [bracketed] IPv6 address or a host name`,
      'host',
    );
  }
  if (!wildcardAllowed && WILDCARDS.has(host)) {
    throw new ValidationError(
      `${what}: ${host} is not an address others can dial: give its machine's address`,
      'host',
    );
  }
}

function checkPorts(ports: Readonly<Record<PortName, number>>): void {
  const seen = new Map<number, PortName>();
  for (const name of PORT_NAMES) {
    const other = seen.get(ports[name]);
    if (other !== undefined) {
      // Services may share a machine: one port each.
      throw new ValidationError(
        `ports ${other} and ${name} are both ${ports[name]}: give each service its own port`,
        'port',
      );
    }
    seen.set(ports[name], name);
  }
}

/** Host network: an address is one machine's, so one range's; and one node per address. */
function checkAddresses(
  nodes: readonly NodeMachine[],
  nats: readonly Machine[],
  controller: Machine,
): void {
  const rangeOf = new Map<string, string>();
  const nodeAt = new Map<string, string>();
  const claim = (machine: Machine, what: string) => {
    const host = machine.host as string;
    const range = rangeOf.get(host);
    if (range !== undefined && range !== machine.range) {
      throw new ValidationError(
        `${host} is given for tenant_range ${range} and for ${machine.range} (${what}): an address belongs to one machine`,
        'host',
      );
    }
    rangeOf.set(host, machine.range);
  };
  for (const node of nodes) {
    const other = nodeAt.get(node.host as string);
    if (other !== undefined) {
      throw new ValidationError(
        `nodes ${other} and ${node.id} both advertise ${node.host}: give each node its own machine address (they share the node ports)`,
        'host',
      );
    }
    nodeAt.set(node.host as string, node.id);
    claim(node, `node ${node.id}`);
  }
  for (const server of nats) claim(server, 'NATS');
  claim(controller, 'controller');
}
