import type {
  AggregateType,
  EventEnvelope,
  JsonValue,
  AsyncProcessManager,
  ProcessManagerCommand,
} from '@tenantfold/core';
import { ApplyError, isJsonObject } from '@tenantfold/core';
import { ProgramCaller } from './programCaller.js';
import type { ProgramReactorOptions } from './programProjection.js';

/**
 * A core `ProcessManager` whose reaction is a sandboxed program defining
 * `react(event)`: it returns a list (maybe empty) of
 * `{ aggregate_type, instance_id, command: { type, data } }`. `event` is the
 * whole event envelope. A failing `react`, or a result of another shape, is
 * an `ApplyError` naming the process manager and the file: the runner stops
 * at that event and tries again later (after a fix and a reload).
 */
export class ProgramProcessManager implements AsyncProcessManager {
  readonly name: string;
  readonly subscribes: readonly AggregateType[];

  private constructor(
    private readonly caller: ProgramCaller,
    options: ProgramReactorOptions,
  ) {
    this.name = options.name;
    this.subscribes = options.subscribes;
  }

  /** @throws ValidationError naming the file (`field` is `program`) */
  static async load(options: ProgramReactorOptions): Promise<ProgramProcessManager> {
    const caller = await ProgramCaller.load(options, 'process manager', ['react']);
    return new ProgramProcessManager(caller, options);
  }

  async react(
    _aggregateType: string,
    _streamId: string,
    event: EventEnvelope,
  ): Promise<ProcessManagerCommand[]> {
    const where = `${this.label}: react on ${describeEvent(event)}`;
    const outcome = await this.caller.call('react', [event as unknown as JsonValue]);
    if (outcome.kind !== 'returned') throw new ApplyError(`${where} failed: ${outcome.message}`);
    return commandsOf(JSON.parse(outcome.json) as JsonValue, where);
  }

  /** The reactions to many events (one list each) in one crossing into the sandbox. */
  async reactMany(events: readonly EventEnvelope[]): Promise<ProcessManagerCommand[][]> {
    const outcome = await this.caller.callBatch(
      'react',
      'each',
      events.map((event) => [event as unknown as JsonValue]),
      events.length,
    );
    if (outcome.kind !== 'returned') {
      throw new ApplyError(
        `${this.label}: react failed in a batch of ${events.length} events: ${outcome.message}`,
      );
    }
    const results = JSON.parse(outcome.json) as JsonValue[];
    return results.map((result, i) =>
      commandsOf(result, `${this.label}: react on ${describeEvent(events[i] as EventEnvelope)}`),
    );
  }

  private get label(): string {
    return `process manager ${this.name}: ${this.caller.filename}`;
  }
}

function describeEvent(event: EventEnvelope): string {
  return `${event.event_type} (version ${event.version} of ${event.aggregate_type} ${event.aggregate_id})`;
}

/** The commands of one `react` result, checked. */
function commandsOf(result: JsonValue, where: string): ProcessManagerCommand[] {
  if (!Array.isArray(result)) {
    throw new ApplyError(`${where} returned ${describe(result)}, expected a list of commands`);
  }
  return result.map((item, i) => {
    if (
      !isJsonObject(item) ||
      typeof item.aggregate_type !== 'string' ||
      typeof item.instance_id !== 'string' ||
      !isJsonObject(item.command) ||
      typeof item.command.type !== 'string'
    ) {
      throw new ApplyError(
        `${where}: command ${i} must be { aggregate_type, instance_id, command: { type, data } }, got ${JSON.stringify(item)}`,
      );
    }
    return {
      aggregate_type: item.aggregate_type,
      instance_id: item.instance_id,
      command: item.command,
    };
  });
}

function describe(value: JsonValue): string {
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : JSON.stringify(value);
}
