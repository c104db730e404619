import type { TenantId } from '@tenantfold/core';
import type { MigrationPhase, Placement } from '@tenantfold/nats';
import { RetryLaterError } from '../errors.js';
import type { HoldOutcome } from '../metrics/routerMetrics.js';

/** Phases in which routers hold a tenant's commands (docs/migration.md). */
export const HOLD_PHASES: ReadonlySet<MigrationPhase> = new Set([
  'DRAINING',
  'VERIFYING',
  'SWAPPING',
]);

/** Called once the admitted request has finished (success or failure). */
export type Done = () => void;

export interface CutoverHoldOptions {
  /** Most requests waiting per tenant; one more is refused. */
  readonly limit: number;
  /** Longest wait of one request. */
  readonly timeoutMs: number;
  readonly onHeld?: (now: number) => void;
  readonly onOutcome?: (outcome: HoldOutcome) => void;
}

interface Waiter {
  readonly aggregate: string;
  readonly admit: (done: Done) => void;
  readonly refuse: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** One tenant's held requests and, once released, the per-aggregate order of their forwarding. */
class TenantLine {
  readonly waiting: Waiter[] = [];
  /** Per aggregate: settles when the last request admitted for it is done. */
  readonly tails = new Map<string, Promise<void>>();
  running = 0;

  get idle(): boolean {
    return this.waiting.length === 0 && this.running === 0;
  }
}

const NOTHING_TO_WAIT_FOR: Done = () => undefined;

/**
 * Holds the requests of tenants in a migration cutover and lets them go, in
 * arrival order per aggregate, once the cutover is over. While a tenant's held
 * requests are being released, later requests for the same aggregate queue
 * behind them, so one aggregate's commands reach the new owner in order.
 */
export class CutoverHold {
  readonly #lines = new Map<TenantId, TenantLine>();
  #placement: Placement | undefined;
  #held = 0;

  constructor(private readonly options: CutoverHoldOptions) {}

  /**
   * `aggregate` names the request's aggregate; it is read only when the tenant
   * has requests held or in release (the common path decodes nothing).
   * Resolves when the request may be forwarded, with the `done` to call when
   * it has finished. Rejects with `RetryLaterError` when the tenant's queue is
   * full or the wait passes its deadline.
   */
  admit(tenant: TenantId, aggregate: () => string): Done | Promise<Done> {
    const inCutover = this.#inCutover(tenant);
    const line = this.#lines.get(tenant);
    if (!inCutover && line === undefined) return NOTHING_TO_WAIT_FOR;
    if (!inCutover) return this.#next(tenant, line!, aggregate());
    return this.#wait(tenant, line, aggregate());
  }

  /** Adopts a new placement: releases tenants whose cutover is over. */
  update(placement: Placement): void {
    this.#placement = placement;
    for (const [tenant, line] of this.#lines) {
      if (line.waiting.length > 0 && !this.#inCutover(tenant)) this.#release(tenant, line);
    }
  }

  /** Requests waiting now (all tenants). */
  get held(): number {
    return this.#held;
  }

  /** Refuses everything still waiting (shutdown). */
  close(): void {
    for (const line of this.#lines.values()) {
      for (const waiter of line.waiting.splice(0)) {
        clearTimeout(waiter.timer);
        this.#count(-1);
        waiter.refuse(new RetryLaterError('the router is shutting down; retry on another router'));
      }
    }
  }

  #inCutover(tenant: TenantId): boolean {
    const phase = this.#placement?.migrations.get(tenant)?.phase;
    return phase !== undefined && HOLD_PHASES.has(phase);
  }

  #wait(tenant: TenantId, existing: TenantLine | undefined, aggregate: string): Promise<Done> {
    if ((existing?.waiting.length ?? 0) >= this.options.limit) {
      this.options.onOutcome?.('full');
      throw new RetryLaterError(
        `tenant '${tenant}' is moving to another node and ${this.options.limit} requests already wait for it; retry shortly`,
      );
    }
    let line = existing;
    if (line === undefined) {
      line = new TenantLine();
      this.#lines.set(tenant, line);
    }
    const queue = line;
    return new Promise<Done>((resolve, reject) => {
      const waiter: Waiter = {
        aggregate,
        admit: resolve,
        refuse: reject,
        timer: setTimeout(() => {
          const index = queue.waiting.indexOf(waiter);
          if (index === -1) return;
          queue.waiting.splice(index, 1);
          this.#count(-1);
          if (queue.idle) this.#lines.delete(tenant);
          this.options.onOutcome?.('timeout');
          reject(
            new RetryLaterError(
              `tenant '${tenant}' is moving to another node and the move took longer than ${this.options.timeoutMs} ms; retry shortly`,
            ),
          );
        }, this.options.timeoutMs),
      };
      queue.waiting.push(waiter);
      this.#count(+1);
    });
  }

  #release(tenant: TenantId, line: TenantLine): void {
    for (const waiter of line.waiting.splice(0)) {
      clearTimeout(waiter.timer);
      this.#count(-1);
      this.options.onOutcome?.('released');
      void this.#next(tenant, line, waiter.aggregate).then(waiter.admit);
    }
  }

  /** Admits a request after the ones admitted before it for the same aggregate are done. */
  #next(tenant: TenantId, line: TenantLine, aggregate: string): Promise<Done> {
    const before = line.tails.get(aggregate) ?? Promise.resolve();
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    line.tails.set(aggregate, finished);
    line.running++;
    void finished.then(() => {
      line.running--;
      if (line.tails.get(aggregate) === finished) line.tails.delete(aggregate);
      if (line.idle && this.#lines.get(tenant) === line) this.#lines.delete(tenant);
    });
    return before.then(() => finish);
  }

  #count(delta: number): void {
    this.#held += delta;
    this.options.onHeld?.(this.#held);
  }
}
