import type { Logger, TenantId } from '@tenantfold/core';
import {
  NotFoundError,
  silentLogger,
  TenantId as Tenant,
  UnavailableError,
  ValidationError,
} from '@tenantfold/core';
import type {
  MigrationPhase,
  MigrationRecord,
  Placement,
  PlacementStore,
  Stored,
} from '@tenantfold/nats';
import { checkNodeId, PlacementConflictError, resolveOwner } from '@tenantfold/nats';
import type { NodeAddress, NodeAdminClient } from '../admin/nodeAdminClient.js';
import type { MigrationMetrics } from './metrics.js';
import type { MigrationResult, MigrationTimeouts, PhaseEvent, PreRound } from './types.js';
import { DEFAULT_MIGRATION_TIMEOUTS } from './types.js';

const FINAL_PHASES: ReadonlySet<MigrationPhase> = new Set(['DONE', 'ROLLED_BACK']);
/** Longest `reason` a migration record takes. */
const MAX_REASON = 1024;
/** KV writes that must land once the outcome is decided (pin, final record) get this many tries. */
const SETTLE_ATTEMPTS = 5;
/**
 * Pre-verified rounds before the hold: a whole report, then reports of what
 * changed since the last one, while they shrink. A hot tenant whose delta
 * stops shrinking (or that uses up the rounds) is drained with the delta it
 * has: the hold then grows with its write rate, never with its size.
 */
const MAX_PRE_ROUNDS = 4;
/** A delta this small is left to the hold. */
const SMALL_DELTA = 16;

/** The tenant already has a migration that is not finished. */
export class MigrationInFlightError extends UnavailableError {
  constructor(
    readonly tenant: string,
    readonly record: MigrationRecord,
  ) {
    super(
      `tenant '${tenant}' is already migrating (${record.phase}, ${record.from} → ${record.to}, epoch ${record.epoch}, started ${record.startedAt}): wait for it, or if its controller died run \`placementctl migrate ${tenant || "''"} --recover\``,
    );
  }
}

/** The record was changed by someone else (another controller, a recovery) during this run. */
export class MigrationSupersededError extends UnavailableError {}

export interface MigratorOptions {
  readonly placement: PlacementStore;
  readonly admin: NodeAdminClient;
  readonly logger?: Logger;
  readonly metrics?: MigrationMetrics;
  readonly timeouts?: Partial<MigrationTimeouts>;
}

export interface MigrateOptions {
  /** Called as each phase is entered, and with the final phase. */
  readonly onPhase?: (event: PhaseEvent) => void;
}

/**
 * Drives the migration protocol of docs/migration.md: every phase a CAS on
 * the tenant's migration record (with an epoch), node work behind the admin
 * API, any failure or timeout before the swap rolled back to the source.
 */
export class Migrator {
  readonly timeouts: MigrationTimeouts;
  readonly logger: Logger;
  private readonly load: () => Promise<Placement>;

  constructor(readonly options: MigratorOptions) {
    this.timeouts = Object.freeze({ ...DEFAULT_MIGRATION_TIMEOUTS, ...options.timeouts });
    this.logger = options.logger ?? silentLogger;
    this.load = () => options.placement.load();
  }

  /** Moves `tenant` from its current owner to node `to`; resolves with the outcome (also when rolled back). */
  async migrate(
    tenantInput: string,
    to: string,
    options: MigrateOptions = {},
  ): Promise<MigrationResult> {
    const tenant = Tenant.parse(tenantInput, 'tenant');
    checkNodeId(to, 'to');
    const placement = await this.load();
    const target = placement.nodes.get(to);
    if (target === undefined) {
      throw new NotFoundError(`node '${to}' is not registered (see \`placementctl nodes list\`)`);
    }
    if (target.status === 'down') {
      throw new ValidationError(`node '${to}' is down: pick a node that is up`, 'to');
    }
    const from = resolveOwner(placement, tenant);
    if (from === undefined) {
      throw new UnavailableError(
        `no node owns tenant '${tenant}' now (no active node?): nothing to migrate from`,
      );
    }
    if (from === to) {
      throw new ValidationError(`tenant '${tenant}' is already on node '${to}'`, 'to');
    }
    const existing = placement.migrations.get(tenant);
    if (existing !== undefined && !FINAL_PHASES.has(existing.phase)) {
      throw new MigrationInFlightError(tenant, existing);
    }
    const source = placement.nodes.get(from) ?? { id: from, adminAddress: '' };
    const record: MigrationRecord = {
      phase: 'PREPARING',
      from,
      to,
      epoch: (existing?.epoch ?? 0) + 1,
      startedAt: new Date().toISOString(),
    };
    const run = new MigrationRun(this, tenant, source, target, record, options.onPhase);
    return run.execute(existing?.revision ?? 0);
  }

