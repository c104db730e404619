import type { Logger, TenantId } from '@tenantfold/core';
import { UnavailableError } from '@tenantfold/core';
import type { Placement, PlacementStore, PlacementWatch } from '@tenantfold/nats';
import { resolveOwner } from '@tenantfold/nats';
import { ringShare, ringSignature } from './ringShare.js';

/** Where the placement in use came from. */
export type PlacementSource = 'kv' | 'file';

/** Pause before watching again after a watch ended (connection lost, bucket trouble). */
const REWATCH_DELAY_MS = 500;

/** Most owners remembered; past it the memo starts afresh (memory stays bounded). */
const OWNER_MEMO_SIZE = 100_000;

/**
 * The router's view of `TENANT_PLACEMENT`: the latest snapshot, kept by a KV
 * watch that restarts after failures, or a file's placement until KV is
 * reached. Listeners hear every adopted snapshot; each change is logged with
 * the ring's share per node when the ring itself changed.
 */
export class PlacementCache {
  #current: Placement | undefined;
  #source: PlacementSource | undefined;
  #store: PlacementStore | undefined;
  #watch: PlacementWatch | undefined;
  #refreshing: Promise<Placement> | undefined;
  #stopped = false;
  #ring = '';
  /**
   * `resolveOwner` results for the placement in use. A ring lookup hashes the
   * tenant (~3 µs); heartbeats change placement every second or so without
   * changing any owner, so the memo survives them and is dropped on real changes.
   */
  #owners = new Map<TenantId, string | undefined>();
  readonly #listeners: Array<(placement: Placement) => void> = [];

  constructor(private readonly logger: Logger) {}

  get current(): Placement | undefined {
    return this.#current;
  }

  get source(): PlacementSource | undefined {
    return this.#source;
  }

  /** The placement in use; UNAVAILABLE before any was loaded. */
  require(): Placement {
    if (this.#current === undefined) throw new UnavailableError('placement not loaded yet');
    return this.#current;
  }

  /** The tenant's owner under the placement in use (undefined: no node can take it). */
  ownerOf(tenant: TenantId): string | undefined {
    const placement = this.require();
    if (this.#owners.has(tenant)) return this.#owners.get(tenant);
    const owner = resolveOwner(placement, tenant);
    if (this.#owners.size >= OWNER_MEMO_SIZE) this.#owners = new Map();
    this.#owners.set(tenant, owner);
    return owner;
  }

  onChange(listener: (placement: Placement) => void): void {
    this.#listeners.push(listener);
  }

  /** Uses a placement read from the local file (only until KV is reached). */
  adoptFile(placement: Placement, path: string): void {
    if (this.#source === 'kv') return;
    this.logger.warn({ file: path }, 'placement KV unreachable: serving from the placement file');
    this.#adopt(placement, 'file');
  }

  /** Loads the bucket once, then follows it with a watch until `stop()`. */
  async follow(store: PlacementStore): Promise<void> {
    this.#store = store;
    this.#adopt(await store.load(), 'kv');
    void this.#watchLoop(store);
  }

  /**
   * Reads the bucket now instead of waiting for the watch (after a node said
   * "not the owner"). Concurrent callers share one read.
   */
  async refresh(): Promise<Placement> {
    const store = this.#store;
    if (store === undefined) return this.require();
    this.#refreshing ??= store
      .load()
      .then((placement) => {
        this.#adopt(placement, 'kv');
        return this.require();
      })
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  stop(): void {
    this.#stopped = true;
    this.#watch?.stop();
  }

  async #watchLoop(store: PlacementStore): Promise<void> {
    while (!this.#stopped) {
      try {
        const watch = await store.watch();
        this.#watch = watch;
        if (this.#stopped) watch.stop();
        for await (const placement of watch) this.#adopt(placement, 'kv');
      } catch (error) {
        this.logger.warn(
          { err: error },
          'placement watch failed; serving the last known placement',
        );
      }
      if (this.#stopped) return;
      await new Promise((resolve) => setTimeout(resolve, REWATCH_DELAY_MS));
    }
  }

  #adopt(placement: Placement, source: PlacementSource): void {
    const previous = this.#current;
    // A watch and a refresh may deliver out of order: never go back.
    if (
      previous !== undefined &&
      this.#source === source &&
      placement.revision <= previous.revision
    ) {
      return;
    }
    this.#current = placement;
    const sourceChanged = this.#source !== source;
    this.#source = source;
    if (sourceChanged || previous === undefined || !onlyHeartbeats(previous, placement)) {
      this.#owners = new Map();
      this.#log(placement, source);
    }
    for (const listener of this.#listeners) listener(placement);
  }

  #log(placement: Placement, source: PlacementSource): void {
    const signature = ringSignature(placement);
    const ringChanged = signature !== this.#ring;
    this.#ring = signature;
    const migrations = Object.fromEntries(
      [...placement.migrations].map(([tenant, m]) => [tenant, `${m.phase} ${m.from}->${m.to}`]),
    );
    this.logger.info(
      {
        source,
        revision: placement.revision,
        nodes: Object.fromEntries([...placement.nodes.values()].map((n) => [n.id, n.status])),
        pins: placement.pins.size,
        migrations,
        issues: placement.issues.length,
        ...(ringChanged ? { ring_share_percent: ringShare(placement) } : {}),
      },
      ringChanged ? 'placement changed; new ring distribution' : 'placement changed',
    );
  }
}

/** Whether `next` differs from `previous` by node heartbeats only: no owner changes, nothing to log. */
function onlyHeartbeats(previous: Placement, next: Placement): boolean {
  const sameEntries = <K, V>(a: ReadonlyMap<K, V>, b: ReadonlyMap<K, V>) =>
    a.size === b.size && [...a].every(([key, value]) => b.get(key) === value);
  if (previous.ring !== next.ring || previous.issues.length !== next.issues.length) return false;
  if (!sameEntries(previous.pins, next.pins)) return false;
  if (!sameEntries(previous.migrations, next.migrations)) return false;
  if (previous.nodes.size !== next.nodes.size) return false;
  for (const [id, node] of next.nodes) {
    const before = previous.nodes.get(id);
    if (
      before === undefined ||
      before.status !== node.status ||
      before.grpcAddress !== node.grpcAddress ||
      before.weight !== node.weight
    ) {
      return false;
    }
  }
  return true;
}
