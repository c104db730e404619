import type { AnyDecider, CommandOf, Event, StateOf } from '@tenantfold/core';
import { parseEvent } from '@tenantfold/core';
import { expect } from 'vitest';

type ErrorClass = abstract new (...args: never[]) => Error;

export interface DeciderThen<E> {
  /** The command produced exactly these events. */
  then(expected: readonly E[]): Promise<void>;
  /** The command was rejected with this error class (and, if given, a message containing `message`). */
  thenThrows(errorClass: ErrorClass, message?: string | RegExp): Promise<void>;
  /** The state after folding the given events and the produced ones. */
  thenState(expected: unknown): Promise<void>;
}

/**
 * Given/when/then for deciders, as in Emmett's `DeciderSpecification`:
 *
 *     const given = DeciderSpecification.for(account);
 *     await given([{ type: 'Opened', data: { balance: 0 } }])
 *       .when({ type: 'Withdraw', data: { amount: 10 } })
 *       .thenThrows(DomainError);
 */
export const DeciderSpecification = {
  for<D extends AnyDecider>(decider: D) {
    return (givenEvents: readonly Event[] = []) => ({
      when(command: CommandOf<D>): DeciderThen<Event> {
        const fold = async (events: readonly Event[], from: StateOf<D>): Promise<StateOf<D>> => {
          let state = from;
          for (const event of events) state = (await decider.evolve(state, event)) as StateOf<D>;
          return state;
        };
        const run = async (): Promise<{ state: StateOf<D>; events: Event[] }> => {
          const state = await fold(givenEvents, decider.initialState() as StateOf<D>);
          const decided = (await decider.decide(state, command)) as Event | readonly Event[];
          const events = (Array.isArray(decided) ? decided : [decided]) as Event[];
          return { state, events: events.map((e, i) => parseEvent(e, `event ${i}`)) };
        };
        return {
          async then(expected) {
            expect((await run()).events).toEqual(expected);
          },
          async thenThrows(errorClass, message) {
            const outcome = run();
            await expect(outcome).rejects.toBeInstanceOf(errorClass);
            if (message !== undefined) await expect(outcome).rejects.toThrow(message);
          },
          async thenState(expected) {
            const { state, events } = await run();
            expect(await fold(events, state)).toEqual(expected);
          },
        };
      },
    });
  },
};