  /**
   * Settles a migration left unfinished (its controller died): before
   * SWAPPING it rolls back to the source, in SWAPPING it finishes the swap.
   * Resolves undefined when the tenant has no unfinished migration.
   */
  async recover(
    tenantInput: string,
    options: MigrateOptions = {},
  ): Promise<MigrationResult | undefined> {
    const tenant = Tenant.parse(tenantInput, 'tenant');
    const record = await this.options.placement.getMigration(tenant);
    if (record === undefined || FINAL_PHASES.has(record.phase)) return undefined;
    const placement = await this.load();
    const address = (id: string): NodeAddress =>
      placement.nodes.get(id) ?? { id, adminAddress: '' };
    const run = new MigrationRun(
      this,
      tenant,
      address(record.from),
      address(record.to),
      record,
      options.onPhase,
    );
    return run.recover(record);
  }

  /** @internal used by runs */
  finished(result: MigrationResult): MigrationResult {
    this.options.metrics?.record(result);
    const log = { tenant_id: result.tenant, from: result.from, to: result.to, epoch: result.epoch };
    if (result.outcome === 'DONE') {
      this.logger.info(
        { ...log, holdMs: result.holdMs, totalMs: result.totalMs },
        'migration done',
      );
    } else {
      this.logger.warn({ ...log, reason: result.reason }, 'migration rolled back');
    }
    return result;
  }
}

/** One migration's state: the record as last written and its timings. */
class MigrationRun {
  private revision = 0;
  private readonly startedAt = performance.now();
  private phaseStartedAt = this.startedAt;
  private heldAt: number | undefined;
  /** When the final record (DONE / ROLLED_BACK) was written: routers stop holding. */
  private settledAt: number | undefined;
  private aggregates: number | undefined;
  private readonly preRounds: PreRound[] = [];
  private verifiedBeforeHold: number | undefined;
  private verifiedInHold: number | undefined;
  private readonly phases: Array<{ phase: MigrationPhase; ms: number }> = [];
  private readonly warnings: string[] = [];

  constructor(
    private readonly migrator: Migrator,
    private readonly tenant: TenantId,
    private readonly source: NodeAddress,
    private readonly target: NodeAddress,
    private record: MigrationRecord,
    private readonly onPhase: ((event: PhaseEvent) => void) | undefined,
  ) {}

  private get admin(): NodeAdminClient {
    return this.migrator.options.admin;
  }

  private get store(): PlacementStore {
    return this.migrator.options.placement;
  }

  async execute(expectedRevision: number): Promise<MigrationResult> {
    const { timeouts } = this.migrator;
    const { tenant, record } = this;
    this.revision = await this.store.putMigration(tenant, record, expectedRevision);
    this.report();
    let failure: string | undefined;
    try {
      await this.enter('WARMING');
      await this.admin.warm(this.target, tenant, record.epoch, timeouts.warmMs);
      const after = await this.preVerify();
      await this.enter('DRAINING');
      this.heldAt = performance.now();
      const drained = await this.admin.drain(
        this.source,
        tenant,
        record.epoch,
        after,
        timeouts.drainMs,
      );
      this.aggregates = drained.aggregates.length;
      await this.enter('VERIFYING');
      const verified = await this.admin.verify(
        this.target,
        tenant,
        record.epoch,
        drained.aggregates,
        { scope: 'delta', after },
        timeouts.verifyMs,
      );
      this.verifiedBeforeHold = verified.verifiedBeforeHold;
      this.verifiedInHold = verified.verifiedInHold;
      this.aggregates = verified.verifiedBeforeHold + verified.verifiedInHold;
      if (verified.ok) await this.enter('SWAPPING');
      else failure = mismatchReason(verified.mismatches);
    } catch (error) {
      if (error instanceof MigrationSupersededError) throw error;
      await this.assertStillOurs(error);
      failure = reasonOf(error);
    }
    if (failure !== undefined) return this.rollBack(failure);
    return this.swap();
  }

