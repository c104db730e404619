/** One address that other services dial, as a stack file gives it out. */
export interface DialedEndpoint {
  readonly service: string;
  readonly what: 'node grpc' | 'node admin' | 'nats' | 'controller';
  readonly host: string;
  readonly port: number;
}

interface ComposeService {
  readonly command?: readonly string[];
  readonly environment?: Readonly<Record<string, string | number | null>>;
}

const WILDCARDS = new Set(['0.0.0.0', '[::]', '']);

function split(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/** A wildcard listen address is reached by service name (overlay DNS). */
function reachable(host: string, service: string): string {
  return WILDCARDS.has(host) ? service : host;
}

/**
 * Every address a stack (parsed compose, variables already substituted, e.g.
 * by `docker stack config`) makes other services dial: each node's advertised
 * gRPC and admin address, each NATS server, the controller.
 */
export function dialedEndpoints(services: Readonly<Record<string, ComposeService>>) {
  const endpoints: DialedEndpoint[] = [];
  for (const [service, spec] of Object.entries(services)) {
    const env = spec.environment ?? {};
    const advertised = env.AGGREGATE_ADVERTISE_HOST;
    if (typeof advertised === 'string') {
      for (const [what, key] of [
        ['node grpc', 'AGGREGATE_GRPC_LISTEN'],
        ['node admin', 'AGGREGATE_ADMIN_LISTEN'],
      ] as const) {
        endpoints.push({ service, what, host: advertised, port: split(String(env[key])).port });
      }
    }
    const listen = env.PLACEMENTCTL_LISTEN;
    if (typeof listen === 'string' && spec.command?.[0] === 'serve') {
      const { host, port } = split(listen);
      endpoints.push({ service, what: 'controller', host: reachable(host, service), port });
    }
    const args = spec.command ?? [];
    if (args.includes('-js')) {
      const host = args[args.indexOf('-a') + 1] ?? '';
      const port = Number(args[args.indexOf('-p') + 1]);
      endpoints.push({ service, what: 'nats', host: reachable(host, service), port });
    }
  }
  return endpoints;
}

/**
 * What routers would dial wrongly: two endpoints on one `host:port`, or two
 * nodes advertising one host (each node runs on its own machine, on the node
 * ports), or an address that is no address. Empty when every dialed service has its own address.
 */
export function sharedAddresses(endpoints: readonly DialedEndpoint[]): string[] {
  const problems: string[] = [];
  const byAddress = new Map<string, DialedEndpoint>();
  const nodeByHost = new Map<string, string>();
  for (const endpoint of endpoints) {
    const address = `${endpoint.host}:${endpoint.port}`;
    const other = byAddress.get(address);
    if (other !== undefined) {
      problems.push(
        `${other.service} (${other.what}) and ${endpoint.service} (${endpoint.what}) share ${address}`,
      );
    }
    byAddress.set(address, endpoint);
    if (WILDCARDS.has(endpoint.host)) {
      problems.push(
        `${endpoint.service} (${endpoint.what}) advertises '${endpoint.host}', which nobody can dial`,
      );
    }
    if (endpoint.what === 'node grpc') {
      const node = nodeByHost.get(endpoint.host);
      if (node !== undefined)
        problems.push(`nodes ${node} and ${endpoint.service} both advertise ${endpoint.host}`);
      nodeByHost.set(endpoint.host, endpoint.service);
    }
  }
  return problems;
}
