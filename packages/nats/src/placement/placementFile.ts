import { readFile } from 'node:fs/promises';
import { DEFAULT_TENANT_TOKEN, TenantId, ValidationError } from '@tenantfold/core';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { FieldError, parseNode, parseRing, checkNodeId } from './codec.js';
import { createPlacement } from './snapshot.js';
import type { NodeRecord, NodeStatus, Placement, RingSettings } from './types.js';

/*
 * The local placement file: the resting state of `TENANT_PLACEMENT` as YAML,
 * written by `placementctl export`, read by `placementctl import` and by a
 * router that starts while KV is unreachable.
 *
 *   ring: { vnodes: 160 }
 *   nodes:
 *     node-a: { grpc: "127.0.0.1:7001", admin: "127.0.0.1:8001", tenant_range: a, weight: 1, status: active }
 *   tenants:
 *     acme-corp: node-a      # pins; the default tenant is written `=default`
 *
 * Migration records and heartbeats are transient and not part of the file.
 */

/** Heartbeat of a node read from a file: the epoch, i.e. never heard from. */
const FILE_HEARTBEAT = new Date(0).toISOString();

const TOP_KEYS = ['ring', 'nodes', 'tenants'] as const;
const RING_KEYS = ['vnodes'] as const;
const NODE_KEYS = ['grpc', 'admin', 'tenant_range', 'weight', 'status'] as const;
/** File key of each `NodeRecord` field, so validation errors name what the user wrote. */
const FILE_KEY_OF: Readonly<Record<string, string>> = {
  grpcAddress: 'grpc',
  adminAddress: 'admin',
  tenantRange: 'tenant_range',
  weight: 'weight',
  status: 'status',
};

/** Placement as the YAML file text (nodes and pins sorted; migrations left out). */
export function placementToYaml(placement: Placement): string {
  const byKey = <T>(entries: [string, T][]): Record<string, T> =>
    Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const nodes = byKey(
    [...placement.nodes.values()].map((node) => [
      node.id,
      {
        grpc: node.grpcAddress,
        admin: node.adminAddress,
        tenant_range: node.tenantRange,
        weight: node.weight,
        status: node.status,
      },
    ]),
  );
  const tenants = byKey(
    [...placement.pins].map(([tenant, pin]) => [TenantId.token(tenant), pin.nodeId]),
  );
  return stringifyYaml({ ring: { vnodes: placement.ring.vnodes }, nodes, tenants });
}

/**
 * Parses the placement file. Throws `ValidationError` naming the key
 * (`nodes.node-a.grpc`, `tenants.acme-corp`, …) and what was expected.
 * Unknown keys are refused: a typo must not silently drop a node or a pin.
 */
export function parsePlacementYaml(text: string): Placement {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ValidationError(`placement file is not valid YAML: ${reason}`, 'placement');
  }
  const top = mapping(doc, '(top level)');
  checkKeys(top, TOP_KEYS, '');

  const ring = top.ring === undefined ? undefined : parseFileRing(top.ring);
  const nodes = Object.entries(top.nodes === undefined ? {} : mapping(top.nodes, 'nodes')).map(
    ([id, value]) => parseFileNode(id, value),
  );
  const known = new Set(nodes.map((node) => node.id));
  const pins = Object.entries(top.tenants === undefined ? {} : mapping(top.tenants, 'tenants')).map(
    ([token, nodeId]) => parseFilePin(token, nodeId, known),
  );
  return createPlacement({ nodes, pins, ...(ring === undefined ? {} : { ring }) });
}

/** Reads and parses a placement file; errors name the path. */
export async function readPlacementFile(path: string): Promise<Placement> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ValidationError(`cannot read placement file ${path}: ${reason}`, 'placement', {
      cause: error,
    });
  }
  try {
    return parsePlacementYaml(text);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(`placement file ${path}: ${error.message}`, error.field, {
      cause: error,
    });
  }
}

function parseFileRing(value: unknown): RingSettings {
  const v = mapping(value, 'ring');
  checkKeys(v, RING_KEYS, 'ring.');
  return atKey('ring', () => parseRing(v));
}

function parseFileNode(id: string, value: unknown): NodeRecord {
  const where = `nodes.${id}`;
  checkNodeId(id, where);
  const v = mapping(value, where);
  checkKeys(v, NODE_KEYS, `${where}.`);
  return atKey(where, () =>
    parseNode({
      id,
      grpcAddress: v.grpc,
      adminAddress: v.admin,
      tenantRange: v.tenant_range,
      weight: v.weight ?? 1,
      status: v.status ?? ('active' satisfies NodeStatus),
      heartbeatAt: FILE_HEARTBEAT,
    }),
  );
}

function parseFilePin(
  token: string,
  nodeId: unknown,
  known: ReadonlySet<string>,
): readonly [TenantId, string] {
  const where = `tenants.${token}`;
  const tenant = token === DEFAULT_TENANT_TOKEN ? TenantId.DEFAULT : TenantId.parse(token, where);
  const node = checkNodeId(nodeId, where);
  if (!known.has(node)) {
    throw new ValidationError(`${where}: node '${node}' is not listed under nodes`, where);
  }
  return [tenant, node];
}

/** Runs a codec parse, reporting its field as `<prefix>.<file key>`. */
function atKey<T>(prefix: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    const field = `${prefix}.${FILE_KEY_OF[error.field] ?? error.field}`;
    const detail = error.message.slice(error.field.length + 2); // drop "<field>: "
    throw new ValidationError(`${field}: ${detail}`, field, { cause: error });
  }
}

function mapping(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === undefined || value === null ? 'nothing' : JSON.stringify(value);
    throw new ValidationError(`${where}: expected a mapping, got ${got}`, where);
  }
  return value as Record<string, unknown>;
}

function checkKeys(value: Record<string, unknown>, allowed: readonly string[], prefix: string) {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new ValidationError(
        `${prefix}${key}: unknown key (expected ${allowed.join(', ')})`,
        `${prefix}${key}`,
      );
    }
  }
}
