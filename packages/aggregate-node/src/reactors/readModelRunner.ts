import type {
  CheckpointStore,
  DeadLetterStore,
  EventLog,
  JsonValue,
  Logger,
  AsyncProcessManager,
  AsyncProjection,
  StoredCommit,
  TenantId,
} from '@tenantfold/core';
import { AggregateType, ValidationError } from '@tenantfold/core';
import type { Cursor, TenantModels } from './checkpoints.js';
import { loadTenantModels, saveTenantModels } from './checkpoints.js';
import { CommitTails } from './commitTails.js';
import type { Dispatch } from './managerDispatch.js';
import { feedProcessManager } from './managerDispatch.js';
import { feedProjection } from './projectionFeed.js';
import type { SkippedCommit } from './skippedCommits.js';
import { TenantPasses } from './tenantPasses.js';

export interface ReadModelRunnerOptions {
  /** Must offer the stream-wide `readAll` (the JetStream log does). */
  readonly log: EventLog;
  readonly checkpoints: CheckpointStore;
  readonly deadLetters: DeadLetterStore;
  readonly projections: readonly AsyncProjection<JsonValue>[];
  readonly processManagers: readonly AsyncProcessManager[];
  readonly dispatch: Dispatch;
  /** Whether the node serves the tenant now (read models are kept for those). */
  readonly owns: (tenant: TenantId) => boolean;
  /** Whether process managers may send the tenant's commands now (owned, intake open). */
  readonly mayDispatch: (tenant: TenantId) => boolean;
  readonly logger: Logger;
  /** How often every known owned tenant is caught up, in ms (events written elsewhere). */
  readonly sweepMs: number;
  /** Largest projection document, bytes of JSON (it must fit a checkpoint). */
  readonly maxStateBytes: number;
  /**
   * Whether `appended` is told of every commit of the tenants this node
   * owns (the store's commit observer): passes then read those commits from
   * memory, not back from the log. @default false
   */
  readonly tailsCommits?: boolean;
  /** Told of each commit a projection skipped (a metric). */
  readonly onSkipped?: (projection: string) => void;
}

/** A projection's document for one tenant, and the log position it reflects. */
export interface ProjectionView {
  readonly tenant_id: string;
  readonly projection: string;
  readonly position: number;
  readonly state: JsonValue;
  /** Commits it could not fold (a program fault or limit), skipped so it goes on. */
  readonly skipped: readonly SkippedCommit[];
}

/**
 * Commits handed to the read models at once: a projection folds them in one
 * crossing into its sandbox, a process manager reacts to them in one; the
 * checkpoints are saved after each full batch.
 */
const BATCH_COMMITS = 256;
/**
 * Least time between checkpoint saves of a tenant's read models. Progress not
 * yet saved is repeated after a crash: projections fold it again from the
 * older checkpoint, process managers re-send commands that are recognised as
 * repeats. Saved at once on stop and when the tenant leaves.
 */
const SAVE_INTERVAL_MS = 1_000;

/**
 * Runs the manifest's projections and process managers per tenant on this
 * node. A tenant is caught up by one stream-wide ordered read of its commits
 * from its lowest checkpoint; each read model skips what it has seen.
 * Checkpoints are KV documents `projections/<name>/<tenant>` (position and
 * state) and `process_managers/<name>/<tenant>` (position), saved after the
 * commands of the commits they cover were dispatched or dead-lettered, so a
 * crash repeats work (with the same derived command ids) and loses none.
 * A command that fails for a passing reason (not owner, unavailable, a
 * conflict) stops its process manager until the next pass; any other failure
 * is dead-lettered. A program that fails stops its read model at that event.
 */
export class ReadModelRunner {
  private readonly tenants = new Map<TenantId, TenantModels>();
  private readonly passes: TenantPasses;
  private readonly known = new Set<TenantId>();
  /** Commits appended here, read instead of the log once a pass reached its end. */
  private readonly tails = new CommitTails();
  private started = false;
  private stopped = false;

  constructor(private readonly options: ReadModelRunnerOptions) {
    this.passes = new TenantPasses((tenant) => this.pass(tenant), options.logger);
  }

  get empty(): boolean {
    return this.options.projections.length === 0 && this.options.processManagers.length === 0;
  }

  get processManagerNames(): readonly string[] {
    return this.options.processManagers.map((m) => m.name);
  }

