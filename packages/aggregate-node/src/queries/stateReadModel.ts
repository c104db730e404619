import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type {
  CommitObserver,
  EventLog,
  JsonValue,
  Logger,
  StoredCommit,
  StreamKey,
  TenantId,
} from '@tenantfold/core';
import { StreamKey as Key } from '@tenantfold/core';
import { TurnPublisher } from '@tenantfold/nats';
import type { Manifest } from '@tenantfold/programs';
import type {
  AppliedChange,
  QuarantinedRow,
  StateChange,
  StateSource,
  UnfoldableState,
} from '@tenantfold/query';
import { changeOf, latestStates, quarantineIn, ReadModel } from '@tenantfold/query';
import { encodeNotification, notificationOf, stateSubject } from '@tenantfold/query/live';

export interface StateReadModelOptions {
  /** The database file (its directory is created). */
  readonly path: string;
  /** Empty: a random key per process (cursors then fail on another node). */
  readonly cursorSecret: string;
  /** Where change notifications go (core NATS). */
  readonly nc: NatsConnection;
  readonly logger: Logger;
}

/** The engine's view of storage: a stream-wide read for catching up, states through the actors. */
export interface StateLog extends StateSource {
  readonly eventLog: EventLog & Required<Pick<EventLog, 'readAll'>>;
  /** Drops what the engine holds of an aggregate, so its next state is read from the log. */
  refresh(key: StreamKey): void;
}

/**
 * The node's state read model: one SQLite database holding a row per
 * aggregate of the tenants it owns, fed by the engine's commits (it is the
 * store's commit observer) and announcing each change on
 * `state.<tenant>.<type>.<id>` once the row is written.
 */
export class StateReadModel {
  readonly #withdrawals = new Map<string, () => void>();
  /** Tenants whose rows are complete (or being built): the rest are built at first read. */
  readonly #ready = new Map<TenantId, Promise<unknown>>();

  /** Where an aggregate goes that cannot be folded: the quarantine, never a failed start. */
  readonly #unfoldable: UnfoldableState;
  /** Commits of this event-loop turn, written together in one transaction (see `observer`). */
  #pending: StateChange[] = [];

  private constructor(
    readonly model: ReadModel,
    private readonly options: StateReadModelOptions,
  ) {
    this.#unfoldable = quarantineIn(model, options.logger);
  }

  static open(options: StateReadModelOptions): StateReadModel {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    const model = ReadModel.open({
      path: options.path,
      ...(options.cursorSecret === '' ? {} : { cursorSecret: options.cursorSecret }),
    });
    const { opened } = model;
    if (opened.status === 'recovered') {
      options.logger.warn(
        { path: options.path, reason: opened.reason, movedTo: opened.movedTo },
        'read model unusable: moved aside, rebuilding from the event log',
      );
    }
    return new StateReadModel(model, options);
  }

  /** Feeds the read model from the store: plug it in as `commitObserver`. */
  readonly observer: CommitObserver = {
    // Announced at the append, so a wait for a later position cannot pass this one unapplied.
    appended: (commit) =>
      this.#withdrawals.set(
        commitName(commit),
        this.model.announce(commit.stream.tenant, commit.position),
      ),
    // Written at the end of the turn with the other commits of the turn: one SQLite
    // transaction for many commits. The announcement holds reads with a later token
    // until then, and the turn ends before the next request is read.
    committed: (commit, state) => {
      this.#withdrawals.delete(commitName(commit));
      this.#pending.push(changeOf(commit, state as JsonValue));
      if (this.#pending.length === 1) setImmediate(() => this.flush());
    },
    // Committed but not folded (evolve failed): set aside, so the tenant's position goes on.
    failed: (commit) => {
      this.flush();
      this.#withdrawals.get(commitName(commit))?.();
      this.#withdrawals.delete(commitName(commit));
      const { tenant, type, id } = commit.stream;
      this.model.quarantine({
        tenant,
        type,
        id,
        position: commit.position,
        reason: `evolve failed after commit ${commit.position}`,
      });
    },
  };

