import type { JsonValue } from '@tenantfold/core';
import type { ProgramFunction } from './bootstrap.js';

/** A program as loaded into the sandbox: JavaScript source and the name to report it by. */
export interface ProgramSource {
  /** Name used in error messages and stack traces, e.g. `./decide.js`. */
  readonly filename: string;
  /** The program's JavaScript source (a script, not a module). */
  readonly code: string;
}

export interface CallOptions {
  /** Longest this call may run, in milliseconds; see `ProgramLimits.cpuMs`. */
  readonly cpuMs: number;
}

/**
 * How a call ended, short of a limit (limits throw `ProgramLimitError`):
 * - `returned`: the function returned `json` (JSON text of a JSON value);
 * - `rejected`: the program threw an `Error` (or a subclass of its own, or a
 *   string, or called `reject(message)`): a deliberate refusal;
 * - `failed`: a bug or a forbidden operation: a built-in error such as
 *   TypeError or ReferenceError, a result that is not JSON, a missing function.
 */
export type CallOutcome =
  | { readonly kind: 'returned'; readonly json: string }
  | { readonly kind: 'rejected'; readonly message: string }
  | { readonly kind: 'failed'; readonly name: string; readonly message: string };

/**
 * A compiled program on its own pool of isolates. Programs are shared: every load of
 * the same source (and memory limit) from one `ProgramRuntime` returns the
 * same `Program`.
 */
export interface Program {
  /** sha256 of the source, hex: the cache key. */
  readonly hash: string;
  /** The name the program was first loaded under. */
  readonly filename: string;
  /** Heap limit of each of the program's isolates, in MB. */
  readonly memoryMb: number;
  /** The contract functions the program defines at top level. */
  readonly functions: ReadonlySet<ProgramFunction>;
  /**
   * Runs `fn(...args)` in the sandbox. Arguments are copied in as JSON and the
   * result is copied out as JSON text. Calls to one program run one at a time on each of its isolates.
   * @throws ProgramLimitError when the call runs out of time or memory
   * @throws UnavailableError when the runtime has been disposed
   */
  call(fn: ProgramFunction, args: readonly JsonValue[], options: CallOptions): Promise<CallOutcome>;
  /**
   * Many calls of `fn` in one crossing into the sandbox (each still on a fresh
   * scope): `fold` takes `[state, items]` and returns the state after
   * `state = fn(state, item)` for every item; `each` takes a list of argument
   * lists and returns the list of results. The first failure ends the batch
   * and is its outcome. `options.cpuMs` bounds the whole batch.
   */
  callBatch(
    fn: ProgramFunction,
    mode: BatchMode,
    args: JsonValue,
    options: CallOptions,
  ): Promise<CallOutcome>;
}

/** How `Program.callBatch` runs its calls. */
export type BatchMode = 'fold' | 'each';