  /**
   * While the source still serves (the record says WARMING, nothing is
   * held): the target compares a whole report of the source, then reports of
   * what changed since, while they shrink. Returns the last report's
   * position: the drain reports only what changed after it.
   * @throws on a mismatch (the move rolls back before anything was held)
   */
  private async preVerify(): Promise<number> {
    const { timeouts } = this.migrator;
    const { tenant, record } = this;
    let after: number | undefined;
    let previous = Infinity;
    for (let round = 1; round <= MAX_PRE_ROUNDS; round++) {
      const started = performance.now();
      const report = await this.admin.report(
        this.source,
        tenant,
        record.epoch,
        after,
        timeouts.drainMs,
      );
      const verifyingAt = performance.now();
      const verified = await this.admin.verify(
        this.target,
        tenant,
        record.epoch,
        report.aggregates,
        { scope: 'pre' },
        timeouts.verifyMs,
      );
      if (!verified.ok) throw new Error(`before the hold: ${mismatchReason(verified.mismatches)}`);
      after = report.position;
      const delta = report.aggregates.length;
      this.preRounds.push({
        aggregates: delta,
        deferred: verified.deferred,
        reportMs: Math.round(verifyingAt - started),
        verifyMs: Math.round(performance.now() - verifyingAt),
      });
      if (round > 1 && (delta <= SMALL_DELTA || delta >= previous)) break;
      previous = round === 1 ? Infinity : delta;
    }
    return after!;
  }

  async recover(record: Stored<MigrationRecord>): Promise<MigrationResult> {
    this.revision = record.revision;
    if (record.phase === 'SWAPPING') return this.swap();
    return this.rollBack(`controller restarted during ${record.phase}`);
  }

  /** Pin to the target, record DONE, let the source drop the tenant. Past the point of no return. */
  private async swap(): Promise<MigrationResult> {
    const { tenant, record } = this;
    try {
      await settle(() => this.pinTo(record.to));
    } catch (error) {
      // The pin never moved (or we cannot tell): only a pin on the target would commit the move.
      const pin = await this.store.getPin(tenant).catch(() => undefined);
      if (pin?.nodeId !== record.to) return this.rollBack(`swap failed: ${reasonOf(error)}`);
    }
    await settle(() => this.enter('DONE'));
    const released = this.admin.release(
      this.source,
      tenant,
      record.epoch,
      this.migrator.timeouts.notifyMs,
    );
    await released.catch((error: unknown) =>
      this.warnings.push(`source did not release the tenant: ${reasonOf(error)}`),
    );
    return this.result('DONE');
  }

  private async rollBack(reason: string): Promise<MigrationResult> {
    const { tenant, record } = this;
    const short = reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason;
    // The source reopens its intake before routers release the held commands to it.
    await this.admin
      .resume(this.source, tenant, record.epoch, this.migrator.timeouts.notifyMs)
      .catch((error: unknown) =>
        this.warnings.push(`source did not confirm the resume: ${reasonOf(error)}`),
      );
    await settle(() => this.enter('ROLLED_BACK', short));
    return this.result('ROLLED_BACK', short);
  }

  private async pinTo(node: string): Promise<void> {
    const pin = await this.store.getPin(this.tenant);
    if (pin?.nodeId === node) return;
    await this.store.pin(this.tenant, node, { expectedRevision: pin?.revision ?? 0 });
  }

