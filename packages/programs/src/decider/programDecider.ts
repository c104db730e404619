import type {
  AggregateType,
  Command,
  DataLimits,
  Decider,
  Event,
  JsonValue,
} from '@tenantfold/core';
import {
  AggregateType as AggType,
  ApplyError,
  DomainError,
  ProgramLimitError,
  ValidationError,
  parseEvent,
} from '@tenantfold/core';
import type {
  CallOutcome,
  Program,
  ProgramFunction,
  ProgramLimits,
  ProgramRuntime,
  ProgramSource,
} from '../sandbox/index.js';
import { resolveLimits } from '../sandbox/index.js';

export interface ProgramDeciderOptions {
  /** The aggregate type, e.g. `account`; checked with `AggregateType.parse`. */
  readonly type: string;
  /** The program that defines `decide(state, command)`. */
  readonly decide: ProgramSource;
  /**
   * The program that defines `evolve(state, event)` and `initialState()`; may
   * be the same source as `decide` (it is then compiled once).
   */
  readonly apply: ProgramSource;
  /** Compiles and runs the programs. */
  readonly runtime: ProgramRuntime;
  /** Limits for this type's calls; any not given come from the runtime. @default runtime.limits */
  readonly limits?: Partial<ProgramLimits>;
  /** Snapshot every N events; 0 never. @default the store's `snapshotEvery` */
  readonly snapshotEvery?: number;
  /** Re-decides after a concurrent append at most this often. @default the store's `maxRetries` */
  readonly maxRetries?: number;
}

interface Loaded {
  readonly type: AggregateType;
  readonly limits: ProgramLimits;
  readonly options: ProgramDeciderOptions;
  readonly decideProgram: Program;
  readonly applyProgram: Program;
  readonly initialJson: string;
}

const CONTRACT: Readonly<Partial<Record<ProgramFunction, string>>> = {
  decide: 'decide(state, command)',
  evolve: 'evolve(state, event)',
  initialState: 'initialState()',
};

/**
 * A core `Decider` whose decide and evolve are sandboxed JavaScript programs;
 * register it with `AggregateStore.builder(dir).aggregate(decider)` like any
 * TypeScript decider.
 *
 * The program contract (see the package README):
 * - the decide program defines `function decide(state, command)`; it returns
 *   an event `{ type, data }` or an array of them (an empty array: nothing
 *   happens), and refuses a command with `reject(message)` or
 *   `throw new Error(message)`, which becomes a `DomainError` with exactly
 *   that message;
 * - the apply program defines `function evolve(state, event)`, returning the
 *   new state, and `function initialState()`;
 * - state, commands and events are plain JSON; programs are synchronous, run
 *   in strict mode, and have no clock, randomness, timers, I/O or modules.
 *
 * Errors: a program bug in decide (a TypeError, a result that is not JSON, an
 * invalid event) is a `DomainError` that names the file; any failure of
 * evolve is an `ApplyError`; running out of time or memory is a
 * `ProgramLimitError`; problems found at load are `ValidationError`s.
 *
 * `initialState()` runs once, at load (it must be deterministic like the rest
 * of the program); each call returns a fresh copy of that state.
 */
export class ProgramDecider implements Decider<JsonValue, Command, Event> {
  readonly type: AggregateType;
  /** The limits every call of this type runs under. */
  readonly limits: ProgramLimits;
  /** What its results are held to (the runtime's). */
  private readonly dataLimits: DataLimits;
  readonly snapshotEvery?: number;
  readonly maxRetries?: number;
  private readonly decideSource: ProgramSource;
  private readonly applySource: ProgramSource;
  private readonly decideProgram: Program;
  private readonly applyProgram: Program;
  /** JSON text of the state `initialState()` returned at load. */
  private readonly initialJson: string;

  private constructor(loaded: Loaded) {
    this.type = loaded.type;
    this.limits = loaded.limits;
    this.decideSource = loaded.options.decide;
    this.applySource = loaded.options.apply;
    this.decideProgram = loaded.decideProgram;
    this.applyProgram = loaded.applyProgram;
    this.initialJson = loaded.initialJson;
    this.dataLimits = loaded.options.runtime.dataLimits;
    const { snapshotEvery, maxRetries } = loaded.options;
    if (snapshotEvery !== undefined) this.snapshotEvery = snapshotEvery;
    if (maxRetries !== undefined) this.maxRetries = maxRetries;
  }

