import { ValidationError } from '../errors/index.js';
import { newUuidV7 } from './randomBytes.js';
import { preview } from './json.js';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type TenantId = Brand<string, 'TenantId'>;
export type AggregateId = Brand<string, 'AggregateId'>;
export type AggregateType = Brand<string, 'AggregateType'>;
/** Number of events applied to an aggregate; 0 means it does not exist yet. */
export type Version = number;

const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const AGGREGATE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const AGGREGATE_TYPE = /^[a-z][a-z0-9_-]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Subject and path token of the default tenant (the empty tenant id of a
 * deployment that is not multi-tenant). `=` never appears in a valid tenant id (and is legal in NATS subjects, KV keys and file names),
 * so no tenant can collide with it.
 */
export const DEFAULT_TENANT_TOKEN = '=default';

function checked<T extends string>(
  value: unknown,
  pattern: RegExp,
  field: string,
  rule: string,
): T {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new ValidationError(`invalid ${field} ${preview(value)}: ${rule}`, field);
  }
  return value as T;
}

export const TenantId = {
  DEFAULT: '' as TenantId,
  /** Validates a tenant id; the empty string is the default tenant. */
  parse(value: unknown, field = 'tenant_id'): TenantId {
    if (value === '') return TenantId.DEFAULT;
    return checked(value, TENANT_ID, field, 'expected 1-64 of A-Z a-z 0-9 _ -');
  },
  /** The token used in NATS subjects and file paths. */
  token(tenant: TenantId): string {
    return tenant === '' ? DEFAULT_TENANT_TOKEN : tenant;
  },
};

export const AggregateId = {
  parse(value: unknown, field = 'aggregate_id'): AggregateId {
    return checked(value, AGGREGATE_ID, field, 'expected 1-128 of A-Z a-z 0-9 _ -');
  },
  /** A new time-ordered id (UUID v7). */
  new(): AggregateId {
    return newUuidV7() as AggregateId;
  },
};

export const AggregateType = {
  parse(value: unknown, field = 'aggregate_type'): AggregateType {
    return checked(
      value,
      AGGREGATE_TYPE,
      field,
      'expected a lowercase letter then up to 63 of a-z 0-9 _ -',
    );
  },
};

export const Version = {
  parse(value: unknown, field = 'version'): Version {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new ValidationError(
        `invalid ${field} ${preview(value)}: expected an integer >= 0`,
        field,
      );
    }
    return value;
  },
};

/** UUIDs identify commands and events; v7 so they sort by creation time. */
export const Uuid = {
  new(): string {
    return newUuidV7();
  },
  parse(value: unknown, field: string): string {
    return checked(value, UUID, field, 'expected a UUID');
  },
};

/** Identity of one aggregate's event stream. */
export interface StreamKey {
  readonly tenant: TenantId;
  readonly type: AggregateType;
  readonly id: AggregateId;
}

export const StreamKey = {
  of(tenant: string, type: string, id: string): StreamKey {
    return {
      tenant: TenantId.parse(tenant),
      type: AggregateType.parse(type),
      id: AggregateId.parse(id),
    };
  },
  /** `<tenant-token>.<type>.<id>`: unique, subject-safe, used as map and KV key. */
  toString(key: StreamKey): string {
    return `${TenantId.token(key.tenant)}.${key.type}.${key.id}`;
  },
  fromString(text: string): StreamKey {
    const [tenant, type, id, ...rest] = text.split('.');
    if (tenant === undefined || type === undefined || id === undefined || rest.length > 0) {
      throw new ValidationError(`invalid stream key ${preview(text)}`, 'stream');
    }
    return StreamKey.of(tenant === DEFAULT_TENANT_TOKEN ? '' : tenant, type, id);
  },
  /** NATS subject of the stream: `tenant.<tenant>.aggregate.<type>.<id>`. */
  subject(key: StreamKey): string {
    return `tenant.${TenantId.token(key.tenant)}.aggregate.${key.type}.${key.id}`;
  },
};
