import type {
  CheckpointStore,
  DeadLetterStore,
  EventEnvelope,
  EventLog,
  JsonValue,
  Logger,
  ProcessManagerCommand,
  AsyncProcessManager,
  AsyncProjection,
  StoredCommit,
} from '@tenantfold/core';
import {
  AggregateType,
  isJsonObject,
  isTenantfoldError,
  processManagerEnvelope,
  TenantId,
  ValidationError,
} from '@tenantfold/core';

import { CommitTails } from './commitTails.js';
import type { SkippedCommit } from './skippedCommits.js';
import { checkProjectionState, isCommitFault, skippedOf, withSkipped } from './skippedCommits.js';

/** Sends one command envelope through the node's command path. */
export type Dispatch = (envelope: Record<string, JsonValue>) => Promise<unknown>;

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

/** Where one read model of one tenant stands. */
interface Cursor {
  position: number;
  /** Projections only: the folded document. */
  state?: JsonValue;
  /** Projections only: commits it could not fold, newest last. */
  skipped?: SkippedCommit[];
  /** Unsaved progress. */
  dirty: boolean;
}

interface TenantModels {
  readonly projections: Map<string, Cursor>;
  readonly managers: Map<string, Cursor>;
  /** When its checkpoints were last saved (ms since the epoch). */
  savedAt: number;
  /** A later save is scheduled. */
  saveDue: boolean;
}

/** The pass running for a tenant, and the one queued behind it (which serves every later request). */
interface PassSlot {
  current: Promise<void>;
  next?: Promise<void>;
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
 * After a local commit, a tenant's pass waits this long so the commits of a
 * busy tenant share one read (reads on demand, such as a projection query, do
 * not wait).
 */
const NOTIFY_DELAY_MS = 50;
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
  private readonly passes = new Map<TenantId, PassSlot>();
  private readonly pending = new Set<TenantId>();
  private readonly known = new Set<TenantId>();
  /** Commits appended here, read instead of the log once a pass reached its end. */
  private readonly tails = new CommitTails();
  private sweeper: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;

