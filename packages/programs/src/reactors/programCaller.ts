import type { JsonValue } from '@tenantfold/core';
import { ProgramLimitError, ValidationError } from '@tenantfold/core';
import type {
  CallOutcome,
  Program,
  ProgramFunction,
  ProgramLimits,
  ProgramRuntime,
  ProgramSource,
} from '../sandbox/index.js';
import { resolveLimits } from '../sandbox/index.js';

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
  async call(
    fn: ProgramFunction,
    args: readonly JsonValue[],
  ): Promise<
    Exclude<CallOutcome, { kind: 'rejected' | 'failed' }> | { kind: 'error'; message: string }
  > {
    let outcome: CallOutcome;
    try {
      outcome = await this.program.call(fn, args, this.limits);
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
    let outcome: Awaited<ReturnType<ProgramCaller['call']>>;
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
