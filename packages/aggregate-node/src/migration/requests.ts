import type { JsonObject } from '@tenantfold/core';
import { isJsonObject, TenantId, ValidationError } from '@tenantfold/core';

/** One aggregate as a drain reports it and a verify checks it (docs/migration.md). */
export interface AggregatePosition {
  readonly type: string;
  readonly id: string;
  /** Events applied. */
  readonly version: number;
  /** JetStream stream sequence of the aggregate's last commit. */
  readonly position: number;
  /** Core's `stateHash(state)`. */
  readonly state_hash: string;
}

/** `{tenant_id, epoch?}`: the body of warm, drain, release and resume. */
export interface TenantRequest {
  readonly tenant: TenantId;
  /** The migration's fencing number; absent on a drain or resume by hand. */
  readonly epoch: number | undefined;
}

/** A step of a migration: the epoch is required. */
export interface MigrationStepRequest extends TenantRequest {
  readonly epoch: number;
}

/**
 * What a verify compares: `all` the tenant (a drain's full report), `pre` a
 * report taken while the source still serves (outside the hold), or the
 * `delta` of a drain after pre-verified rounds (in the hold).
 */
export type VerifyScope = 'all' | 'pre' | 'delta';

export interface VerifyRequest extends MigrationStepRequest {
  readonly aggregates: readonly AggregatePosition[];
  readonly scope: VerifyScope;
  /** `delta`: the position of the last pre-verified report. */
  readonly after: number | undefined;
}

/** A report or drain of only the aggregates committed after `after` (undefined: all of them). */
export interface SinceRequest extends TenantRequest {
  readonly after: number | undefined;
}

const STATE_HASH = /^[0-9a-f]{64}$/;

function bodyObject(body: unknown, shape: string): JsonObject {
  if (!isJsonObject(body)) throw new ValidationError(`body must be ${shape}`, 'body');
  return body;
}

function integer(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(
      `${field} must be a non-negative integer, got ${JSON.stringify(value) ?? 'nothing'}`,
      field,
    );
  }
  return value;
}

/** `{"tenant_id": "...", "epoch": n}`; `epoch` may be left out unless `epochRequired`. */
export function parseTenantRequest(body: unknown, epochRequired: true): MigrationStepRequest;
export function parseTenantRequest(body: unknown, epochRequired: boolean): TenantRequest;
export function parseTenantRequest(body: unknown, epochRequired: boolean): TenantRequest {
  const shape = epochRequired
    ? '{"tenant_id": "...", "epoch": <integer>}'
    : '{"tenant_id": "...", "epoch"?: <integer>}';
  const object = bodyObject(body, shape);
  if (typeof object.tenant_id !== 'string') {
    throw new ValidationError(`body must be ${shape}: tenant_id is missing`, 'tenant_id');
  }
  const tenant = TenantId.parse(object.tenant_id, 'tenant_id');
  if (object.epoch === undefined && !epochRequired) return { tenant, epoch: undefined };
  return { tenant, epoch: integer(object.epoch, 'epoch') };
}

/** `{tenant_id, epoch?, after?}`: a report or drain, whole or since a position. */
export function parseSinceRequest(body: unknown, epochRequired: boolean): SinceRequest {
  const request = parseTenantRequest(body, epochRequired);
  const after = (body as JsonObject).after;
  return { ...request, after: after === undefined ? undefined : integer(after, 'after') };
}

/** `{tenant_id, epoch, aggregates: [{type, id, version, position, state_hash}], scope?, after?}`. */
export function parseVerifyRequest(body: unknown): VerifyRequest {
  const { tenant, epoch } = parseTenantRequest(body, true);
  const { scope = 'all', after } = body as JsonObject;
  if (scope !== 'all' && scope !== 'pre' && scope !== 'delta') {
    throw new ValidationError(
      `scope must be "all", "pre" or "delta", got ${JSON.stringify(scope)}`,
      'scope',
    );
  }
  if (scope === 'delta' && after === undefined) {
    throw new ValidationError(
      'a delta verify needs `after`: the last pre-verified position',
      'after',
    );
  }
  const list = (body as JsonObject).aggregates;
  if (!Array.isArray(list)) {
    throw new ValidationError(
      'aggregates must be the list of a drain report: [{type, id, version, position, state_hash}]',
      'aggregates',
    );
  }
  const aggregates = list.map((item, i): AggregatePosition => {
    const at = `aggregates[${i}]`;
    if (!isJsonObject(item)) throw new ValidationError(`${at} must be an object`, at);
    for (const field of ['type', 'id'] as const) {
      if (typeof item[field] !== 'string' || item[field] === '') {
        throw new ValidationError(`${at}.${field} must be a non-empty string`, `${at}.${field}`);
      }
    }
    if (typeof item.state_hash !== 'string' || !STATE_HASH.test(item.state_hash)) {
      throw new ValidationError(
        `${at}.state_hash must be 64 hex digits, got ${JSON.stringify(item.state_hash) ?? 'nothing'}`,
        `${at}.state_hash`,
      );
    }
    return {
      type: item.type as string,
      id: item.id as string,
      version: integer(item.version, `${at}.version`),
      position: integer(item.position, `${at}.position`),
      state_hash: item.state_hash,
    };
  });
  return {
    tenant,
    epoch,
    aggregates,
    scope,
    after: after === undefined ? undefined : integer(after, 'after'),
  };
}
