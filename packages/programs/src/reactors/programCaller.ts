import type { JsonValue } from '@tenantfold/core';
import { ProgramLimitError, ValidationError } from '@tenantfold/core';
import type {
  BatchMode,
  CallOutcome,
  Program,
  ProgramFunction,
  ProgramLimits,
  ProgramRuntime,
  ProgramSource,
} from '../sandbox/index.js';
import { resolveLimits } from '../sandbox/index.js';

/** What a call gave: its JSON, or the message of why it failed. */
export type Outcome =
  | { readonly kind: 'returned'; readonly json: string }
  | { readonly kind: 'error'; readonly message: string };

/** Longest a batch of calls may run, in ms (the largest per-call limit). */
const MAX_BATCH_CPU_MS = 60_000;

/** A loaded program with its limits, as projections and process managers call it. */
export class ProgramCaller {
  private constructor(
    private readonly program: Program,
    private readonly source: ProgramSource,
    private readonly limits: ProgramLimits,
    /** `projection <name>` or `process manager <name>`, for error messages. */
    private readonly label: string,
  ) {}

  get filename(): string {
    return this.source.filename;
  }

  /**
   * Compiles (or reuses) the program and checks it defines `required`.
   * @throws ValidationError naming the file, with `field` `program`
   */
  static async load(
    options: {
      readonly name: string;
      readonly program: ProgramSource;
      readonly runtime: ProgramRuntime;
      readonly limits?: Partial<ProgramLimits>;
    },
    kind: 'projection' | 'process manager',
    required: readonly ProgramFunction[],
  ): Promise<ProgramCaller> {
    const limits = resolveLimits(options.runtime.limits, options.limits);
    let program: Program;
    try {
      program = await options.runtime.load(options.program, limits);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      throw new ValidationError(error.message, 'program', { cause: error.cause ?? error });
    }
    const missing = required.filter((fn) => !program.functions.has(fn));
    if (missing.length > 0) {
      throw new ValidationError(
        `${options.program.filename}: does not define ${missing.map((fn) => `function ${fn}()`).join(' and ')}`,
        'program',
      );
    }
    return new ProgramCaller(program, options.program, limits, `${kind} ${options.name}`);
  }

  /** Runs `fn`; a limit is a `ProgramLimitError` naming the program. */
  call(fn: ProgramFunction, args: readonly JsonValue[]): Promise<Outcome> {
    return this.outcomeOf(() => this.program.call(fn, args, this.limits));
  }

  /**
   * `count` calls of `fn` in one crossing (see `Program.callBatch`), with
   * `count` times the per-call CPU budget for the batch.
   */
  callBatch(
    fn: ProgramFunction,
    mode: BatchMode,
    args: JsonValue,
    count: number,
  ): Promise<Outcome> {
    const cpuMs = Math.min(this.limits.cpuMs * Math.max(count, 1), MAX_BATCH_CPU_MS);
    return this.outcomeOf(() => this.program.callBatch(fn, mode, args, { cpuMs }));
  }

  private async outcomeOf(run: () => Promise<CallOutcome>): Promise<Outcome> {
    let outcome: CallOutcome;
    try {
      outcome = await run();
    } catch (error) {
      if (error instanceof ProgramLimitError) {
        throw new ProgramLimitError(`${this.label}: ${this.filename}: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
    if (outcome.kind === 'returned') return outcome;
    const message =
      outcome.kind === 'failed' ? `${outcome.name}: ${outcome.message}` : outcome.message;
    return { kind: 'error', message };
  }

  /** Runs `fn` at load, where any failure is a `ValidationError`; returns the result's JSON. */
  async callAtLoad(fn: ProgramFunction, args: readonly JsonValue[]): Promise<string> {
    let outcome: Outcome;
    try {
      outcome = await this.call(fn, args);
    } catch (error) {
      throw new ValidationError(
        `${this.filename}: ${fn}() failed: ${(error as Error).message}`,
        'program',
        {
          cause: error,
        },
      );
    }
    if (outcome.kind !== 'returned') {
      throw new ValidationError(`${this.filename}: ${fn}() threw ${outcome.message}`, 'program');
    }
    return outcome.json;
  }
}
