import type { StoredCommit, TenantId } from '@tenantfold/core';

/** Most commits held for one tenant; past it the tail is dropped and the log read again. */
const MAX_TAIL = 8_192;

interface Tail {
  /** Commits appended here, ascending by position. */
  readonly commits: StoredCommit[];
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
 * bound, the tenant moving) drops it, and the next pass reads the log again.
 */
export class CommitTails {
  readonly #tails = new Map<TenantId, Tail>();

  /** A commit this node appended (the store's commit observer). */
  appended(commit: StoredCommit): void {
    const tenant = commit.stream.tenant;
    const tail = this.#tails.get(tenant);
    if (tail === undefined) return; // no pass has begun one: the log is read anyway
    if (tail.commits.length >= MAX_TAIL) {
      this.#tails.delete(tenant);
      return;
    }
    const { commits } = tail;
    let at = commits.length;
    while (at > 0 && commits[at - 1]!.position > commit.position) at--;
    if (commits[at - 1]?.position !== commit.position) commits.splice(at, 0, commit);
  }

  /** The tenant's commits after `position`, or undefined when the log must be read. */
  after(tenant: TenantId, position: number): StoredCommit[] | undefined {
    const tail = this.#tails.get(tenant);
    if (tail?.trusted !== true) return undefined;
    return tail.commits.filter((commit) => commit.position > position);
  }

  /** A log read of the tenant starts: collect what is appended from now on. */
  begin(tenant: TenantId): void {
    this.#tails.set(tenant, { commits: [], trusted: false });
  }

  /** The log read that began the tail reached the log's end. */
  trust(tenant: TenantId): void {
    const tail = this.#tails.get(tenant);
    if (tail !== undefined) tail.trusted = true;
  }

  /** Every read model of the tenant is past `position`: forget what it covers. */
  trim(tenant: TenantId, position: number): void {
    const commits = this.#tails.get(tenant)?.commits;
    if (commits === undefined) return;
    let drop = 0;
    while (drop < commits.length && commits[drop]!.position <= position) drop++;
    if (drop > 0) commits.splice(0, drop);
  }

  drop(tenant: TenantId): void {
    this.#tails.delete(tenant);
  }
}
