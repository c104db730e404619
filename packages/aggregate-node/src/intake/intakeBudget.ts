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

  constructor(private readonly bytesPerTenant: number) {}

  /** Reserves `bytes` for `tenant` and returns the release; UNAVAILABLE (retryable) when full. */
  take(tenant: string, bytes: number): () => void {
    const held = this.#inFlight.get(tenant) ?? 0;
    if (held > 0 && held + bytes > this.bytesPerTenant) {
      throw new UnavailableError(
        `tenant '${tenant}' has ${held} bytes of commands in flight on this node, the most it may have is ${this.bytesPerTenant}: retry shortly`,
      );
    }
    this.#inFlight.set(tenant, held + bytes);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#inFlight.get(tenant) ?? bytes) - bytes;
      if (left <= 0) this.#inFlight.delete(tenant);
      else this.#inFlight.set(tenant, left);
    };
  }
}
