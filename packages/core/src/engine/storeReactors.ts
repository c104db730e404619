import { ValidationError } from '../errors/index.js';
import type { Dispatch, ProcessManager, ProcessManagerReport } from '../processManagers/index.js';
import { ProcessManagerRunner } from '../processManagers/index.js';
import type { Projection } from '../projections/index.js';
import { ProjectionRunner } from '../projections/index.js';
import type { StorageBackend } from '../storage/index.js';

/**
 * The store's own projections and process managers, run in this process on
 * demand over the store's backend (its event log, checkpoints and dead letters).
 */
export class StoreReactors {
  private readonly projectionRunners = new Map<string, ProjectionRunner<unknown>>();
  private readonly managerRunners: ProcessManagerRunner[];

  constructor(
    backend: StorageBackend,
    projections: readonly Projection[],
    managers: readonly ProcessManager[],
  ) {
    for (const p of projections) {
      this.projectionRunners.set(
        p.name,
        new ProjectionRunner(p, backend.eventLog, backend.checkpoints),
      );
    }
    this.managerRunners = managers.map(
      (m) =>
        new ProcessManagerRunner(m, backend.eventLog, backend.checkpoints, backend.deadLetters),
    );
  }

  /** A projection's state, caught up with every committed event. */
  async projection<State>(projection: Projection<State>): Promise<State> {
    return (await this.projectionRunner(projection).state()) as State;
  }

  async rebuildProjection<State>(projection: Projection<State>): Promise<State> {
    return (await this.projectionRunner(projection).rebuild()) as State;
  }

  /** One pass of every process manager over the events committed since the last pass. */
  async runProcessManagers(dispatch: Dispatch): Promise<ProcessManagerReport> {
    let dispatched = 0;
    let deadLettered = 0;
    for (const runner of this.managerRunners) {
      const report = await runner.run(dispatch);
      dispatched += report.dispatched;
      deadLettered += report.deadLettered;
    }
    return { dispatched, deadLettered };
  }

  private projectionRunner(projection: Projection<unknown>): ProjectionRunner<unknown> {
    const runner = this.projectionRunners.get(projection.name);
    if (runner === undefined)
      throw new ValidationError(`projection '${projection.name}' is not registered`, 'projection');
    return runner;
  }
}