  /**
   * Brings owned tenants up to date at start: all rebuilt when the file was
   * missing or damaged, and a tenant whose rows this log does not hold (the
   * file outlived its event stream) rebuilt too; the others caught up.
   */
  async start(
    tenants: readonly TenantId[],
    types: readonly string[],
    log: StateLog,
  ): Promise<void> {
    const rebuild = this.model.opened.needsRebuild;
    for (const tenant of tenants) {
      if (rebuild || !(await this.matchesLog(tenant, types, log))) await this.rebuild(tenant, log);
      else await this.catchUp(tenant, log);
      this.#ready.set(tenant, Promise.resolve());
    }
    const dropped = this.model
      .tenants()
      .filter(({ tenant }) => !tenants.includes(tenant as TenantId));
    for (const { tenant } of dropped) this.model.dropTenant(tenant);
    this.options.logger.info(
      { tenants: tenants.length, rebuilt: rebuild, dropped: dropped.length },
      'state read model ready',
    );
  }

  /** Whether the log holds the tenant's latest row as written (same position, same version). */
  private async matchesLog(
    tenant: TenantId,
    types: readonly string[],
    log: StateLog,
  ): Promise<boolean> {
    for (const type of types) {
      const [row] = this.model.query(tenant, type, { sort: '-updated_at', limit: 1 }).rows;
      if (row === undefined) continue;
      const commit = await log.eventLog.readAt(Key.of(tenant, type, row.id), row.position);
      if (commit?.version !== row.version) {
        this.options.logger.warn(
          { tenant_id: tenant, type, id: row.id, position: row.position },
          'state rows do not match the event log: rebuilding the tenant',
        );
        return false;
      }
    }
    return true;
  }

