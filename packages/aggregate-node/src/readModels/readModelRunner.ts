import type {
  CheckpointStore,
  DeadLetterStore,
  EventEnvelope,
  EventLog,
  JsonValue,
  Logger,
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
}

/** Where one read model of one tenant stands. */
interface Cursor {
  position: number;
  /** Projections only: the folded document. */
  state?: JsonValue;
  /** Unsaved progress. */
  dirty: boolean;
}

interface TenantModels {
  readonly projections: Map<string, Cursor>;
  readonly managers: Map<string, Cursor>;
}

/** A projection's document for one tenant, and the log position it reflects. */
export interface ProjectionView {
  readonly tenant_id: string;
  readonly projection: string;
  readonly position: number;
  readonly state: JsonValue;
}

/** Commits between checkpoint saves during a long catch-up. */
const SAVE_EVERY_COMMITS = 500;

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
  private readonly passes = new Map<TenantId, Promise<void>>();
  private readonly pending = new Set<TenantId>();
  private readonly known = new Set<TenantId>();
  private sweeper: NodeJS.Timeout | undefined;
  private scheduled = false;
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

  /** A commit of `tenant` happened here: catch its read models up soon. */
  notify(tenant: TenantId): void {
    if (this.empty || this.stopped) return;
    this.known.add(tenant);
    if (!this.started) return; // the sweep at start covers it
    this.pending.add(tenant);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const tenants = [...this.pending];
      this.pending.clear();
      for (const t of tenants) void this.catchUp(t).catch(() => undefined); // logged inside
    });
  }

  /** Forgets a tenant that left the node (its checkpoints stay in KV for the next owner). */
  forget(tenant: TenantId): void {
    this.known.delete(tenant);
    this.pending.delete(tenant);
    this.tenants.delete(tenant);
  }

  /** Brings every read model of `tenant` up to the log's end as found now. One pass per tenant at a time. */
  catchUp(tenant: TenantId): Promise<void> {
    if (this.empty) return Promise.resolve();
    this.known.add(tenant);
    const previous = this.passes.get(tenant) ?? Promise.resolve();
    const pass = previous.then(() => this.pass(tenant));
    const settled = pass.catch((error: unknown) => {
      this.options.logger.warn({ tenant_id: tenant, err: error }, 'read models pass failed');
    });
    this.passes.set(tenant, settled);
    void settled.then(() => {
      if (this.passes.get(tenant) === settled) this.passes.delete(tenant);
    });
    return pass;
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
    };
  }

  /** Stops the sweep and waits for passes in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    await Promise.all([...this.passes.values()]);
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
    const dispatching = this.options.mayDispatch(tenant);
    const active = [
      ...this.options.projections.map((p) => ({ kind: 'projection' as const, p })),
      ...(dispatching
        ? this.options.processManagers.map((m) => ({ kind: 'manager' as const, m }))
        : []),
    ];
    const cursorOf = (a: (typeof active)[number]): Cursor =>
      a.kind === 'projection'
        ? (models.projections.get(a.p.name) as Cursor)
        : (models.managers.get(a.m.name) as Cursor);
    const subscribes = (a: (typeof active)[number]) =>
      a.kind === 'projection' ? a.p.subscribes : a.m.subscribes;
    if (active.length === 0) return;
    const from = Math.min(...active.map((a) => cursorOf(a).position));
    const types = [...new Set(active.flatMap(subscribes))].map((t) => AggregateType.parse(t));
    const readAll = this.options.log.readAll?.bind(this.options.log);
    if (readAll === undefined)
      throw new ValidationError('the event log has no stream-wide read', 'log');
    const stalled = new Set<(typeof active)[number]>();
    let sinceSave = 0;
    try {
      for await (const commit of readAll({ tenant, types }, from)) {
        for (const model of active) {
          const cursor = cursorOf(model);
          if (stalled.has(model) || commit.position <= cursor.position) continue;
          if (!subscribes(model).includes(commit.stream.type)) continue;
          const ok =
            model.kind === 'projection'
              ? await this.project(model.p, cursor, commit)
              : await this.react(model.m, commit, tenant);
          if (ok) {
            cursor.position = commit.position;
            cursor.dirty = true;
          } else {
            stalled.add(model);
          }
        }
        if (++sinceSave >= SAVE_EVERY_COMMITS) {
          await this.save(tenant, models);
          sinceSave = 0;
        }
        if (stalled.size === active.length) break;
      }
    } finally {
      await this.save(tenant, models);
    }
  }

  private async project(
    projection: AsyncProjection<JsonValue>,
    cursor: Cursor,
    commit: StoredCommit,
  ): Promise<boolean> {
    let state = cursor.state ?? projection.initialState();
    try {
      for (const event of commit.events) state = await projection.apply(state, event);
    } catch (error) {
      this.options.logger.error(
        { projection: projection.name, position: commit.position, err: error },
        'projection stopped at a commit it cannot fold',
      );
      return false;
    }
    cursor.state = state;
    return true;
  }

  /** Dispatches the commands of one commit; false when the manager must wait for a later pass. */
  private async react(
    manager: AsyncProcessManager,
    commit: StoredCommit,
    tenant: TenantId,
  ): Promise<boolean> {
    const { logger } = this.options;
    for (const event of commit.events) {
      let commands;
      try {
        commands = await manager.react(event.aggregate_type, event.aggregate_id, event);
      } catch (error) {
        logger.error(
          {
            process_manager: manager.name,
            tenant_id: tenant,
            position: commit.position,
            err: error,
          },
          'process manager stopped at an event it cannot react to',
        );
        return false;
      }
      for (const [index, command] of commands.entries()) {
        const envelope = processManagerEnvelope(manager.name, command, event, index);
        if (!(await this.dispatchOne(manager.name, envelope, event))) return false;
      }
    }
    return true;
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
          ...(initial === undefined ? {} : { state: stored.state ?? initial() }),
        };
      }
      return { position: 0, dirty: false, ...(initial === undefined ? {} : { state: initial() }) };
    };
    const models: TenantModels = { projections: new Map(), managers: new Map() };
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

  private async save(tenant: TenantId, models: TenantModels): Promise<void> {
    const { checkpoints } = this.options;
    for (const [name, cursor] of models.projections) {
      if (!cursor.dirty) continue;
      await checkpoints.save(checkpointName('projections', name, tenant), {
        position: cursor.position,
        state: cursor.state ?? null,
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

/** KV key of one read model's checkpoint for one tenant. */
export function checkpointName(section: string, name: string, tenant: TenantId): string {
  return `${section}/${name}/${TenantId.token(tenant)}`;
}
