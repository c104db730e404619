import type { EventEnvelope, JsonValue, Metadata } from '../domain/index.js';
import type { Awaitable } from '../engine/decider.js';

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

/**
 * A process manager whose reaction may be async (a sandboxed program). Every
 * `ProcessManager` is one; the node's per-tenant runner takes these.
 */
export interface AsyncProcessManager extends Omit<ProcessManager, 'react'> {
  react(
    aggregateType: string,
    streamId: string,
    event: EventEnvelope,
  ): Awaitable<readonly ProcessManagerCommand[]>;
  /**
   * Optional: the reactions to many events at once (one list per event), as
   * `react` one by one would. On failure the runner falls back to `react`.
   */
  reactMany?(
    events: readonly EventEnvelope[],
  ): Awaitable<ReadonlyArray<readonly ProcessManagerCommand[]>>;
}

export interface ProcessManagerReport {
  readonly dispatched: number;
  readonly deadLettered: number;
}
