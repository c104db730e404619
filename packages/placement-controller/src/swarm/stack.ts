import type { NodeRecord, Placement } from '@tenantfold/nats';
import { ValidationError } from '@tenantfold/core';
import { stringify } from 'yaml';
import { rangeConstraint, tenantRanges } from './ranges.js';

export interface StackOptions {
  /** Image of aggregate-node; an image id (`sha256:…`) keeps Swarm from pulling at task start. */
  readonly image: string;
  /** NATS URL the nodes connect to. @default 'nats://127.0.0.1:4222' */
  readonly natsUrl?: string;
  /** Path of aggregates.yaml inside the image. @default '/app/aggregates.yaml' */
  readonly manifestPath?: string;
}

/** Name of the stack variable the admin token is read from at `docker stack deploy` time. */
export const ADMIN_TOKEN_VARIABLE = 'TENANTFOLD_ADMIN_TOKEN';

/**
 * A Swarm stack (compose v3.8) with one aggregate-node service per
 * `tenant_range`: constrained to `node.labels.tenant_range==<range>`, one task
 * per Swarm node, host networking (no ingress here), stop-first updates
 * (start-first would collide on the host ports).
 */
export function swarmStack(placement: Placement, options: StackOptions): string {
  if (options.image.trim() === '') throw new ValidationError('an image is required', 'image');
  const groups = tenantRanges(placement);
  if (groups.length === 0) {
    throw new ValidationError(
      'placement has no nodes that are up: add nodes first (`placementctl nodes add`)',
      'nodes',
    );
  }
  const services = Object.fromEntries(
    groups.map(({ range, nodes }) => [serviceName(range), service(range, nodes, options)]),
  );
  return stringify({
    version: '3.8',
    services,
    networks: { hostnet: { external: true, name: 'host' } },
  });
}

/** Swarm service names: lower case letters, digits, `-` and `_`. */
export function serviceName(range: string): string {
  return `aggregate-node-${range.toLowerCase().replace(/[^a-z0-9_-]/g, '-')}`;
}

function service(range: string, nodes: readonly NodeRecord[], options: StackOptions) {
  const first = nodes[0] as NodeRecord;
  // One node: keep its placement id. Several: one id per task slot.
  const nodeId = nodes.length === 1 ? first.id : `${range}-{{.Task.Slot}}`;
  return {
    image: options.image,
    networks: ['hostnet'],
    environment: {
      AGGREGATE_NODE_ID: nodeId,
      AGGREGATE_TENANT_RANGE: range,
      AGGREGATE_NATS_URL: options.natsUrl ?? 'nats://127.0.0.1:4222',
      AGGREGATE_GRPC_LISTEN: `0.0.0.0:${portOf(first.grpcAddress, 50051)}`,
      AGGREGATE_ADMIN_LISTEN: `0.0.0.0:${portOf(first.adminAddress, 8081)}`,
      AGGREGATE_ADVERTISE_HOST: '{{.Node.Hostname}}',
      AGGREGATE_MANIFEST: options.manifestPath ?? '/app/aggregates.yaml',
      AGGREGATE_ADMIN_TOKEN: `\${${ADMIN_TOKEN_VARIABLE}}`,
    },
    deploy: {
      replicas: nodes.length,
      placement: { constraints: [rangeConstraint(range)], max_replicas_per_node: 1 },
      update_config: { order: 'stop-first', parallelism: 1 },
      restart_policy: { condition: 'any' },
    },
  };
}

function portOf(address: string, fallback: number): number {
  const match = /:(\d{1,5})\/?$/.exec(address);
  return match?.[1] === undefined ? fallback : Number(match[1]);
}
