import type {
  CommandEnvelope,
  DataLimits,
  Event,
  EventEnvelope,
  JsonValue,
  StreamKey,
} from '../domain/index.js';
import {
  heapFootprint,
  jsonBytes,
  parseEvent,
  StreamKey as Key,
  traceIdOf,
  Uuid,
} from '../domain/index.js';
import {
  ApplyError,
  DomainError,
  ProgramLimitError,
  RehydrationError,
  ValidationError,
  VersionConflictError,
} from '../errors/index.js';
import type { Commit, StoredCommit } from '../eventLog/index.js';
import type { StorageBackend } from '../storage/index.js';
import type { Resized } from './actorRegistry.js';
import type { AnyDecider } from './decider.js';
import type { ActorSettings } from './storeOptions.js';

export interface CommandResult {
  readonly events: readonly EventEnvelope[];
  /** Aggregate version after the command. */
  readonly version: number;
  /** Event-log position of the commit (JetStream: stream sequence); 0 when nothing was written. */
  readonly position: number;
  /** True when the command_id had been applied before: these are the original events. */
  readonly duplicate: boolean;
}

export interface AggregateSnapshot<State = unknown> {
  readonly state: State;
  readonly version: number;
  /** Event-log position of the last commit folded in (0: none). */
  readonly position: number;
}

/**
 * One live aggregate: a mailbox that runs its commands strictly in order, and
 * its state kept warm between them. The only writer of its stream in this
 * process.
 */
export class AggregateActor {
  private state: unknown;
  /** Estimated heap `state` holds (the registry's budget counts it). */
  private stateFootprint = 0;
  private version = 0;
  private position = 0;
  private snapshotVersion = 0;
  private loaded = false;
  /** command_id → position of its commit, oldest first, bounded by `idempotencyWindow`. */
  private readonly recent = new Map<string, number>();
  private tail: Promise<unknown> = Promise.resolve();
  private pendingJobs = 0;
  lastActivity = Date.now();

  constructor(
    readonly key: StreamKey,
    private readonly decider: AnyDecider,
    private readonly backend: StorageBackend,
    private readonly settings: ActorSettings,
    private readonly resized: Resized = () => undefined,
  ) {
    // Not reported: the registry counts a new actor's footprint when it adds it.
    this.state = decider.initialState();
    this.stateFootprint = heapFootprint(this.state);
  }

  get busy(): boolean {
    return this.pendingJobs > 0;
  }

  /** Estimated heap the state holds, in bytes. */
  get footprint(): number {
    return this.stateFootprint;
  }

  private setState(state: unknown): void {
    const before = this.stateFootprint;
    this.state = state;
    this.stateFootprint = heapFootprint(state);
    this.resized(this.stateFootprint - before);
  }

  execute(command: CommandEnvelope): Promise<CommandResult> {
    return this.enqueue(() => this.handle(command));
  }

  /** Appends an already-built event (import, repair) through the mailbox. */
  inject(event: EventEnvelope): Promise<CommandResult> {
    return this.enqueue(() => this.handleInject(event));
  }

  /**
   * Folds a commit another process wrote (a migration's target following the
   * log): one the actor already holds is ignored; one that does not follow
   * its version (a gap) unloads it, to be read again from storage on next use.
   */
  follow(commit: StoredCommit): Promise<void> {
    return this.enqueue(async () => {
      if (!this.loaded || commit.position <= this.position) return;
      if (commit.version !== this.version + commit.events.length) {
        this.loaded = false;
        return;
      }
      await this.fold(commit);
    });
  }

  snapshot(): Promise<AggregateSnapshot> {
    return this.enqueue(async () => {
      await this.ensureLoaded();
      return { state: this.state, version: this.version, position: this.position };
    });
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    this.pendingJobs++;
    const run = this.tail.then(job);
    this.tail = run.then(
      () => this.finished(),
      () => this.finished(),
    );
    return run;
  }

  private finished(): void {
    this.pendingJobs--;
    this.lastActivity = Date.now();
  }