  /** Tenants this runner has seen (handed to the next runner on a reload). */
  get knownTenants(): readonly TenantId[] {
    return [...this.known];
  }

  /** Starts the periodic sweep over `tenants` (and every tenant notified later). */
  start(tenants: Iterable<TenantId>): void {
    if (this.empty || this.started) return;
    this.started = true;
    for (const tenant of tenants) this.known.add(tenant);
    this.passes.sweepEvery(this.options.sweepMs, () => this.sweep());
  }

  /** A commit this node appended (from the store's commit observer, before `notify`). */
  appended(commit: StoredCommit): void {
    if (!this.empty && this.options.tailsCommits === true) this.tails.appended(commit);
  }

  /** A commit of `tenant` happened here: catch its read models up soon. */
  notify(tenant: TenantId): void {
    if (this.empty || this.stopped) return;
    this.known.add(tenant);
    if (!this.started) return; // the sweep at start covers it
    this.passes.soon(tenant, () => this.catchUp(tenant));
  }

  /** Saves the tenant's checkpoints now, after the passes in flight (a drain hands them on). */
  async saveNow(tenant: TenantId): Promise<void> {
    await this.passes.settled(tenant);
    const models = this.tenants.get(tenant);
    if (models !== undefined) await this.save(tenant, models, true);
  }

  /**
   * Drops what this node holds of the tenant and catches up from the
   * checkpoints in KV, as its previous owner left them (a verify takes them over).
   */
  async reload(tenant: TenantId): Promise<void> {
    await this.passes.settled(tenant);
    this.tenants.delete(tenant);
    this.tails.drop(tenant); // written elsewhere meanwhile: read the log
    await this.catchUp(tenant);
  }

  /**
   * Forgets a tenant that left the node, after saving its checkpoints so its
   * next owner resumes from here.
   */
  async forget(tenant: TenantId): Promise<void> {
    this.known.delete(tenant);
    await this.saveNow(tenant);
    this.tenants.delete(tenant);
    this.tails.drop(tenant);
  }

  /**
   * Brings every read model of `tenant` up to the log's end as found now. One
   * pass per tenant runs at a time; requests made during a pass share the
   * single pass queued behind it.
   */
  catchUp(tenant: TenantId): Promise<void> {
    if (this.empty) return Promise.resolve();
    this.known.add(tenant);
    return this.passes.request(tenant);
  }

  /** One projection's document for a tenant, caught up first. */
  async projection(name: string, tenant: TenantId): Promise<ProjectionView> {
    if (!this.options.projections.some((p) => p.name === name)) {
      const known = this.options.projections.map((p) => p.name).join(', ');
      throw new ValidationError(
        `unknown projection '${name}' (known: ${known === '' ? 'none' : known})`,
        'projection',
      );
    }
    await this.catchUp(tenant);
    const cursor = (await this.modelsOf(tenant)).projections.get(name);
    return {
      tenant_id: tenant,
      projection: name,
      position: cursor?.position ?? 0,
      state: cursor?.state ?? null,
      skipped: cursor?.skipped ?? [],
    };
  }

