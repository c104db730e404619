import type { Command, CommandContext, StreamKey } from '../domain/index.js';
import {
  AggregateId,
  AggregateType,
  commandEnvelope,
  parseCommandEnvelope,
  parseEventEnvelope,
  streamKeyOf,
  TenantId,
} from '../domain/index.js';
import { UnavailableError, ValidationError } from '../errors/index.js';
import type { ProcessManager, ProcessManagerReport } from '../processManagers/index.js';
import type { Projection } from '../projections/index.js';
import type { DeadLetter, StorageBackend } from '../storage/index.js';
import type { StoredCommit } from '../eventLog/index.js';
import { openFileBackend } from '../storage/index.js';
import type { AggregateSnapshot, CommandResult } from './actor.js';
import { AggregateActor } from './actor.js';
import { ActorRegistry } from './actorRegistry.js';
import type { AnyDecider, CommandOf, StateOf } from './decider.js';
import type {
  QueryEngine,
  QueryEngineFactory,
  StateChangeNotice,
  StatePage,
  StateQueryOptions,
  StateSubscription,
} from './queryEngine.js';
import type { ActorSettings, AggregateStoreOptions } from './storeOptions.js';
import { DEFAULT_STORE_OPTIONS } from './storeOptions.js';
import { StoreReactors } from './storeReactors.js';

/** A reference to one aggregate; cheap, and valid across passivation. */
export interface AggregateHandle<State, C extends Command> {
  readonly key: StreamKey;
  execute(command: C, ctx?: CommandContext): Promise<CommandResult>;
  state(): Promise<State>;
  snapshot(): Promise<AggregateSnapshot<State>>;
  isAlive(): boolean;
}

export interface GetOptions {
  /** @default the default tenant ('') */
  readonly tenant?: string;
}

/**
 * The engine: aggregates (one actor each), projections and process managers
 * over one storage backend. Open it with `AggregateStore.builder(dir)`.
 */
export class AggregateStore {
  private readonly registry: ActorRegistry;
  private readonly reactors: StoreReactors;
  private readonly actorSettings: ActorSettings;
  private queries: QueryEngine | undefined;
  private closed = false;

  private constructor(
    readonly backend: StorageBackend,
    private readonly deciders: ReadonlyMap<string, AnyDecider>,
    projections: readonly Projection[],
    managers: readonly ProcessManager[],
    readonly options: AggregateStoreOptions,
  ) {
    this.registry = new ActorRegistry(options);
    const outer = options.commitObserver;
    this.actorSettings = {
      ...options,
      commitObserver: {
        appended: (commit) => outer?.appended?.(commit),
        committed: (commit, state) => {
          outer?.committed(commit, state);
          this.queries?.committed(commit, state);
        },
        failed: (commit) => outer?.failed?.(commit),
      },
    };
    this.reactors = new StoreReactors(backend, projections, managers);
  }

  /** Starts configuring a store on a local directory, or on any storage backend. */
  static builder(target: string | StorageBackend): AggregateStoreBuilder {
    return new AggregateStoreBuilder(target);
  }

  /** @internal used by the builder */
  static create(
    backend: StorageBackend,
    deciders: ReadonlyMap<string, AnyDecider>,
    projections: readonly Projection[],
    managers: readonly ProcessManager[],
    options: AggregateStoreOptions,
  ): AggregateStore {
    return new AggregateStore(backend, deciders, projections, managers, options);
  }

  /** @internal used by the builder: from now on every commit feeds `engine`. */
  attachQueryEngine(engine: QueryEngine): void {
    this.queries = engine;
  }

  /**
   * One page of the aggregates of `decider`'s type whose state matches
   * `filter` (the query language of @tenantfold/query: `balance > 50 and
   * status = "open"`; empty: all), in one tenant.
   * @throws ValidationError for a bad filter, sort or cursor (naming it)
   */
  query<D extends AnyDecider>(
    decider: D,
    filter = '',
    options: StateQueryOptions = {},
  ): StatePage<StateOf<D>> {
    this.registered(decider.type);
    return this.queryEngine().query(
      TenantId.parse(options.tenant ?? ''),
      decider.type,
      filter,
      options,
    ) as StatePage<StateOf<D>>;
  }

