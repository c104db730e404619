import type { Commit, EventEnvelope, StreamKey } from '@tenantfold/core';
import { Uuid } from '@tenantfold/core';

/** A commit of `count` Added events that brings `key` to `version`. */
export function commitOf(
  key: StreamKey,
  version: number,
  options: { count?: number; commandId?: string; n?: number } = {},
): Commit {
  const count = options.count ?? 1;
  const commandId = options.commandId ?? Uuid.new();
  const timestamp = new Date().toISOString();
  const events = Array.from({ length: count }, (_, i): EventEnvelope => ({
    tenant_id: key.tenant,
    event_id: Uuid.new(),
    aggregate_type: key.type,
    aggregate_id: key.id,
    version: version - count + 1 + i,
    event_type: 'Added',
    payload: { n: options.n ?? 1 },
    command_id: commandId,
    correlation_id: commandId,
    trace_id: '0af7651916cd43dd8448eb211c80319c',
    timestamp,
    metadata: {},
  }));
  return { command_id: commandId, stream: key, version, events, timestamp };
}
