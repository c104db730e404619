import { ValidationError } from '../errors/index.js';
import type { AggregateId, AggregateType, StreamKey, TenantId, Version } from './ids.js';
import {
  AggregateId as AggId,
  AggregateType as AggType,
  TenantId as Tenant,
  Uuid,
  Version as Ver,
} from './ids.js';
import type { JsonValue } from './json.js';
import { random16 } from './randomBytes.js';
import { assertJson, assertPayloadSize, isJsonObject, preview } from './json.js';
import type { DataLimits } from './limits.js';
import { DEFAULT_DATA_LIMITS } from './limits.js';

/** A command as a decider sees it. */
export interface Command<Type extends string = string, Data extends JsonValue = JsonValue> {
  readonly type: Type;
  readonly data: Data;
}

/** An event as a decider produces and evolves it. */
export interface Event<Type extends string = string, Data extends JsonValue = JsonValue> {
  readonly type: Type;
  readonly data: Data;
}

export type Metadata = Readonly<Record<string, string>>;

/** A command on the wire: who, which aggregate, what, and the idempotency key. */
export interface CommandEnvelope {
  readonly tenant_id: TenantId;
  /** UUID (v7 when generated here); the idempotency key. */
  readonly command_id: string;
  readonly aggregate_type: AggregateType;
  readonly aggregate_id: AggregateId;
  /** The command: `{ type, data }`. */
  readonly payload: Command;
  readonly metadata: Metadata;
  /** When set, the command is refused unless the aggregate is at this version. */
  readonly expected_version?: Version;
  readonly correlation_id?: string;
  /** W3C trace context header value. */
  readonly traceparent?: string;
}

export interface EventEnvelope {
  readonly tenant_id: TenantId;
  readonly event_id: string;
  readonly aggregate_type: AggregateType;
  readonly aggregate_id: AggregateId;
  /** Aggregate version after this event. */
  readonly version: Version;
  readonly event_type: string;
  readonly payload: JsonValue;
  /** Causation: the command that produced this event. */
  readonly command_id: string;
  readonly correlation_id: string;
  readonly trace_id: string;
  /** ISO 8601. */
  readonly timestamp: string;
  readonly metadata: Metadata;
}

export interface SnapshotEnvelope<State = JsonValue> {
  readonly tenant_id: TenantId;
  readonly aggregate_type: AggregateType;
  readonly aggregate_id: AggregateId;
  readonly version: Version;
  readonly state: State;
  readonly created_at: string;
}

/** What travels with a command into every event it produces. */
export interface CommandContext {
  /** Idempotency key; generated (UUID v7) when absent. */
  readonly commandId?: string;
  readonly correlationId?: string;
  readonly traceparent?: string;
  /** Who issued the command (user, service, process manager). */
  readonly actorId?: string;
  readonly metadata?: Metadata;
  readonly expectedVersion?: Version;
}

const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Trace id from a W3C traceparent; invalid or absent headers start a new trace. */
export function traceIdOf(traceparent: string | undefined): string {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
  return match?.[1] ?? Buffer.from(random16()).toString('hex');
}

export function parseCommand(
  value: unknown,
  field = 'payload',
  limits: DataLimits = DEFAULT_DATA_LIMITS,
): Command {
  if (!isJsonObject(value))
    throw new ValidationError(`${field} must be an object {type, data}`, field);
  const { type, data } = value;
  if (typeof type !== 'string' || !EVENT_TYPE.test(type)) {
    throw new ValidationError(`${field}.type ${preview(type)} is not a valid command type`, field);
  }
  const body = data ?? {};
  assertJson(body, `${field}.data`, limits);
  assertPayloadSize(body, `${field}.data`, limits.commandBytes);
  return { type, data: body };
}

/**
 * An event `{ type, data }`: a valid type and plain JSON data within the
 * depth and string limits (sizes are the caller's: a commit's total).
 */
export function parseEvent(
  value: unknown,
  field = 'event',
  limits: DataLimits = DEFAULT_DATA_LIMITS,
): Event {
  if (!isJsonObject(value))
    throw new ValidationError(`${field} must be an object {type, data}`, field);
  const { type, data } = value;
  if (typeof type !== 'string' || !EVENT_TYPE.test(type)) {
    throw new ValidationError(`${field}.type ${preview(type)} is not a valid event type`, field);
  }
  const body = data ?? {};
  assertJson(body, `${field}.data`, limits);
  return { type, data: body };
}

function parseMetadata(value: unknown, field: string): Metadata {
  if (value === undefined || value === null) return {};
  if (!isJsonObject(value)) throw new ValidationError(`${field} must be a map of strings`, field);
  // Counted with an early exit: a map of 400,000 entries is refused before any list of them is built.
  let entries = 0;
  for (const key in value) {
    if (Object.hasOwn(value, key) && ++entries > MAX_METADATA_ENTRIES) {
      throw new ValidationError(
        `${field} has over ${MAX_METADATA_ENTRIES} entries, the limit`,
        field,
      );
    }
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new ValidationError(`${field}.${k} must be a string`, field);
  }
  return value as Metadata;
}