  /**
   * Resolves once the tenant's rows are complete. A tenant the node came to
   * own after it started, other than by a migration (a failover, a ring
   * change), has only the rows its commits here made: it is built once, at
   * its first read.
   */
  ready(tenant: TenantId, log: StateLog): Promise<unknown> {
    const known = this.#ready.get(tenant);
    if (known !== undefined) return known;
    const building = this.rebuild(tenant, log);
    building.catch(() => this.#ready.delete(tenant)); // the next read tries again
    return building;
  }

  /** Replaces a tenant's rows with the current state of each of its aggregates. */
  rebuild(tenant: TenantId, log: StateLog): Promise<{ rows: number }> {
    const building = this.model
      .rebuild(latestStates(log, everyStream(log.eventLog, tenant), this.#unfoldable), { tenant })
      .then((result) => {
        this.options.logger.info({ tenant_id: tenant, rows: result.rows }, 'state rows rebuilt');
        return result;
      });
    this.#ready.set(tenant, building);
    return building;
  }

  /** Applies what the log holds after the tenant's checkpoint (commits written elsewhere, or lost in a crash). */
  async catchUp(tenant: TenantId, log: StateLog): Promise<void> {
    // Each aggregate's last position only: the commits themselves may be large.
    const last = new Map<string, { stream: StreamKey; position: number }>();
    for await (const { stream, position } of log.eventLog.readAll(
      { tenant },
      this.model.checkpoint(tenant),
    )) {
      const name = Key.toString(stream);
      last.delete(name); // re-inserted: the map stays in log order of last commits
      last.set(name, { stream, position });
    }
    const behind = [...last.values()].filter(({ stream, position }) => {
      const row = this.model.get(stream.tenant, stream.type, stream.id);
      return row === undefined || row.position < position;
    });
    // On a node that does not write the tenant (a migration's target), an
    // aggregate may be held as loaded before these commits: read it again,
    // or its row would stay behind while the checkpoint moves past them.
    for (const { stream, position } of behind) {
      if ((await log.stateOf(stream)).position < position) log.refresh(stream);
    }
    // In log order, in bounded batches: a batch moves the checkpoint forward only past what it applied.
    const keys = behind.map(({ stream }) => stream);
    await this.model.applyAll(latestStates(log, keys, this.#unfoldable), (applied) =>
      this.publish(applied),
    );
  }

  /**
   * Writes the rows of `keys` with their states now, leaving the tenant's
   * checkpoint alone: a migration's target, whose states may run ahead of
   * what it read of the log, proves the rows complete and then `settle`s.
   */
  async put(
    keys: readonly StreamKey[],
    log: StateLog,
    known?: ReadonlyMap<string, string>,
  ): Promise<void> {
    await this.model.applyAll(latestStates(log, keys, this.#unfoldable, known), undefined, {
      checkpoint: false,
    });
  }

  /** The tenant's rows hold every commit up to `position`. */
  settle(tenant: TenantId, position: number): void {
    this.model.advanceCheckpoint(tenant, position);
  }

  /** The aggregates set aside (of one tenant, or all). */
  quarantined(tenant?: TenantId): QuarantinedRow[] {
    return this.model.quarantined(tenant);
  }

  /**
   * Clears the quarantine (one tenant's, or all) and folds those aggregates
   * again (after a fixed program was loaded); any that still fail are set
   * aside again. Returns what was released and what is quarantined now.
   */
  async release(
    tenant: TenantId | undefined,
    log: StateLog,
  ): Promise<{ released: QuarantinedRow[]; quarantined: QuarantinedRow[] }> {
    const released = this.model.release(tenant);
    const keys = released.map((row) => Key.of(row.tenant as TenantId, row.type, row.id));
    await this.model.applyAll(latestStates(log, keys, this.#unfoldable), (applied) =>
      this.publish(applied),
    );
    return { released, quarantined: this.model.quarantined(tenant) };
  }

  get path(): string {
    return this.options.path;
  }

  /** Writes the commits of this turn now, and announces their changes. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    try {
      for (const applied of this.model.apply(batch)) this.publish(applied);
    } catch (error) {
      // Not a row's fault (those are quarantined): the next start catches the rows up.
      this.options.logger.error({ err: error, commits: batch.length }, 'state rows not written');
    }
  }

  drop(tenant: TenantId): number {
    this.flush();
    this.#ready.delete(tenant);
    return this.model.dropTenant(tenant);
  }

  close(): void {
    this.flush();
    for (const withdraw of this.#withdrawals.values()) withdraw();
    this.#withdrawals.clear();
    this.model.close();
  }

  /** With the turn's other messages (one socket write); the row is written either way. */
  private publish(applied: AppliedChange): void {
    const { tenant, type, after } = applied;
    TurnPublisher.of(this.options.nc).publish(
      stateSubject(tenant, type, after.id),
      encodeNotification(notificationOf(applied)),
      {
        // Subscribers resume from versions after a reconnect.
        onFailure: (error) =>
          this.options.logger.warn(
            { tenant_id: tenant, err: error },
            'state notification not sent',
          ),
      },
    );
  }
}

/**
 * The tenant's streams, listed twice: those first written after the first
 * listing (and so maybe before every state a rebuild read) are listed again
 * once the first ones were consumed, so the rebuild's checkpoint is below them.
 */
async function* everyStream(log: EventLog, tenant: TenantId): AsyncGenerator<StreamKey> {
  const seen = new Set<string>();
  for await (const key of log.streams({ tenant })) {
    seen.add(Key.toString(key));
    yield key;
  }
  for await (const key of log.streams({ tenant })) {
    if (!seen.has(Key.toString(key))) yield key;
  }
}

function commitName(commit: StoredCommit): string {
  return `${commit.stream.tenant}\u0000${commit.position}`;
}

/** The manifest's `query.indexes`, per aggregate type. */
export function indexesOf(manifest: Manifest): Record<string, readonly string[]> {
  return Object.fromEntries(manifest.aggregates.map((a) => [a.type, a.query.indexes]));
}
