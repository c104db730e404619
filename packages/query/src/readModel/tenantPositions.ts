/**
 * Per tenant: the highest log position applied, and the positions announced
 * (appended, state not applied yet). Commits of one tenant may be applied out
 * of order (actors run concurrently); the *visible* position is the highest
 * one with nothing announced still missing below it, which is what a
 * read-your-writes wait must compare with.
 */
export class TenantPositions {
  readonly #applied = new Map<string, number>();
  readonly #announced = new Map<string, Set<number>>();

  applied(tenant: string): number {
    return this.#applied.get(tenant) ?? 0;
  }

  visible(tenant: string): number {
    const applied = this.applied(tenant);
    const announced = this.#announced.get(tenant);
    if (announced === undefined) return applied;
    return Math.min(applied, Math.min(...announced) - 1);
  }

  advance(tenant: string, position: number): void {
    this.#applied.set(tenant, Math.max(this.applied(tenant), position));
    this.#withdraw(tenant, position);
  }

  /** Returns the function that withdraws the announcement. */
  announce(tenant: string, position: number): () => void {
    const set = this.#announced.get(tenant) ?? new Set<number>();
    this.#announced.set(tenant, set);
    set.add(position);
    return () => this.#withdraw(tenant, position);
  }

  #withdraw(tenant: string, position: number): void {
    const set = this.#announced.get(tenant);
    if (set?.delete(position) && set.size === 0) this.#announced.delete(tenant);
  }

  tenants(): IterableIterator<string> {
    return this.#applied.keys();
  }

  forget(tenant?: string): void {
    if (tenant === undefined) {
      this.#applied.clear();
      this.#announced.clear();
    } else {
      this.#applied.delete(tenant);
      this.#announced.delete(tenant);
    }
  }
}
