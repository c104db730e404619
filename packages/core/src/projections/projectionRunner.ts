import type { JsonValue } from '../domain/index.js';
import { isJsonObject } from '../domain/index.js';
import type { EventLog } from '../eventLog/index.js';
import { KeyedMutex } from '../files/keyedMutex.js';
import type { CheckpointStore } from '../storage/index.js';
import type { Projection } from './projection.js';
import type { Cursors } from './streamCursors.js';
import { catchUpStreams } from './streamCursors.js';

interface Checkpoint<State> {
  cursors: Cursors;
  state: State;
}

/**
 * Keeps one projection's state: catches up lazily on read, checkpoints state
 * and cursors together (atomically), and starts over when the checkpoint is
 * missing or unreadable.
 */
export class ProjectionRunner<State> {
  private checkpoint: Checkpoint<State> | undefined;
  private readonly mutex = new KeyedMutex();

  constructor(
    readonly projection: Projection<State>,
    private readonly log: EventLog,
    private readonly checkpoints: CheckpointStore,
  ) {}

  private get checkpointName(): string {
    return `projections/${this.projection.name}`;
  }

  /** The state after every event committed so far. */
  state(): Promise<State> {
    return this.mutex.run('run', async () => {
      const checkpoint = this.checkpoint ?? (await this.loadCheckpoint());
      this.checkpoint = undefined; // a failed catch-up reloads from the last checkpoint
      const applied = await catchUpStreams(
        this.log,
        this.projection.subscribes,
        checkpoint.cursors,
        (event) => {
          checkpoint.state = this.projection.apply(checkpoint.state, event);
        },
      );
      if (applied > 0)
        await this.checkpoints.save(this.checkpointName, checkpoint as unknown as JsonValue);
      this.checkpoint = checkpoint;
      return checkpoint.state;
    });
  }

  /** Forgets everything and replays every subscribed stream from the start. */
  async rebuild(): Promise<State> {
    await this.mutex.run('run', async () => {
      this.checkpoint = this.fresh();
      await this.checkpoints.save(this.checkpointName, this.checkpoint as unknown as JsonValue);
    });
    return this.state();
  }

  private async loadCheckpoint(): Promise<Checkpoint<State>> {
    const stored = await this.checkpoints.load(this.checkpointName);
    if (isJsonObject(stored) && isJsonObject(stored.cursors) && 'state' in stored) {
      return stored as unknown as Checkpoint<State>;
    }
    return this.fresh();
  }

  private fresh(): Checkpoint<State> {
    return { cursors: {}, state: this.projection.initialState() };
  }
}