  private async handle(command: CommandEnvelope): Promise<CommandResult> {
    await this.ensureLoaded();
    const earlier = await this.replayOf(command.command_id);
    if (earlier !== undefined) return earlier;
    const maxRetries = this.decider.maxRetries ?? this.settings.maxRetries;
    for (let attempt = 0; ; attempt++) {
      if (command.expected_version !== undefined && command.expected_version !== this.version) {
        throw new VersionConflictError(command.expected_version, this.version);
      }
      const events = decidedEvents(
        (await this.decider.decide(this.state, command.payload)) as Event | readonly Event[],
        this.settings.limits,
      );
      if (events.length === 0)
        return { events: [], version: this.version, position: 0, duplicate: false };
      // Evolved before the append: a state the limits refuse (too big, too deep)
      // fails the command with nothing written, instead of poisoning the aggregate.
      const next = await this.evolveAll(this.state, events).catch((error: unknown) => {
        // The decided events cannot be applied: the command is refused, like a faulty decide.
        if (!(error instanceof ApplyError)) throw error;
        throw new DomainError(`the decided events cannot be applied: ${error.message}`, {
          cause: error,
        });
      });
      const commit = this.commitOf(command, events);
      try {
        return await this.write(commit, next);
      } catch (error) {
        if (!(error instanceof VersionConflictError) || attempt >= maxRetries) throw error;
        this.settings.logger.debug(
          { stream: Key.toString(this.key), attempt },
          'version conflict, re-deciding',
        );
        await sleep(this.settings.retryBackoffMs * 2 ** attempt * (0.5 + Math.random()));
        await this.catchUp();
      }
    }
  }

  private async handleInject(event: EventEnvelope): Promise<CommandResult> {
    const { tenant, type, id } = this.key;
    if (event.tenant_id !== tenant || event.aggregate_type !== type || event.aggregate_id !== id) {
      throw new ValidationError('event belongs to another aggregate', 'event');
    }
    await this.ensureLoaded();
    const earlier = await this.replayOf(event.command_id);
    if (earlier !== undefined) return earlier;
    if (event.version !== this.version + 1)
      throw new VersionConflictError(event.version - 1, this.version);
    return this.write({
      command_id: event.command_id,
      stream: this.key,
      version: event.version,
      events: [event],
      timestamp: event.timestamp,
    });
  }

  /** The original result of a command seen before, if any. */
  private async replayOf(commandId: string): Promise<CommandResult | undefined> {
    const position = this.recent.get(commandId);
    if (position === undefined) return undefined;
    const commit = await this.backend.eventLog.readAt(this.key, position);
    if (commit === undefined) return undefined;
    return {
      events: commit.events,
      version: commit.version,
      position: commit.position,
      duplicate: true,
    };
  }

  private commitOf(command: CommandEnvelope, events: readonly Event[]): Commit {
    const timestamp = new Date().toISOString();
    const traceId = traceIdOf(command.traceparent);
    const envelopes = events.map((event, i): EventEnvelope => ({
      tenant_id: this.key.tenant,
      event_id: Uuid.new(),
      aggregate_type: this.key.type,
      aggregate_id: this.key.id,
      version: this.version + i + 1,
      event_type: event.type,
      payload: event.data,
      command_id: command.command_id,
      correlation_id: command.correlation_id ?? command.command_id,
      trace_id: traceId,
      timestamp,
      metadata: command.metadata,
    }));
    return {
      command_id: command.command_id,
      stream: this.key,
      version: this.version + events.length,
      events: envelopes,
      timestamp,
    };
  }

  /** `commit`, and the state after it when already evolved (else it is folded here). */
  private async write(
    commit: Commit,
    evolved?: { readonly state: unknown },
  ): Promise<CommandResult> {
    const { commit: stored, duplicate } = await this.backend.eventLog.append(commit, this.position);
    if (duplicate) {
      // Another writer committed this command id first (JetStream dedup): report its commit.
      await this.catchUp();
      return {
        events: stored.events,
        version: stored.version,
        position: stored.position,
        duplicate: true,
      };
    }
    this.observe('appended', stored);
    try {
      if (evolved === undefined) await this.fold(stored);
      else this.advance(stored, evolved.state);
    } catch (error) {
      this.observe('failed', stored);
      this.loaded = false; // state no longer matches the log: reload on next use
      throw new ApplyError(
        `evolve failed after commit ${stored.position} of ${Key.toString(this.key)}`,
        {
          cause: error,
        },
      );
    }
    this.observe('committed', stored);
    // The commit is durable: a failed snapshot must not turn it into an error.
    await this.maybeSnapshot().catch((error: unknown) =>
      this.settings.logger.warn(
        { stream: Key.toString(this.key), err: error },
        'snapshot failed; the next one will retry',
      ),
    );
    return {
      events: stored.events,
      version: stored.version,
      position: stored.position,
      duplicate: false,
    };
  }

  /** The commit is durable: a failing observer is logged, never the command's error. */
  private observe(step: 'appended' | 'committed' | 'failed', commit: StoredCommit): void {
    const observer = this.settings.commitObserver;
    if (observer === undefined) return;
    try {
      if (step === 'committed') observer.committed(commit, this.state);
      else observer[step]?.(commit);
    } catch (error) {
      this.settings.logger.error(
        { stream: Key.toString(this.key), position: commit.position, step, err: error },
        'commit observer failed',
      );
    }
  }

