import { UnavailableError } from '@tenantfold/core';

/**
 * Bytes of command bodies each tenant may have in flight at this node, taken
 * before a body is decoded: checking 1 MiB of JSON costs ~0.1 s of the node's
 * one thread, and one tenant's burst of large bodies must not queue up work
 * that every other tenant waits behind. A command always fits alone,
 * whatever its size (the data limits bound it).
 */
export class IntakeBudget {
  readonly #inFlight = new Map<string, number>();
  #total = 0;

  /**
   * @param bytesPerTenant one tenant's bound
   * @param bytesInAll the node's: tenant ids are the callers' word, so one
   *   caller spreading its bodies over many ids meets this one
   */
  constructor(
    private readonly bytesPerTenant: number,
    private readonly bytesInAll: number = 8 * bytesPerTenant,
  ) {}

  /** Reserves `bytes` for `tenant` and returns the release; UNAVAILABLE (retryable) when full. */
  take(tenant: string, bytes: number): () => void {
    const held = this.#inFlight.get(tenant) ?? 0;
    if (held > 0 && held + bytes > this.bytesPerTenant) {
      throw new UnavailableError(
        `tenant '${tenant}' has ${held} bytes of commands in flight on this node, the most it may have is ${this.bytesPerTenant}: retry shortly`,
      );
    }
    if (this.#total > 0 && this.#total + bytes > this.bytesInAll) {
      throw new UnavailableError(
        `this node has ${this.#total} bytes of commands in flight, the most it takes is ${this.bytesInAll}: retry shortly`,
      );
    }
    this.#inFlight.set(tenant, held + bytes);
    this.#total += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total -= bytes;
      const left = (this.#inFlight.get(tenant) ?? bytes) - bytes;
      if (left <= 0) this.#inFlight.delete(tenant);
      else this.#inFlight.set(tenant, left);
    };
  }
}
