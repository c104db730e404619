import { DEFAULT_TENANT_TOKEN, TenantId, ValidationError } from '@tenantfold/core';
import type { MigrationRecord, NodeRecord, Pin, RingSettings } from './types.js';
import { MIGRATION_PHASES, NODE_STATUSES } from './types.js';

/** Thrown by the field checks below; callers turn it into the right error class. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
/** Printable, no whitespace: addresses and labels end up in URLs and Swarm constraints. */
const TOKEN = /^[\x21-\x7e]+$/;

export const MAX_WEIGHT = 100;
export const MAX_VNODES = 1000;

function describe(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FieldError(what, `expected a JSON object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function nodeIdField(value: unknown, field: string): string {
  // `__proto__` is refused because hashring keeps per-server data in plain objects.
  if (typeof value !== 'string' || !NODE_ID.test(value) || value === '__proto__') {
    throw new FieldError(
      field,
      `expected a node id of 1-64 A-Z a-z 0-9 _ -, got ${describe(value)}`,
    );
  }
  return value;
}

function tokenField(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.length > max || !TOKEN.test(value)) {
    throw new FieldError(
      field,
      `expected 1-${max} printable characters without spaces, got ${describe(value)}`,
    );
  }
  return value;
}

/** A NATS subject: dot-separated tokens without wildcards or spaces. */
const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

function subjectField(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length > 256 || !SUBJECT.test(value)) {
    throw new FieldError(
      field,
      `expected a NATS subject without wildcards, got ${describe(value)}`,
    );
  }
  return value;
}

function intField(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new FieldError(
      field,
      `expected an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

function timeField(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ISO_8601.test(value) || !Number.isFinite(Date.parse(value))) {
    throw new FieldError(field, `expected an ISO 8601 timestamp, got ${describe(value)}`);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new FieldError(field, `expected one of ${allowed.join(', ')}, got ${describe(value)}`);
  }
  return value as T;
}

/** Checks a node id (`[A-Za-z0-9_-]{1,64}`). */
export function checkNodeId(value: unknown, field = 'nodeId'): string {
  try {
    return nodeIdField(value, field);
  } catch (error) {
    throw asValidationError(error);
  }
}

/** Turns a `FieldError` into core's `ValidationError` (bad input, nothing written). */
export function asValidationError(error: unknown, prefix = ''): unknown {
  return error instanceof FieldError
    ? new ValidationError(`${prefix}${error.message}`, error.field)
    : error;
}

/** Parses caller input; throws `ValidationError` naming `what` and the field. */
export function checkInput<T>(parse: (value: unknown) => T, value: unknown, what: string): T {
  try {
    return parse(value);
  } catch (error) {
    throw asValidationError(error, `invalid ${what}: `);
  }
}

// Unknown fields are ignored so that a newer writer's additions do not make
// older readers drop the entry; writers emit only the fields below.

export function parseNode(value: unknown): NodeRecord {
  const v = record(value, 'node');
  return {
    id: nodeIdField(v.id, 'id'),
    grpcAddress: tokenField(v.grpcAddress, 'grpcAddress', 256),
    ...(v.commandSubject === undefined
      ? {}
      : { commandSubject: subjectField(v.commandSubject, 'commandSubject') }),
    adminAddress: tokenField(v.adminAddress, 'adminAddress', 256),
    tenantRange: tokenField(v.tenantRange, 'tenantRange', 128),
    weight: intField(v.weight, 'weight', 1, MAX_WEIGHT),
    status: oneOf(v.status, 'status', NODE_STATUSES),
    heartbeatAt: timeField(v.heartbeatAt, 'heartbeatAt'),
  };
}

/** `parseNode` for the value stored under `nodes.<id>`: the record's id must be `id`. */
export function parseNodeAt(id: string): (value: unknown) => NodeRecord {
  return (value) => {
    const node = parseNode(value);
    if (node.id !== id) {
      throw new FieldError('id', `'${node.id}' does not match the key's node id '${id}'`);
    }
    return node;
  };
}

export function parseRing(value: unknown): RingSettings {
  const v = record(value, 'ring');
  return { vnodes: intField(v.vnodes, 'vnodes', 1, MAX_VNODES) };
}

export function parsePin(value: unknown): Pin {
  const v = record(value, 'pin');
  return { nodeId: nodeIdField(v.nodeId, 'nodeId') };
}

export function parseMigration(value: unknown): MigrationRecord {
  const v = record(value, 'migration');
  const from = nodeIdField(v.from, 'from');
  const to = nodeIdField(v.to, 'to');
  if (from === to) throw new FieldError('to', `must differ from 'from' (${from})`);
  const parsed: MigrationRecord = {
    phase: oneOf(v.phase, 'phase', MIGRATION_PHASES),
    from,
    to,
    epoch: intField(v.epoch, 'epoch', 0, Number.MAX_SAFE_INTEGER),
    startedAt: timeField(v.startedAt, 'startedAt'),
  };
  if (v.reason === undefined) return parsed;
  if (typeof v.reason !== 'string' || v.reason.length > 1024) {
    throw new FieldError('reason', `expected a string of at most 1024 characters`);
  }
  return { ...parsed, reason: v.reason };
}

// ---- keys ----

export const NODES_PREFIX = 'nodes.';
export const PINS_PREFIX = 'pins.';
export const MIGRATIONS_PREFIX = 'migrations.';
export const RING_KEY = 'ring';

export const nodeKey = (id: string): string => `${NODES_PREFIX}${id}`;
export const pinKey = (tenant: TenantId): string => `${PINS_PREFIX}${TenantId.token(tenant)}`;
export const migrationKey = (tenant: TenantId): string =>
  `${MIGRATIONS_PREFIX}${TenantId.token(tenant)}`;

function tenantOfToken(token: string): TenantId {
  return token === DEFAULT_TENANT_TOKEN ? TenantId.DEFAULT : TenantId.parse(token, 'tenant');
}

export type ParsedKey =
  | { readonly kind: 'node'; readonly id: string }
  | { readonly kind: 'ring' }
  | { readonly kind: 'pin'; readonly tenant: TenantId }
  | { readonly kind: 'migration'; readonly tenant: TenantId };

/** What a bucket key names; throws `FieldError` for a key placement does not know. */
export function parseKey(key: string): ParsedKey {
  if (key === RING_KEY) return { kind: 'ring' };
  try {
    if (key.startsWith(NODES_PREFIX)) {
      return { kind: 'node', id: nodeIdField(key.slice(NODES_PREFIX.length), 'key') };
    }
    if (key.startsWith(PINS_PREFIX)) {
      return { kind: 'pin', tenant: tenantOfToken(key.slice(PINS_PREFIX.length)) };
    }
    if (key.startsWith(MIGRATIONS_PREFIX)) {
      return { kind: 'migration', tenant: tenantOfToken(key.slice(MIGRATIONS_PREFIX.length)) };
    }
  } catch {
    // fall through: reported below with the whole key
  }
  throw new FieldError(
    'key',
    `not a placement key (expected ring, nodes.<id>, pins.<tenant> or migrations.<tenant>)`,
  );
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Bytes → JSON value; throws `FieldError` on invalid UTF-8 or JSON. */
export function decodeJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new FieldError('value', 'not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new FieldError('value', `invalid JSON (${reason})`);
  }
}

/** The value with only the known fields, in a fixed order. */
export function encodeNode(node: NodeRecord): string {
  const { id, grpcAddress, commandSubject, adminAddress, tenantRange, weight, status } = node;
  return JSON.stringify({
    id,
    grpcAddress,
    commandSubject,
    adminAddress,
    tenantRange,
    weight,
    status,
    heartbeatAt: node.heartbeatAt,
  });
}

export function encodeRing(ring: RingSettings): string {
  return JSON.stringify({ vnodes: ring.vnodes });
}

export function encodePin(pin: Pin): string {
  return JSON.stringify({ nodeId: pin.nodeId });
}

export function encodeMigration(m: MigrationRecord): string {
  const { phase, from, to, epoch, startedAt, reason } = m;
  return JSON.stringify({
    phase,
    from,
    to,
    epoch,
    startedAt,
    ...(reason === undefined ? {} : { reason }),
  });
}