  /**
   * The aggregates matching `filter` now (`initial`), then `onChange` for
   * every commit that makes one enter, change inside, or leave the set.
   */
  subscribe<D extends AnyDecider>(
    decider: D,
    filter: string,
    onChange: (change: StateChangeNotice<StateOf<D>>) => void,
    options: GetOptions = {},
  ): StateSubscription<StateOf<D>> {
    this.registered(decider.type);
    return this.queryEngine().subscribe(
      TenantId.parse(options.tenant ?? ''),
      decider.type,
      filter,
      onChange as (change: StateChangeNotice) => void,
    ) as StateSubscription<StateOf<D>>;
  }

  get liveActors(): number {
    return this.registry.size;
  }

  get aggregateTypes(): readonly string[] {
    return [...this.deciders.keys()];
  }

  get<D extends AnyDecider>(
    decider: D,
    id: string,
    options: GetOptions = {},
  ): AggregateHandle<StateOf<D>, CommandOf<D>> {
    this.registered(decider.type);
    const key: StreamKey = {
      tenant: TenantId.parse(options.tenant ?? ''),
      type: AggregateType.parse(decider.type),
      id: AggregateId.parse(id),
    };
    return {
      key,
      // commandEnvelope validates already: no second parse on this path.
      execute: async (command, ctx) =>
        this.actorOf(key).execute(commandEnvelope(key, command, ctx, this.options.limits)),
      state: async () => (await this.actorOf(key).snapshot()).state as StateOf<D>,
      snapshot: () => this.actorOf(key).snapshot() as Promise<AggregateSnapshot<StateOf<D>>>,
      isAlive: () => this.registry.isAlive(key),
    };
  }

  /** Runs a command envelope, validating it first when it comes from outside. */
  async submit(envelope: unknown): Promise<CommandResult> {
    const command = parseCommandEnvelope(envelope, this.options.limits);
    return this.actorOf(streamKeyOf(command)).execute(command);
  }

  /** Appends an already-built event through its aggregate's actor (imports, repairs). */
  async inject(event: unknown): Promise<CommandResult> {
    const parsed = parseEventEnvelope(event);
    this.registered(parsed.aggregate_type);
    return this.actorOf(streamKeyOf(parsed)).inject(parsed);
  }

  /** State and version of any registered aggregate (for transports that carry type names). */
  async stateOf(key: StreamKey): Promise<AggregateSnapshot> {
    return this.actorOf(key).snapshot();
  }

  isAlive(key: StreamKey): boolean {
    return this.registry.isAlive(key);
  }

  /**
   * Folds a commit written by another process into its aggregate's live
   * actor (none live: nothing to do, the next use reads storage); a commit
   * that does not follow the actor's version makes it reload. A node that
   * does not write the tenant (a migration's target) keeps up with the log
   * this way instead of reloading each aggregate.
   */
  async follow(commit: StoredCommit): Promise<void> {
    if (!this.registry.isAlive(commit.stream)) return;
    await this.actorOf(commit.stream).follow(commit);
  }

  /**
   * Drops the idle live aggregates of a tenant (or of one aggregate) from
   * memory; the next use reloads them from storage. A node calls it when a
   * tenant moves away, or to re-read what another writer appended.
   * @returns how many live aggregates were dropped
   */
  evict(target: {
    readonly tenant: TenantId;
    readonly type?: string;
    readonly id?: string;
  }): number {
    const { tenant, type, id } = target;
    if (type !== undefined && id !== undefined) {
      return this.registry.evictKey({ tenant, type: type as AggregateType, id: id as AggregateId })
        ? 1
        : 0;
    }
    return this.registry.evict(
      (key) =>
        key.tenant === target.tenant &&
        (target.type === undefined || key.type === target.type) &&
        (target.id === undefined || key.id === target.id),
    );
  }

  /** A projection's state, caught up with every committed event. */
  async projection<State>(projection: Projection<State>): Promise<State> {
    return this.reactors.projection(projection);
  }

  async rebuildProjection<State>(projection: Projection<State>): Promise<State> {
    return this.reactors.rebuildProjection(projection);
  }

  /** One pass of every process manager over the events committed since the last pass. */
  async runProcessManagers(): Promise<ProcessManagerReport> {
    return this.reactors.runProcessManagers((envelope) => this.submit(envelope));
  }

  deadLetters(processManager: string): Promise<DeadLetter[]> {
    return this.backend.deadLetters.list(processManager);
  }