  /** Stops the sweep, waits for passes in flight and saves every checkpoint. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.passes.stopSweep();
    await this.passes.allSettled();
    for (const [tenant, models] of this.tenants) {
      // One tenant's checkpoint that cannot be saved must not stop the others' (nor the node's stop).
      await this.save(tenant, models, true).catch((error: unknown) =>
        this.options.logger.error({ tenant_id: tenant, err: error }, 'checkpoints not saved'),
      );
    }
  }

  private sweep(): void {
    for (const tenant of this.known) {
      if (this.options.owns(tenant) && !this.passes.running(tenant)) {
        void this.catchUp(tenant).catch(() => undefined); // logged inside
      }
    }
  }

  private async pass(tenant: TenantId): Promise<void> {
    if (this.stopped) return;
    const models = await this.modelsOf(tenant);
    const active: Model[] = [
      ...this.options.projections.map((projection): Model => ({
        kind: 'projection',
        projection,
        subscribes: projection.subscribes,
        cursor: models.projections.get(projection.name) as Cursor,
      })),
      ...(this.options.mayDispatch(tenant) ? this.options.processManagers : []).map(
        (manager): Model => ({
          kind: 'manager',
          manager,
          subscribes: manager.subscribes,
          cursor: models.managers.get(manager.name) as Cursor,
        }),
      ),
    ];
    if (active.length === 0) return;
    const from = Math.min(...active.map((m) => m.cursor.position));
    const types = [...new Set(active.flatMap((m) => m.subscribes))].map((t) =>
      AggregateType.parse(t),
    );
    const stalled = new Set<Model>();
    try {
      const tail = this.tails.after(tenant, from);
      if (tail !== undefined) {
        const wanted = tail.filter((commit) => types.includes(commit.stream.type));
        for (let at = 0; at < wanted.length && stalled.size < active.length; at += BATCH_COMMITS) {
          await this.feed(wanted.slice(at, at + BATCH_COMMITS), active, stalled, tenant);
        }
      } else if (
        (await this.readLog(tenant, from, types, active, stalled, models)) &&
        this.options.tailsCommits === true
      ) {
        this.tails.trust(tenant);
      }
      // By every read model's cursor, a process manager paused by a drain included.
      const cursors = [...models.projections.values(), ...models.managers.values()];
      this.tails.trim(tenant, Math.min(...cursors.map((cursor) => cursor.position)));
    } finally {
      await this.save(tenant, models, false);
    }
  }

  /**
   * Feeds the tenant's commits after `from` read from the log; true when the
   * read reached the log's end (the tail begun with it then holds the rest).
   */
  private async readLog(
    tenant: TenantId,
    from: number,
    types: readonly AggregateType[],
    active: readonly Model[],
    stalled: Set<Model>,
    models: TenantModels,
  ): Promise<boolean> {
    const readAll = this.options.log.readAll?.bind(this.options.log);
    if (readAll === undefined) {
      throw new ValidationError('the event log has no stream-wide read', 'log');
    }
    this.tails.begin(tenant);
    let batch: StoredCommit[] = [];
    for await (const commit of readAll({ tenant, types }, from)) {
      batch.push(commit);
      if (batch.length < BATCH_COMMITS) continue;
      await this.feed(batch, active, stalled, tenant);
      batch = [];
      await this.save(tenant, models, true);
      if (stalled.size === active.length) return false;
    }
    if (batch.length > 0) await this.feed(batch, active, stalled, tenant);
    return true;
  }

  /** Hands a batch of commits (in position order) to every read model not stalled. */
  private async feed(
    commits: readonly StoredCommit[],
    models: readonly Model[],
    stalled: Set<Model>,
    tenant: TenantId,
  ): Promise<void> {
    for (const model of models) {
      if (stalled.has(model)) continue;
      const fresh = commits.filter((c) => c.position > model.cursor.position);
      const mine = fresh.filter((c) => model.subscribes.includes(c.stream.type));
      const ok =
        mine.length === 0 ||
        (model.kind === 'projection'
          ? await feedProjection(model.projection, model.cursor, mine, this.options)
          : await feedProcessManager(model.manager, model.cursor, mine, tenant, this.options));
      const last = fresh.at(-1);
      if (!ok) stalled.add(model);
      else if (last !== undefined && last.position > model.cursor.position) {
        model.cursor.position = last.position; // read past, also what it does not subscribe to
        model.cursor.dirty = true;
      }
    }
  }

  private async modelsOf(tenant: TenantId): Promise<TenantModels> {
    const loaded = this.tenants.get(tenant);
    if (loaded !== undefined) return loaded;
    const models = await loadTenantModels(this.options.checkpoints, tenant, this.options);
    this.tenants.set(tenant, models);
    return models;
  }

  /** Saves the changed checkpoints, unless the last save is recent and `now` is false. */
  private async save(tenant: TenantId, models: TenantModels, now: boolean): Promise<void> {
    const wait = models.savedAt + SAVE_INTERVAL_MS - Date.now();
    if (!now && wait > 0) {
      if (!models.saveDue && !this.stopped) {
        models.saveDue = true; // a pass then, with nothing new to read, saves
        setTimeout(() => {
          models.saveDue = false;
          this.catchUp(tenant).catch(() => undefined); // logged inside
        }, wait).unref();
      }
      return;
    }
    await saveTenantModels(this.options.checkpoints, tenant, models);
  }
}

/** One read model of one tenant in a pass. */
type Model = {
  readonly subscribes: readonly string[];
  readonly cursor: Cursor;
} & (
  | { readonly kind: 'projection'; readonly projection: AsyncProjection<JsonValue> }
  | { readonly kind: 'manager'; readonly manager: AsyncProcessManager }
);
