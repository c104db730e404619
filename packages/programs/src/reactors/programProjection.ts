import type { AggregateType, AsyncProjection, EventEnvelope, JsonValue } from '@tenantfold/core';
import { ApplyError } from '@tenantfold/core';
import type { ProgramLimits, ProgramRuntime, ProgramSource } from '../sandbox/index.js';
import { ProgramCaller } from './programCaller.js';

export interface ProgramReactorOptions {
  /** Unique within its section of the manifest; names checkpoints. */
  readonly name: string;
  /** Aggregate types whose events the program sees. */
  readonly subscribes: readonly AggregateType[];
  readonly program: ProgramSource;
  readonly runtime: ProgramRuntime;
  /** @default runtime.limits */
  readonly limits?: Partial<ProgramLimits>;
}

/**
 * A core `Projection` whose fold is a sandboxed program defining
 * `initialState()` and `project(state, event)`; `event` is the whole event
 * envelope (`event_type`, `payload`, `aggregate_id`, `version`, …).
 * A failing `project` is an `ApplyError` naming the projection and the file:
 * the runner stops at that event and tries again later.
 */
export class ProgramProjection implements AsyncProjection<JsonValue> {
  readonly name: string;
  readonly subscribes: readonly AggregateType[];

  private constructor(
    private readonly caller: ProgramCaller,
    options: ProgramReactorOptions,
    private readonly initialJson: string,
  ) {
    this.name = options.name;
    this.subscribes = options.subscribes;
  }

  /**
   * Compiles (or reuses) the program, checks it defines `initialState` and
   * `project`, and computes the initial state once.
   * @throws ValidationError naming the file (`field` is `program`)
   */
  static async load(options: ProgramReactorOptions): Promise<ProgramProjection> {
    const caller = await ProgramCaller.load(options, 'projection', ['initialState', 'project']);
    const initialJson = await caller.callAtLoad('initialState', []);
    return new ProgramProjection(caller, options, initialJson);
  }

  initialState(): JsonValue {
    return JSON.parse(this.initialJson) as JsonValue;
  }

  /** Folds many events in one crossing into the sandbox. */
  async applyMany(state: JsonValue, events: readonly EventEnvelope[]): Promise<JsonValue> {
    const outcome = await this.caller.callBatch(
      'project',
      'fold',
      [state, events as unknown as JsonValue],
      events.length,
    );
    if (outcome.kind === 'returned') return JSON.parse(outcome.json) as JsonValue;
    throw new ApplyError(
      `projection ${this.name}: ${this.caller.filename}: project failed in a batch of ${events.length} events: ${outcome.message}`,
    );
  }

  async apply(state: JsonValue, event: EventEnvelope): Promise<JsonValue> {
    const outcome = await this.caller.call('project', [state, event as unknown as JsonValue]);
    if (outcome.kind === 'returned') return JSON.parse(outcome.json) as JsonValue;
    throw new ApplyError(
      `projection ${this.name}: ${this.caller.filename}: project failed on ${event.event_type} (version ${event.version} of ${event.aggregate_type} ${event.aggregate_id}): ${outcome.message}`,
    );
  }
}
