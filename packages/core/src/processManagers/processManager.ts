import type { EventEnvelope, JsonValue, Metadata } from '../domain/index.js';

/** A command a process manager asks for: which aggregate, what, and with what context. */
export interface ProcessManagerCommand {
  readonly aggregate_type: string;
  /** Id of the target aggregate. */
  readonly instance_id: string;
  /** The command, `{ type, data }`; checked when dispatched. */
  readonly command: JsonValue;
  readonly context?: {
    readonly actorId?: string;
    readonly correlationId?: string;
    readonly metadata?: Metadata;
  };
}

/**
 * Reacts to events with commands for other aggregates (a saga). Dispatch is
 * at-least-once; each command gets an id derived from the event that caused
 * it, so a re-dispatch after a crash is recognised as a duplicate.
 */
export interface ProcessManager {
  readonly name: string;
  readonly subscribes: readonly string[];
  react(
    aggregateType: string,
    streamId: string,
    event: EventEnvelope,
  ): readonly ProcessManagerCommand[];
}

export interface ProcessManagerReport {
  readonly dispatched: number;
  readonly deadLettered: number;
}
