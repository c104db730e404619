import type { Command } from 'commander';
import type { CliContext } from './context.js';

/** An action's result: an exit code, or nothing for success. */
export type ActionResult = number | void;

/** What each command module gets. */
export interface CommandSet {
  readonly program: Command;
  readonly context: CliContext;
  readonly run: <A extends unknown[]>(
    action: (...args: A) => Promise<ActionResult>,
  ) => (...args: A) => Promise<void>;
}