  private async fold(commit: StoredCommit): Promise<void> {
    const events = commit.events.map((event) => ({ type: event.event_type, data: event.payload }));
    this.advance(commit, (await this.evolveAll(this.state, events)).state);
  }

  private async evolveAll(state: unknown, events: readonly Event[]): Promise<{ state: unknown }> {
    let next = state;
    for (const event of events) next = await this.decider.evolve(next, event);
    return { state: next };
  }

  /** The actor is now at `commit`, with `state`. */
  private advance(commit: StoredCommit, state: unknown): void {
    this.setState(state);
    this.version = commit.version;
    this.position = commit.position;
    this.remember(commit.command_id, commit.position);
  }

  private remember(commandId: string, position: number): void {
    this.recent.delete(commandId);
    this.recent.set(commandId, position);
    if (this.recent.size > this.settings.idempotencyWindow) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }

  private async ensureLoaded(): Promise<void> {
    if (this.loaded) return;
    const started = performance.now();
    this.setState(this.decider.initialState());
    this.version = 0;
    this.position = 0;
    this.recent.clear();
    const snapshot = this.snapshotsEnabled()
      ? await this.backend.snapshots.load(this.key)
      : undefined;
    if (snapshot !== undefined) {
      this.setState(snapshot.state);
      this.version = snapshot.version;
      this.position = snapshot.position;
      this.snapshotVersion = snapshot.version;
      for (const [commandId, position] of snapshot.recent_commands)
        this.recent.set(commandId, position);
    }
    try {
      await this.catchUp();
    } catch (error) {
      const why = error instanceof Error ? `: ${error.message}` : '';
      throw new RehydrationError(`cannot rehydrate ${Key.toString(this.key)}${why}`, {
        cause: error,
      });
    }
    this.loaded = true;
    this.settings.onRehydrated?.(this.key, (performance.now() - started) / 1000);
    this.settings.logger.debug(
      {
        stream: Key.toString(this.key),
        version: this.version,
        fromSnapshot: snapshot !== undefined,
        ms: performance.now() - started,
      },
      'rehydrated',
    );
  }

  private async catchUp(): Promise<void> {
    for await (const commit of this.backend.eventLog.read(this.key, this.position)) {
      await this.fold(commit);
    }
  }

  private snapshotsEnabled(): boolean {
    return (this.decider.snapshotEvery ?? this.settings.snapshotEvery) > 0;
  }

  private async maybeSnapshot(): Promise<void> {
    const every = this.decider.snapshotEvery ?? this.settings.snapshotEvery;
    if (every <= 0 || Math.floor(this.version / every) === Math.floor(this.snapshotVersion / every))
      return;
    await this.saveSnapshot();
  }

  /** Writes the current state as a snapshot now (used by drain and flush). */
  flush(): Promise<void> {
    return this.enqueue(async () => {
      if (this.loaded && this.version > this.snapshotVersion) await this.saveSnapshot();
    });
  }

  private async saveSnapshot(): Promise<void> {
    await this.backend.snapshots.save({
      tenant_id: this.key.tenant,
      aggregate_type: this.key.type,
      aggregate_id: this.key.id,
      version: this.version,
      position: this.position,
      state: this.state as JsonValue,
      created_at: new Date().toISOString(),
      recent_commands: [...this.recent],
    });
    this.snapshotVersion = this.version;
  }
}

/**
 * A decider's events, checked against the limits before anything is
 * appended: each plain JSON within the depth and string limits, at most
 * `eventsPerCommand` of them, at most `commitBytes` of JSON together.
 */
function decidedEvents(decided: Event | readonly Event[], limits: DataLimits): Event[] {
  const list = Array.isArray(decided) ? (decided as readonly Event[]) : [decided as Event];
  if (list.length > limits.eventsPerCommand) {
    throw new ProgramLimitError(
      `decide returned ${list.length} events, over the limit of ${limits.eventsPerCommand} per command`,
    );
  }
  let bytes = 0;
  const events = list.map((event, i) => {
    const parsed = parseEvent(event, `decided event ${i}`, limits);
    bytes += parsed.type.length + jsonBytes(parsed.data);
    return parsed;
  });
  if (bytes > limits.commitBytes) {
    throw new ProgramLimitError(
      `decide returned ${bytes} bytes of events, over the limit of ${limits.commitBytes} per commit`,
    );
  }
  return events;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