/** Most metadata entries a command may carry (they travel with every event it produces). */
export const MAX_METADATA_ENTRIES = 64;
/** Longest metadata key and value, in characters. */
export const MAX_METADATA_KEY_CHARS = 128;
export const MAX_METADATA_VALUE_CHARS = 4096;

/** A client's metadata: a few short strings, not a second payload beside the limits. */
function boundedMetadata(metadata: Metadata, field: string): Metadata {
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_ENTRIES) {
    throw new ValidationError(
      `${field} has ${entries.length} entries, over the limit of ${MAX_METADATA_ENTRIES}`,
      field,
    );
  }
  for (const [key, value] of entries) {
    if (key.length > MAX_METADATA_KEY_CHARS || value.length > MAX_METADATA_VALUE_CHARS) {
      throw new ValidationError(
        `${field} keys hold at most ${MAX_METADATA_KEY_CHARS} characters and values ${MAX_METADATA_VALUE_CHARS}`,
        field,
      );
    }
  }
  return metadata;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length > 256) {
    throw new ValidationError(`${field} must be a string of at most 256 characters`, field);
  }
  return value;
}

/**
 * Envelopes this module built, with the limits they were checked against: a
 * second parse with the same limits returns them as they are (a node checks a
 * command at intake and the store again would walk a 1 MiB payload twice).
 * Frozen, so what was checked is what runs.
 */
const parsed = new WeakMap<object, DataLimits>();

/**
 * Validates an untrusted command envelope (decoded JSON or protobuf). Every
 * field is checked, the payload against `limits`; the first problem is
 * reported with its field name.
 */
export function parseCommandEnvelope(
  value: unknown,
  limits: DataLimits = DEFAULT_DATA_LIMITS,
): CommandEnvelope {
  if (!isJsonObject(value))
    throw new ValidationError('command envelope must be an object', 'command');
  if (parsed.get(value) === limits) return value as unknown as CommandEnvelope;
  const expected = value.expected_version;
  const correlation = optionalString(value.correlation_id, 'correlation_id');
  const traceparent = optionalString(value.traceparent, 'traceparent');
  const envelope: CommandEnvelope = Object.freeze({
    tenant_id: Tenant.parse(value.tenant_id ?? ''),
    command_id:
      value.command_id === undefined ? Uuid.new() : Uuid.parse(value.command_id, 'command_id'),
    aggregate_type: AggType.parse(value.aggregate_type),
    aggregate_id: AggId.parse(value.aggregate_id),
    payload: parseCommand(value.payload, 'payload', limits),
    metadata: boundedMetadata(parseMetadata(value.metadata, 'metadata'), 'metadata'),
    ...(expected === undefined || expected === null
      ? {}
      : { expected_version: Ver.parse(expected, 'expected_version') }),
    ...(correlation === undefined ? {} : { correlation_id: correlation }),
    ...(traceparent === undefined ? {} : { traceparent }),
  });
  parsed.set(envelope, limits);
  return envelope;
}

/** Builds a command envelope for a stream from a command and its context. */
export function commandEnvelope(
  key: StreamKey,
  command: Command,
  ctx: CommandContext = {},
  limits: DataLimits = DEFAULT_DATA_LIMITS,
): CommandEnvelope {
  return parseCommandEnvelope(
    {
      tenant_id: key.tenant,
      command_id: ctx.commandId,
      aggregate_type: key.type,
      aggregate_id: key.id,
      payload: command,
      metadata: {
        ...ctx.metadata,
        ...(ctx.actorId === undefined ? {} : { actor_id: ctx.actorId }),
      },
      expected_version: ctx.expectedVersion,
      correlation_id: ctx.correlationId,
      traceparent: ctx.traceparent,
    },
    limits,
  );
}

export function streamKeyOf(envelope: {
  tenant_id: TenantId;
  aggregate_type: AggregateType;
  aggregate_id: AggregateId;
}): StreamKey {
  return { tenant: envelope.tenant_id, type: envelope.aggregate_type, id: envelope.aggregate_id };
}

/** Validates an event envelope read back from storage or given to `inject`. */
export function parseEventEnvelope(value: unknown): EventEnvelope {
  if (!isJsonObject(value)) throw new ValidationError('event envelope must be an object', 'event');
  const event = parseEvent({ type: value.event_type, data: value.payload });
  const str = (k: string): string => {
    const v = value[k];
    if (typeof v !== 'string' || v === '')
      throw new ValidationError(`event ${k} must be a non-empty string`, k);
    return v;
  };
  if (Number.isNaN(Date.parse(str('timestamp'))))
    throw new ValidationError('event timestamp is not a date', 'timestamp');
  return {
    tenant_id: Tenant.parse(value.tenant_id ?? ''),
    event_id: Uuid.parse(value.event_id, 'event_id'),
    aggregate_type: AggType.parse(value.aggregate_type),
    aggregate_id: AggId.parse(value.aggregate_id),
    version: Ver.parse(value.version),
    event_type: event.type,
    payload: event.data,
    command_id: Uuid.parse(value.command_id, 'command_id'),
    correlation_id: str('correlation_id'),
    trace_id: str('trace_id'),
    timestamp: str('timestamp'),
    metadata: parseMetadata(value.metadata, 'metadata'),
  };
}
