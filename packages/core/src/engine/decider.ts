import type { Command, Event } from '../domain/index.js';

export type Awaitable<T> = T | Promise<T>;

/**
 * An aggregate as a pure state machine. `decide` turns a command into events
 * (or throws `DomainError` to reject it); `evolve` folds one event into the
 * state. State must be plain JSON so it can be snapshotted.
 */
export interface Decider<State = unknown, C extends Command = Command, E extends Event = Event> {
  /** The aggregate type, e.g. `order`; see `AggregateType`. */
  readonly type: string;
  initialState(): State;
  decide(state: State, command: C): Awaitable<E | readonly E[]>;
  evolve(state: State, event: E): Awaitable<State>;
  /** Snapshot every N events; 0 never. @default the store's `snapshotEvery` */
  readonly snapshotEvery?: number;
  /** Re-decides after a concurrent append at most this often. @default the store's `maxRetries` */
  readonly maxRetries?: number;
}

// Variance escape hatch: a registry holds deciders of many state/command types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDecider = Decider<any, any, any>;

export type StateOf<D> = D extends Decider<infer S, Command, Event> ? S : never;
export type CommandOf<D> = D extends Decider<unknown, infer C, Event> ? C : never;
