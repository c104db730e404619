import { UnavailableError } from '@tenantfold/core';

interface Waiter {
  readonly position: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Callers waiting for a tenant's checkpoint to reach a position (read-your-writes). */
export class PositionWaiters {
  readonly #waiting = new Map<string, Set<Waiter>>();

  wait(tenant: string, position: number, timeoutMs: number, current: () => number): Promise<void> {
    if (current() >= position) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const set = this.#waiting.get(tenant) ?? new Set<Waiter>();
      this.#waiting.set(tenant, set);
      const waiter: Waiter = {
        position,
        resolve,
        reject,
        timer: setTimeout(() => {
          set.delete(waiter);
          reject(
            new UnavailableError(
              `the read model of tenant '${tenant}' is at position ${current()}; position ${position} was not reached within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs),
      };
      set.add(waiter);
    });
  }

  /** Releases the tenant's waiters that `position` satisfies. */
  reached(tenant: string, position: number): void {
    const set = this.#waiting.get(tenant);
    if (set === undefined) return;
    for (const waiter of set) {
      if (waiter.position > position) continue;
      clearTimeout(waiter.timer);
      set.delete(waiter);
      waiter.resolve();
    }
    if (set.size === 0) this.#waiting.delete(tenant);
  }

  cancelAll(error: Error): void {
    for (const set of this.#waiting.values()) {
      for (const waiter of set) {
        clearTimeout(waiter.timer);
        waiter.reject(error);
      }
    }
    this.#waiting.clear();
  }
}
