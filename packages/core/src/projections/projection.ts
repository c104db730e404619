import type { EventEnvelope } from '../domain/index.js';
import type { Awaitable } from '../engine/decider.js';

/**
 * A read model folded from the events of the aggregate types it subscribes
 * to. State must be plain JSON: it is checkpointed with the stream cursors.
 */
export interface Projection<State = unknown> {
  /** Unique among the store's projections; names its checkpoint. */
  readonly name: string;
  /** Aggregate types whose events are folded. */
  readonly subscribes: readonly string[];
  initialState(): State;
  apply(state: State, event: EventEnvelope): State;
}

/**
 * A projection whose fold may be async (a sandboxed program). Every
 * `Projection` is one; the node's per-tenant runner takes these.
 */
export interface AsyncProjection<State = unknown> extends Omit<Projection<State>, 'apply'> {
  apply(state: State, event: EventEnvelope): Awaitable<State>;
  /**
   * Optional: folds many events at once, as `apply` one by one would (a
   * sandboxed program crosses into its sandbox once). On failure the runner
   * falls back to `apply` to find the event at fault.
   */
  applyMany?(state: State, events: readonly EventEnvelope[]): Awaitable<State>;
}
