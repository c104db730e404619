import type { Logger, TenantId } from '@tenantfold/core';

/**
 * After a local commit, a tenant's pass waits this long so the commits of a
 * busy tenant share one read (reads on demand, such as a projection query, do
 * not wait).
 */
const NOTIFY_DELAY_MS = 50;

/** The pass running for a tenant, and the one queued behind it (which serves every later request). */
interface PassSlot {
  current: Promise<void>;
  next?: Promise<void>;
}

/**
 * When the reactors' catch-up passes run: one pass per tenant at a time
 * (requests made during a pass share the single pass queued behind it), a
 * sweep on a timer, and a short wait after a local commit.
 */
export class TenantPasses {
  readonly #slots = new Map<TenantId, PassSlot>();
  readonly #pending = new Set<TenantId>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly pass: (tenant: TenantId) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** Runs a pass of `tenant` after the one running, if any; a failed pass is logged here. */
  request(tenant: TenantId): Promise<void> {
    const slot = this.#slots.get(tenant);
    if (slot?.next !== undefined) return slot.next;
    const run = (slot?.current ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.pass(tenant));
    const entry: PassSlot = slot ?? { current: run };
    if (slot !== undefined) entry.next = run;
    else this.#slots.set(tenant, entry);
    void run
      .catch((error: unknown) => {
        this.logger.warn({ tenant_id: tenant, err: error }, 'read models pass failed');
      })
      .then(() => {
        if (entry.current !== run) return; // only the running pass hands over
        if (entry.next === undefined) this.#slots.delete(tenant);
        else {
          entry.current = entry.next;
          delete entry.next;
        }
      });
    return run;
  }

  /** Whether a pass of `tenant` runs or waits now. */
  running(tenant: TenantId): boolean {
    return this.#slots.has(tenant);
  }

  /** Once the passes of `tenant` in flight are over (failed or not). */
  async settled(tenant: TenantId): Promise<void> {
    const slot = this.#slots.get(tenant);
    await (slot?.next ?? slot?.current)?.catch(() => undefined);
  }

  /** Once every pass in flight is over. */
  async allSettled(): Promise<void> {
    await Promise.all([...this.#slots.keys()].map((tenant) => this.settled(tenant)));
  }

  /** Calls `sweep` now and every `sweepMs`. */
  sweepEvery(sweepMs: number, sweep: () => void): void {
    this.#sweeper = setInterval(sweep, sweepMs);
    this.#sweeper.unref();
    sweep();
  }

  /** Calls `catchUp` for `tenant` after a short wait, once for every call made meanwhile. */
  soon(tenant: TenantId, catchUp: () => Promise<void>): void {
    if (this.#pending.has(tenant)) return;
    this.#pending.add(tenant);
    setTimeout(() => {
      this.#pending.delete(tenant);
      catchUp().catch(() => undefined); // logged inside
    }, NOTIFY_DELAY_MS).unref();
  }

  stopSweep(): void {
    clearInterval(this.#sweeper);
  }
}
