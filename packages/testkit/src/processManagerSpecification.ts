import type { EventEnvelope, ProcessManager, ProcessManagerCommand } from '@tenantfold/core';
import { Uuid } from '@tenantfold/core';
import { expect } from 'vitest';

/** A minimal event on an aggregate, filled out into a full envelope for `react`. */
export interface GivenEvent {
  readonly aggregate_type: string;
  readonly aggregate_id: string;
  readonly type: string;
  readonly data?: EventEnvelope['payload'];
  readonly version?: number;
  readonly tenant_id?: string;
}

export function eventEnvelopeOf(given: GivenEvent): EventEnvelope {
  const commandId = Uuid.new();
  return {
    tenant_id: (given.tenant_id ?? '') as EventEnvelope['tenant_id'],
    event_id: Uuid.new(),
    aggregate_type: given.aggregate_type as EventEnvelope['aggregate_type'],
    aggregate_id: given.aggregate_id as EventEnvelope['aggregate_id'],
    version: given.version ?? 1,
    event_type: given.type,
    payload: given.data ?? {},
    command_id: commandId,
    correlation_id: commandId,
    trace_id: Uuid.new().replaceAll('-', ''),
    timestamp: new Date().toISOString(),
    metadata: {},
  };
}

/** Given events, then the commands a process manager asks for. */
export const ProcessManagerSpecification = {
  for(manager: ProcessManager) {
    return (events: readonly GivenEvent[]) => {
      const commands = (): ProcessManagerCommand[] =>
        events.flatMap((given) => {
          const event = eventEnvelopeOf(given);
          return manager.react(event.aggregate_type, event.aggregate_id, event);
        });
      return {
        then(expected: readonly Omit<ProcessManagerCommand, 'context'>[]): void {
          expect(commands().map(({ context: _context, ...rest }) => rest)).toEqual(expected);
        },
        thenNothing(): void {
          expect(commands()).toEqual([]);
        },
      };
    };
  },
};
