import type { StoredCommit, TenantId } from '@tenantfold/core';
import { heapFootprint } from '@tenantfold/core';

/** Most commits held for one tenant; past it the tail is dropped and the log read again. */
const MAX_TAIL = 8_192;
/** Most heap one tenant's tail may hold (a commit may carry 512 KiB of events). */
export const MAX_TAIL_BYTES = 16 * 1024 * 1024;
/** Most heap all tails together may hold: a tail that would pass it is dropped. */
export const MAX_TAILS_BYTES = 128 * 1024 * 1024;

interface Tail {
  /** Commits appended here, ascending by position. */
  readonly commits: StoredCommit[];
  /** Estimated heap of each commit of `commits` (`heapFootprint`), in the same order. */
  readonly sizes: number[];
  bytes: number;
  /** Whether every commit of the tenant after the last log read is in `commits`. */
  trusted: boolean;
}

/**
 * The commits this node appended, per tenant, so projections and process
 * managers read them from memory instead of reading each one back from
 * JetStream (which cost nats-server twice a raw append per command). A node
 * is its tenants' only writer (ownership and fencing), so once one pass read
 * the log to its end after the tail began, the tail holds every later
 * commit: it is then trusted. Anything that breaks that (a tail grown past its
 * bounds in commits or memory, the tenant moving) drops it, and the next pass
 * reads the log again.
 */
export class CommitTails {
  readonly #tails = new Map<TenantId, Tail>();
  /** Estimated heap all tails hold. */
  #bytes = 0;

  /** A commit this node appended (the store's commit observer). */
  appended(commit: StoredCommit): void {
    const tenant = commit.stream.tenant;
    const tail = this.#tails.get(tenant);
    if (tail === undefined) return; // no pass has begun one: the log is read anyway
    const size = heapFootprint(commit);
    if (
      tail.commits.length >= MAX_TAIL ||
      tail.bytes + size > MAX_TAIL_BYTES ||
      this.#bytes + size > MAX_TAILS_BYTES
    ) {
      this.drop(tenant);
      return;
    }
    const { commits, sizes } = tail;
    let at = commits.length;
    while (at > 0 && commits[at - 1]!.position > commit.position) at--;
    if (commits[at - 1]?.position === commit.position) return;
    commits.splice(at, 0, commit);
    sizes.splice(at, 0, size);
    tail.bytes += size;
    this.#bytes += size;
  }

  /** Estimated heap the tails hold. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The tenant's commits after `position`, or undefined when the log must be read. */
  after(tenant: TenantId, position: number): StoredCommit[] | undefined {
    const tail = this.#tails.get(tenant);
    if (tail?.trusted !== true) return undefined;
    return tail.commits.filter((commit) => commit.position > position);
  }

  /** A log read of the tenant starts: collect what is appended from now on. */
  begin(tenant: TenantId): void {
    this.drop(tenant);
    this.#tails.set(tenant, { commits: [], sizes: [], bytes: 0, trusted: false });
  }

  /** The log read that began the tail reached the log's end. */
  trust(tenant: TenantId): void {
    const tail = this.#tails.get(tenant);
    if (tail !== undefined) tail.trusted = true;
  }

  /** Every read model of the tenant is past `position`: forget what it covers. */
  trim(tenant: TenantId, position: number): void {
    const tail = this.#tails.get(tenant);
    if (tail === undefined) return;
    const { commits, sizes } = tail;
    let drop = 0;
    while (drop < commits.length && commits[drop]!.position <= position) drop++;
    if (drop === 0) return;
    commits.splice(0, drop);
    const freed = sizes.splice(0, drop).reduce((sum, size) => sum + size, 0);
    tail.bytes -= freed;
    this.#bytes -= freed;
  }

  drop(tenant: TenantId): void {
    const tail = this.#tails.get(tenant);
    if (tail === undefined) return;
    this.#bytes -= tail.bytes;
    this.#tails.delete(tenant);
  }
}