  constructor(private readonly options: ReadModelRunnerOptions) {}

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
    this.sweeper = setInterval(() => this.sweep(), this.options.sweepMs);
    this.sweeper.unref();
    this.sweep();
  }

  /** A commit this node appended (from the store's commit observer, before `notify`). */
  appended(commit: StoredCommit): void {
    if (!this.empty && this.options.tailsCommits === true) this.tails.appended(commit);
  }

  /** A commit of `tenant` happened here: catch its read models up soon. */
  notify(tenant: TenantId): void {
    if (this.empty || this.stopped) return;
    this.known.add(tenant);
    if (!this.started || this.pending.has(tenant)) return; // the sweep at start covers it
    this.pending.add(tenant);
    setTimeout(() => {
      this.pending.delete(tenant);
      this.catchUp(tenant).catch(() => undefined); // logged inside
    }, NOTIFY_DELAY_MS).unref();
  }

  /** Saves the tenant's checkpoints now, after the passes in flight (a drain hands them on). */
  async saveNow(tenant: TenantId): Promise<void> {
    await this.settled(tenant);
    const models = this.tenants.get(tenant);
    if (models !== undefined) await this.save(tenant, models, true);
  }

  /**
   * Drops what this node holds of the tenant and catches up from the
   * checkpoints in KV, as its previous owner left them (a verify takes them over).
   */
  async reload(tenant: TenantId): Promise<void> {
    await this.settled(tenant);
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

  private async settled(tenant: TenantId): Promise<void> {
    const slot = this.passes.get(tenant);
    await (slot?.next ?? slot?.current)?.catch(() => undefined);
  }

  /**
   * Brings every read model of `tenant` up to the log's end as found now. One
   * pass per tenant runs at a time; requests made during a pass share the
   * single pass queued behind it.
   */
  catchUp(tenant: TenantId): Promise<void> {
    if (this.empty) return Promise.resolve();
    this.known.add(tenant);
    const slot = this.passes.get(tenant);
    if (slot?.next !== undefined) return slot.next;
    const run = (slot?.current ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.pass(tenant));
    const entry: PassSlot = slot ?? { current: run };
    if (slot !== undefined) entry.next = run;
    else this.passes.set(tenant, entry);
    void run
      .catch((error: unknown) => {
        this.options.logger.warn({ tenant_id: tenant, err: error }, 'read models pass failed');
      })
      .then(() => {
        if (entry.current !== run) return; // only the running pass hands over
        if (entry.next === undefined) this.passes.delete(tenant);
        else {
          entry.current = entry.next;
          delete entry.next;
        }
      });
    return run;
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
    clearInterval(this.sweeper);
    await Promise.all([...this.passes.keys()].map((tenant) => this.settled(tenant)));
    for (const [tenant, models] of this.tenants) {
      // One tenant's checkpoint that cannot be saved must not stop the others' (nor the node's stop).
      await this.save(tenant, models, true).catch((error: unknown) =>
        this.options.logger.error({ tenant_id: tenant, err: error }, 'checkpoints not saved'),
      );
    }
  }

  private sweep(): void {
    for (const tenant of this.known) {
      if (this.options.owns(tenant) && !this.passes.has(tenant)) {
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
          ? await this.project(model.projection, model.cursor, mine)
          : await this.react(model.manager, model.cursor, mine, tenant));
      const last = fresh.at(-1);
      if (!ok) stalled.add(model);
      else if (last !== undefined && last.position > model.cursor.position) {
        model.cursor.position = last.position; // read past, also what it does not subscribe to
        model.cursor.dirty = true;
      }
    }
  }

  /**
   * Folds commits into a projection: all at once when it can, else commit by
   * commit, advancing the cursor. A commit it cannot fold (a program fault,
   * or a document over the size limit) is skipped and listed, never a stuck
   * projection; false only when it must wait (the runtime is unavailable).
   */
  private async project(
    projection: AsyncProjection<JsonValue>,
    cursor: Cursor,
    commits: readonly StoredCommit[],
  ): Promise<boolean> {
    const { maxStateBytes } = this.options;
    const initial = cursor.state ?? projection.initialState();
    if (projection.applyMany !== undefined) {
      try {
        const events = commits.flatMap((c) => c.events);
        cursor.state = checkProjectionState(
          await projection.applyMany(initial, events),
          maxStateBytes,
        );
        advance(cursor, commits.at(-1));
        return true;
      } catch {
        // find the commit at fault below
      }
    }
    let state = initial;
    for (const commit of commits) {
      try {
        let next = state;
        for (const event of commit.events) next = await projection.apply(next, event);
        state = checkProjectionState(next, maxStateBytes);
      } catch (error) {
        if (!isCommitFault(error)) return false;
        this.options.logger.error(
          { projection: projection.name, position: commit.position, err: error },
          'projection skipped a commit it cannot fold',
        );
        cursor.skipped = withSkipped(cursor.skipped ?? [], commit, error);
        this.options.onSkipped?.(projection.name);
      }
      cursor.state = state;
      advance(cursor, commit);
    }
    return true;
  }

  /**
   * Sends the commands a process manager asks for, commit by commit, advancing
   * its cursor; false when it must wait (a program failure, or a command that
   * cannot be sent now).
   */
  private async react(
    manager: AsyncProcessManager,
    cursor: Cursor,
    commits: readonly StoredCommit[],
    tenant: TenantId,
  ): Promise<boolean> {
    const events = commits.flatMap((c) => c.events);
    const reactions = await this.reactionsOf(manager, events, tenant);
    let at = 0;
    for (const commit of commits) {
      for (const event of commit.events) {
        const commands = reactions[at++];
        if (commands === undefined) return false; // the program failed on this event
        for (const [index, command] of commands.entries()) {
          const envelope = processManagerEnvelope(manager.name, command, event, index);
          if (!(await this.dispatchOne(manager.name, envelope, event))) return false;
        }
      }
      advance(cursor, commit);
    }
    return true;
  }

  /** The reactions to `events`, in one batch when it can; cut short at the first failure. */
  private async reactionsOf(
    manager: AsyncProcessManager,
    events: readonly EventEnvelope[],
    tenant: TenantId,
  ): Promise<ReadonlyArray<readonly ProcessManagerCommand[]>> {
    if (manager.reactMany !== undefined) {
      try {
        return await manager.reactMany(events);
      } catch {
        // find the event at fault below
      }
    }
    const reactions: Array<readonly ProcessManagerCommand[]> = [];
    for (const event of events) {
      try {
        reactions.push(await manager.react(event.aggregate_type, event.aggregate_id, event));
      } catch (error) {
        this.options.logger.error(
          {
            process_manager: manager.name,
            tenant_id: tenant,
            event_id: event.event_id,
            err: error,
          },
          'process manager stopped at an event it cannot react to',
        );
        break;
      }
    }
    return reactions;
  }

  private async dispatchOne(
    manager: string,
    envelope: Record<string, JsonValue>,
    cause: EventEnvelope,
  ): Promise<boolean> {
    try {
      await this.options.dispatch(envelope);
      return true;
    } catch (error) {
      if (isTenantfoldError(error) && error.retryable) {
        this.options.logger.info(
          { process_manager: manager, tenant_id: cause.tenant_id, err: error },
          'process manager waits: its command cannot be sent now',
        );
        return false;
      }
      await this.options.deadLetters.append(manager, {
        envelope,
        error: isTenantfoldError(error)
          ? { code: error.code, message: error.message }
          : { code: 'INTERNAL', message: String(error) },
        ts: new Date().toISOString(),
      });
      this.options.logger.warn(
        { process_manager: manager, tenant_id: cause.tenant_id, command_id: envelope.command_id },
        'process manager command dead-lettered',
      );
      return true;
    }
  }

  private async modelsOf(tenant: TenantId): Promise<TenantModels> {
    const loaded = this.tenants.get(tenant);
    if (loaded !== undefined) return loaded;
    const { checkpoints } = this.options;
    const load = async (name: string, initial?: () => JsonValue): Promise<Cursor> => {
      const stored = await checkpoints.load(name);
      if (isJsonObject(stored) && typeof stored.position === 'number') {
        return {
          position: stored.position,
          dirty: false,
          ...(initial === undefined
            ? {}
            : { state: stored.state ?? initial(), skipped: skippedOf(stored) }),
        };
      }
      return { position: 0, dirty: false, ...(initial === undefined ? {} : { state: initial() }) };
    };
    const models: TenantModels = {
      projections: new Map(),
      managers: new Map(),
      savedAt: 0,
      saveDue: false,
    };
    for (const p of this.options.projections) {
      models.projections.set(
        p.name,
        await load(checkpointName('projections', p.name, tenant), () => p.initialState()),
      );
    }
    for (const m of this.options.processManagers) {
      models.managers.set(m.name, await load(checkpointName('process_managers', m.name, tenant)));
    }
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
    models.savedAt = Date.now();
    const { checkpoints } = this.options;
    for (const [name, cursor] of models.projections) {
      if (!cursor.dirty) continue;
      await checkpoints.save(checkpointName('projections', name, tenant), {
        position: cursor.position,
        state: cursor.state ?? null,
        ...(cursor.skipped === undefined || cursor.skipped.length === 0
          ? {}
          : { skipped: cursor.skipped as unknown as JsonValue }),
      });
      cursor.dirty = false;
    }
    for (const [name, cursor] of models.managers) {
      if (!cursor.dirty) continue;
      await checkpoints.save(checkpointName('process_managers', name, tenant), {
        position: cursor.position,
      });
      cursor.dirty = false;
    }
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

function advance(cursor: Cursor, commit: StoredCommit | undefined): void {
  if (commit === undefined || commit.position <= cursor.position) return;
  cursor.position = commit.position;
  cursor.dirty = true;
}

/** KV key of one read model's checkpoint for one tenant. */
export function checkpointName(section: string, name: string, tenant: TenantId): string {
  return `${section}/${name}/${TenantId.token(tenant)}`;
}
