/**
 * Per tenant: the highest log position applied, and the positions announced
 * (appended, state not applied yet). Commits of one tenant may be applied out
 * of order (actors run concurrently); the *visible* position is the highest
 * one with nothing announced still missing below it, which is what a
 * read-your-writes wait must compare with.
 */
export class TenantPositions {
  readonly #applied = new Map<string, number>();
  readonly #announced = new Map<string, Announced>();

  applied(tenant: string): number {
    return this.#applied.get(tenant) ?? 0;
  }

  visible(tenant: string): number {
    const applied = this.applied(tenant);
    const lowest = this.#announced.get(tenant)?.lowest();
    return lowest === undefined ? applied : Math.min(applied, lowest - 1);
  }

  advance(tenant: string, position: number): void {
    this.#applied.set(tenant, Math.max(this.applied(tenant), position));
    this.#withdraw(tenant, position);
  }

  /** Returns the function that withdraws the announcement. */
  announce(tenant: string, position: number): () => void {
    const announced = this.#announced.get(tenant) ?? new Announced();
    this.#announced.set(tenant, announced);
    announced.add(position);
    return () => this.#withdraw(tenant, position);
  }

  #withdraw(tenant: string, position: number): void {
    const announced = this.#announced.get(tenant);
    if (announced?.remove(position) === true && announced.size === 0)
      this.#announced.delete(tenant);
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

/**
 * Positions announced and not yet applied, lowest first in O(1): appends are
 * acknowledged in log order, so positions arrive (almost always) ascending and
 * leave (mostly) from the front; a removed one is skipped lazily.
 */
class Announced {
  readonly #ordered: number[] = [];
  readonly #live = new Set<number>();
  #head = 0;

  get size(): number {
    return this.#live.size;
  }

  add(position: number): void {
    if (this.#live.has(position)) return;
    this.#live.add(position);
    const last = this.#ordered.at(-1);
    if (last === undefined || position > last) this.#ordered.push(position);
    else {
      let at = this.#ordered.length;
      while (at > this.#head && this.#ordered[at - 1]! > position) at--;
      this.#ordered.splice(at, 0, position);
    }
  }

  /** Whether `position` was announced (it is no longer). */
  remove(position: number): boolean {
    if (!this.#live.delete(position)) return false;
    this.#skipGone();
    return true;
  }

  lowest(): number | undefined {
    return this.#live.size === 0 ? undefined : this.#ordered[this.#head];
  }

  #skipGone(): void {
    if (this.#live.size === 0) {
      this.#ordered.length = 0;
      this.#head = 0;
      return;
    }
    while (this.#head < this.#ordered.length && !this.#live.has(this.#ordered[this.#head]!))
      this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#ordered.length) {
      this.#ordered.splice(0, this.#head); // keep the array from growing without end
      this.#head = 0;
    }
  }
}