  /**
   * After a node call failed: if the record is no longer this run's (a node
   * refuses a step whose record another controller settled), stop without
   * touching anything, as a lost CAS would.
   */
  private async assertStillOurs(cause: unknown): Promise<void> {
    const now = await this.store.getMigration(this.tenant).catch(() => undefined);
    if (now === undefined) return; // cannot tell: the rollback's own CAS decides
    if (now.epoch !== this.record.epoch || now.phase !== this.record.phase) {
      throw new MigrationSupersededError(
        `the migration record of tenant '${this.tenant}' (epoch ${this.record.epoch}) was changed by someone else (now ${now.phase}, epoch ${now.epoch}): stopped`,
        { cause },
      );
    }
  }

  /** CAS the record to `phase`; a lost race means another controller took over. */
  private async enter(phase: MigrationPhase, reason?: string): Promise<void> {
    const next: MigrationRecord = {
      ...this.record,
      phase,
      ...(reason === undefined ? {} : { reason }),
    };
    try {
      this.revision = await this.store.putMigration(this.tenant, next, this.revision);
    } catch (error) {
      if (!(error instanceof PlacementConflictError)) throw error;
      const now = await this.store.getMigration(this.tenant).catch(() => undefined);
      const ours = now !== undefined && now.epoch === this.record.epoch;
      if (ours && now.phase === this.record.phase) {
        this.revision = now.revision; // the same record rewritten under us: try again on it
        return this.enter(phase, reason);
      }
      if (!ours || now.phase !== phase) {
        throw new MigrationSupersededError(
          `the migration record of tenant '${this.tenant}' (epoch ${this.record.epoch}) was changed by someone else (now ${now === undefined ? 'absent' : `${now.phase}, epoch ${now.epoch}`}): stopped`,
          { cause: error },
        );
      }
      this.revision = now.revision; // an earlier attempt of this write landed after all
    }
    const at = performance.now();
    if (FINAL_PHASES.has(phase)) this.settledAt = at;
    this.phases.push({ phase: this.record.phase, ms: at - this.phaseStartedAt });
    this.phaseStartedAt = at;
    this.record = next;
    this.report();
  }

  private report(): void {
    this.migrator.logger.info(
      { tenant_id: this.tenant, phase: this.record.phase, epoch: this.record.epoch },
      'migration phase',
    );
    this.onPhase?.({
      tenant: this.tenant,
      phase: this.record.phase,
      epoch: this.record.epoch,
      elapsedMs: performance.now() - this.startedAt,
    });
  }

  private result(outcome: 'DONE' | 'ROLLED_BACK', reason?: string): MigrationResult {
    const end = performance.now();
    return this.migrator.finished({
      tenant: this.tenant,
      from: this.record.from,
      to: this.record.to,
      epoch: this.record.epoch,
      outcome,
      ...(reason === undefined ? {} : { reason }),
      phases: [...this.phases],
      ...(this.heldAt === undefined ? {} : { holdMs: (this.settledAt ?? end) - this.heldAt }),
      ...(outcome === 'DONE' ? { releaseMs: end - (this.settledAt ?? end) } : {}),
      totalMs: end - this.startedAt,
      ...(this.aggregates === undefined ? {} : { aggregates: this.aggregates }),
      preRounds: [...this.preRounds],
      ...(this.verifiedInHold === undefined
        ? {}
        : { verifiedBeforeHold: this.verifiedBeforeHold!, verifiedInHold: this.verifiedInHold }),
      warnings: [...this.warnings],
    });
  }
}

async function settle(write: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (error instanceof MigrationSupersededError || attempt >= SETTLE_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
    }
  }
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function mismatchReason(
  mismatches: ReadonlyArray<{
    type: string;
    id: string;
    expected: unknown;
    actual: unknown;
    reason?: string;
  }>,
): string {
  const shown = mismatches
    .slice(0, 3)
    .map(
      (m) =>
        `${m.type}/${m.id} expected ${JSON.stringify(m.expected)} got ${JSON.stringify(m.actual)}${m.reason === undefined ? '' : ` (${m.reason})`}`,
    );
  const more = mismatches.length > 3 ? `, and ${mismatches.length - 3} more` : '';
  return `verification failed: ${mismatches.length} aggregate(s) differ on the target (${shown.join('; ')}${more})`;
}