  /**
   * Writes a snapshot of every live aggregate (or every one of `target.tenant`)
   * that has changed since its last one.
   */
  async flush(target?: { readonly tenant: TenantId }): Promise<void> {
    const actors = [...this.registry.all()].filter(
      (actor) => target === undefined || actor.key.tenant === target.tenant,
    );
    await Promise.all(actors.map((actor) => actor.flush()));
  }

  /**
   * Closes whatever failed before: every step runs (snapshots of live
   * actors, actors, the query engine, the backend and its lock); a failed
   * snapshot is only logged (the commits are durable), and the first failure
   * of a later step is thrown once all have run.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const flushed = await Promise.allSettled(
      [...this.registry.all()].map((actor) => actor.flush()),
    );
    for (const result of flushed) {
      if (result.status === 'rejected') {
        const reason: unknown = result.reason;
        this.options.logger.warn({ err: reason }, 'snapshot at close failed');
      }
    }
    const failures: unknown[] = [];
    const step = async (run: () => unknown): Promise<void> => {
      try {
        await run();
      } catch (error) {
        failures.push(error);
      }
    };
    await step(() => this.registry.close());
    await step(() => this.queries?.close());
    await step(() => this.backend.close());
    if (failures.length > 0) throw failures[0];
  }

  private actorOf(key: StreamKey): AggregateActor {
    if (this.closed) throw new UnavailableError('the store is closed');
    const decider = this.registered(key.type);
    return this.registry.acquire(
      key,
      (resized) => new AggregateActor(key, decider, this.backend, this.actorSettings, resized),
    );
  }

  private queryEngine(): QueryEngine {
    if (this.closed) throw new UnavailableError('the store is closed');
    if (this.queries === undefined) {
      throw new UnavailableError(
        'this store has no query engine: add one with builder.queryEngine(sqliteQueryEngine()) from @tenantfold/query',
      );
    }
    return this.queries;
  }

  private registered(type: string): AnyDecider {
    const decider = this.deciders.get(type);
    if (decider === undefined) {
      throw new ValidationError(
        `unknown aggregate type '${type}' (known: ${this.aggregateTypes.join(', ')})`,
        'aggregate_type',
      );
    }
    return decider;
  }
}

export class AggregateStoreBuilder {
  private readonly deciders = new Map<string, AnyDecider>();
  private readonly projections: Projection[] = [];
  private readonly managers: ProcessManager[] = [];
  private options: AggregateStoreOptions = DEFAULT_STORE_OPTIONS;
  private queryEngineFactory: QueryEngineFactory | undefined;

  constructor(private readonly target: string | StorageBackend) {}

  aggregate(decider: AnyDecider): this {
    AggregateType.parse(decider.type);
    if (this.deciders.has(decider.type))
      throw new ValidationError(`aggregate type '${decider.type}' registered twice`);
    this.deciders.set(decider.type, decider);
    return this;
  }

  projection(projection: Projection<unknown>): this {
    this.unique(projection.name, this.projections);
    this.projections.push(projection);
    return this;
  }

  processManager(manager: ProcessManager): this {
    this.unique(manager.name, this.managers);
    this.managers.push(manager);
    return this;
  }

  /** Enables `store.query` / `store.subscribe`: e.g. `sqliteQueryEngine()` from @tenantfold/query. */
  queryEngine(factory: QueryEngineFactory): this {
    this.queryEngineFactory = factory;
    return this;
  }

  idleTimeout(ms: number): this {
    return this.with({ idleTimeoutMs: ms });
  }

  with(options: Partial<AggregateStoreOptions>): this {
    this.options = { ...this.options, ...options };
    return this;
  }

  async open(): Promise<AggregateStore> {
    const backend =
      typeof this.target === 'string' ? await openFileBackend(this.target) : this.target;
    const store = AggregateStore.create(
      backend,
      this.deciders,
      this.projections,
      this.managers,
      Object.freeze({ ...this.options }),
    );
    if (this.queryEngineFactory === undefined) return store;
    try {
      store.attachQueryEngine(
        await this.queryEngineFactory({
          ...(typeof this.target === 'string' ? { directory: this.target } : {}),
          eventLog: backend.eventLog,
          stateOf: (key) => store.stateOf(key),
          logger: this.options.logger,
        }),
      );
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  private unique(name: string, list: readonly { name: string }[]): void {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name))
      throw new ValidationError(`invalid name '${name}'`, 'name');
    if (list.some((item) => item.name === name))
      throw new ValidationError(`'${name}' registered twice`, 'name');
  }
}
