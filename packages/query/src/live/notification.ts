import {
  AggregateId,
  AggregateType,
  TenantId,
  ValidationError,
  isJsonObject,
  parseJson,
} from '@tenantfold/core';
import type { AppliedChange, StateRow } from '../readModel/types.js';

/**
 * What a node publishes after applying a commit, on `stateSubject(...)`:
 * the aggregate's new row. Subscribers (on any node or router) classify it
 * with their own LiveSet; `previous_version` lets them see a gap.
 */
export interface StateNotification extends StateRow {
  readonly tenant: string;
  readonly type: string;
  /** The version the row had before (0 for a new aggregate). */
  readonly previous_version: number;
}

/** The notification for a change the read model applied. */
export function notificationOf(change: AppliedChange): StateNotification {
  return {
    tenant: change.tenant,
    type: change.type,
    ...change.after,
    previous_version: change.before?.version ?? 0,
  };
}

/**
 * The core NATS subject of an aggregate's state notifications:
 * `state.<tenant token>.<type>.<id>`; without an id, the wildcard for the type.
 */
export function stateSubject(tenant: string, type: string, id?: string): string {
  const token = TenantId.token(TenantId.parse(tenant));
  return `state.${token}.${AggregateType.parse(type, 'type')}.${id === undefined ? '*' : AggregateId.parse(id, 'id')}`;
}

export function encodeNotification(notification: StateNotification): Uint8Array {
  return Buffer.from(JSON.stringify(notification));
}

/** @throws ValidationError naming the field when the message is not a notification. */
export function decodeNotification(bytes: Uint8Array): StateNotification {
  const value = parseJson(Buffer.from(bytes).toString('utf8'), 'notification');
  if (!isJsonObject(value))
    throw new ValidationError('notification must be an object', 'notification');
  const count = (field: string, min: number): number => {
    const n = value[field];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) {
      throw new ValidationError(
        `notification ${field} must be an integer >= ${min}, got ${JSON.stringify(n)}`,
        field,
      );
    }
    return n;
  };
  const { updated_at: updatedAt, state } = value;
  if (typeof updatedAt !== 'string') {
    throw new ValidationError('notification updated_at must be a string', 'updated_at');
  }
  if (state === undefined) throw new ValidationError('notification has no state', 'state');
  return {
    tenant: TenantId.parse(value.tenant ?? ''),
    type: AggregateType.parse(value.type, 'type'),
    id: AggregateId.parse(value.id, 'id'),
    version: count('version', 1),
    position: count('position', 0),
    previous_version: count('previous_version', 0),
    updated_at: updatedAt,
    state,
  };
}
