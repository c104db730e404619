import type { MigrationPhase } from '@tenantfold/nats';

/** How long each node call of a migration may take, in ms. */
export interface MigrationTimeouts {
  /** Target loads the tenant. @default 120_000 */
  readonly warmMs: number;
  /** Source stops intake and reports positions. @default 15_000 */
  readonly drainMs: number;
  /** Target catches up and compares hashes. @default 30_000 */
  readonly verifyMs: number;
  /** Resume and release calls (after the outcome is decided). @default 5_000 */
  readonly notifyMs: number;
}

export const DEFAULT_MIGRATION_TIMEOUTS: MigrationTimeouts = Object.freeze({
  warmMs: 120_000,
  drainMs: 15_000,
  verifyMs: 30_000,
  notifyMs: 5_000,
});

/** Reported as each phase is entered (after its record write). */
export interface PhaseEvent {
  readonly tenant: string;
  readonly phase: MigrationPhase;
  readonly epoch: number;
  /** ms since the migration started. */
  readonly elapsedMs: number;
}

/** One report the target compared before the hold. */
export interface PreRound {
  /** Aggregates reported: the whole tenant first, then those committed since the last report. */
  readonly aggregates: number;
  /** Of them, those that moved on while being compared (the next report lists them). */
  readonly deferred: number;
  readonly reportMs: number;
  readonly verifyMs: number;
}

/** How a migration ended, with its hand-off telemetry. */
export interface MigrationResult {
  readonly tenant: string;
  readonly from: string;
  readonly to: string;
  readonly epoch: number;
  readonly outcome: 'DONE' | 'ROLLED_BACK';
  /** Why it was rolled back. */
  readonly reason?: string;
  /** Time spent in each phase that was entered, in order. */
  readonly phases: ReadonlyArray<{ readonly phase: MigrationPhase; readonly ms: number }>;
  /**
   * Commands of the tenant were held by routers for at most this long: from
   * the DRAINING write to the DONE / ROLLED_BACK write (undefined: never held).
   */
  readonly holdMs?: number;
  /** DONE: how long the source took to release the tenant afterwards (commands already flow). */
  readonly releaseMs?: number;
  readonly totalMs: number;
  /** Aggregates of the tenant compared (before and in the hold; undefined: no drain happened). */
  readonly aggregates?: number;
  /** Reports the target compared while the source still served (the first one whole). */
  readonly preRounds: readonly PreRound[];
  /**
   * The tenant's aggregates by where they were last compared: before the
   * hold (pre-verified, unchanged since) or in it (the delta); each once.
   */
  readonly verifiedBeforeHold?: number;
  readonly verifiedInHold?: number;
  /** Things that went wrong after the outcome was settled (a failed release call). */
  readonly warnings: readonly string[];
}