  /**
   * Compiles (or reuses) both programs, checks that they define the contract's
   * functions, and computes the initial state.
   * @throws ValidationError naming the file (`field` is `decide` or `apply`)
   */
  static async load(options: ProgramDeciderOptions): Promise<ProgramDecider> {
    const type = AggType.parse(options.type, 'type');
    const limits = resolveLimits(options.runtime.limits, options.limits);
    const decideProgram = await loadAs(options.runtime, options.decide, limits, 'decide', [
      'decide',
    ]);
    const applyProgram = await loadAs(options.runtime, options.apply, limits, 'apply', [
      'evolve',
      'initialState',
    ]);
    const file = options.apply.filename;
    let outcome: CallOutcome;
    try {
      outcome = await applyProgram.call('initialState', [], limits);
    } catch (error) {
      throw new ValidationError(
        `${file}: initialState() failed: ${(error as Error).message}`,
        'apply',
        { cause: error },
      );
    }
    if (outcome.kind !== 'returned') {
      throw new ValidationError(`${file}: initialState() threw ${describe(outcome)}`, 'apply');
    }
    const { stateBytes } = options.runtime.dataLimits;
    const bytes = Buffer.byteLength(outcome.json);
    if (bytes > stateBytes) {
      throw new ValidationError(
        `${file}: initialState() returned ${bytes} bytes, over the state limit of ${stateBytes}`,
        'apply',
      );
    }
    return new ProgramDecider({
      type,
      limits,
      options,
      decideProgram,
      applyProgram,
      initialJson: outcome.json,
    });
  }

  initialState(): JsonValue {
    return JSON.parse(this.initialJson) as JsonValue;
  }

  async decide(state: JsonValue, command: Command): Promise<Event[]> {
    const outcome = await this.run(this.decideProgram, this.decideSource, 'decide', [
      state,
      command as unknown as JsonValue,
    ]);
    const file = this.decideSource.filename;
    switch (outcome.kind) {
      case 'rejected':
        throw new DomainError(outcome.message);
      case 'failed':
        throw new DomainError(`${this.type}: ${file}: decide failed: ${describe(outcome)}`);
      case 'returned': {
        const decided = JSON.parse(outcome.json) as unknown;
        const list: unknown[] = Array.isArray(decided) ? decided : [decided];
        const most = this.dataLimits.eventsPerCommand;
        if (list.length > most) {
          throw new ProgramLimitError(
            `${this.type}: ${file}: decide returned ${list.length} events, over the limit of ${most} per command`,
          );
        }
        try {
          return list.map((event, i) => parseEvent(event, `event ${i}`));
        } catch (error) {
          throw new DomainError(
            `${this.type}: ${file}: decide returned an invalid event: ${(error as Error).message}`,
            { cause: error },
          );
        }
      }
    }
  }

  async evolve(state: JsonValue, event: Event): Promise<JsonValue> {
    const outcome = await this.run(this.applyProgram, this.applySource, 'evolve', [
      state,
      event as unknown as JsonValue,
    ]);
    if (outcome.kind === 'returned') {
      const bytes = Buffer.byteLength(outcome.json);
      if (bytes > this.dataLimits.stateBytes) {
        throw new ProgramLimitError(
          `${this.type}: ${this.applySource.filename}: evolve returned a state of ${bytes} bytes, over the limit of ${this.dataLimits.stateBytes}`,
        );
      }
      return JSON.parse(outcome.json) as JsonValue;
    }
    throw new ApplyError(
      `${this.type}: ${this.applySource.filename}: evolve failed on ${event.type}: ${describe(outcome)}`,
    );
  }

  private async run(
    program: Program,
    source: ProgramSource,
    fn: ProgramFunction,
    args: readonly JsonValue[],
  ): Promise<CallOutcome> {
    try {
      return await program.call(fn, args, this.limits);
    } catch (error) {
      if (error instanceof ProgramLimitError) {
        throw new ProgramLimitError(`${this.type}: ${source.filename}: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
  }
}

async function loadAs(
  runtime: ProgramRuntime,
  source: ProgramSource,
  limits: ProgramLimits,
  field: 'decide' | 'apply',
  required: readonly ProgramFunction[],
): Promise<Program> {
  let program: Program;
  try {
    program = await runtime.load(source, limits);
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new ValidationError(error.message, field, { cause: error.cause ?? error });
    }
    throw error;
  }
  const missing = required.filter((fn) => !program.functions.has(fn));
  if (missing.length > 0) {
    const list = missing.map((fn) => `function ${CONTRACT[fn]}`).join(' and ');
    throw new ValidationError(`${source.filename}: does not define ${list}`, field);
  }
  return program;
}

function describe(outcome: Exclude<CallOutcome, { kind: 'returned' }>): string {
  return outcome.kind === 'failed' ? `${outcome.name}: ${outcome.message}` : outcome.message;
}
