import { AggregateId, AggregateType, ValidationError } from '@tenantfold/core';
import type { Filter } from '@tenantfold/query/language';
import { parseFilter, parseSort } from '@tenantfold/query/language';

/** `tenantfold.v1.QueryRequest` without the tenant, checked. */
export interface QueryMessage {
  readonly aggregate_type: string;
  readonly filter: string;
  readonly sort: string;
  readonly limit: number;
  readonly cursor: string;
  readonly consistency_token?: number;
}

/** A subscription request, checked; the filter parsed for the router's own view of the set. */
export interface SubscribeMessage {
  readonly aggregate_type: string;
  readonly filterText: string;
  readonly filter: Filter;
  readonly consistencyToken: number | undefined;
  readonly resume: ReadonlyMap<string, number>;
}

const MAX_UINT32 = 0xffff_ffff;
/** Most entries in a `resume` map: a client holds at most a few sets of this size. */
export const MAX_RESUME_ENTRIES = 100_000;

/**
 * Checks a query body (gRPC message or HTTP parameters) the same way for both
 * transports. Filter and sort are parsed here too, so a bad one is answered
 * by the router with the parser's position, before any node is asked.
 */
export function queryMessageOf(body: Readonly<Record<string, unknown>>): QueryMessage {
  const filter = text(body.filter, 'filter');
  const sort = text(body.sort, 'sort');
  parseFilter(filter);
  parseSort(sort);
  const token = optionalCount(body.consistency_token, 'consistency_token', Number.MAX_SAFE_INTEGER);
  return {
    aggregate_type: AggregateType.parse(body.aggregate_type),
    filter,
    sort,
    limit: optionalCount(body.limit, 'limit', MAX_UINT32) ?? 0,
    cursor: text(body.cursor, 'cursor'),
    ...(token === undefined ? {} : { consistency_token: token }),
  };
}

export function subscribeMessageOf(body: Readonly<Record<string, unknown>>): SubscribeMessage {
  const filterText = text(body.filter, 'filter');
  return {
    aggregate_type: AggregateType.parse(body.aggregate_type),
    filterText,
    filter: parseFilter(filterText),
    consistencyToken: optionalCount(
      body.consistency_token,
      'consistency_token',
      Number.MAX_SAFE_INTEGER,
    ),
    resume: resumeOf(body.resume),
  };
}

/** `resume`: aggregate id → last version seen (a map from gRPC, an object from HTTP). */
function resumeOf(value: unknown): ReadonlyMap<string, number> {
  if (value === undefined || value === null) return new Map();
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError('resume must map aggregate ids to versions', 'resume');
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_RESUME_ENTRIES) {
    throw new ValidationError(
      `resume has ${entries.length} entries; at most ${MAX_RESUME_ENTRIES}`,
      'resume',
    );
  }
  return new Map(
    entries.map(([id, version]) => [
      AggregateId.parse(id, 'resume'),
      optionalCount(version, `resume['${id}']`, Number.MAX_SAFE_INTEGER) ?? 0,
    ]),
  );
}

function text(value: unknown, field: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new ValidationError(`${field} must be a string`, field);
  return value;
}

function optionalCount(value: unknown, field: string, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new ValidationError(
      `${field} must be an integer from 0 to ${max}, got ${JSON.stringify(value)}`,
      field,
    );
  }
  return value;
}
