import type { StreamKey } from '../domain/index.js';
import { StreamKey as Key } from '../domain/index.js';
import type { AggregateActor } from './actor.js';

export interface ActorRegistryOptions {
  /** An actor idle this long is passivated. */
  readonly idleTimeoutMs: number;
  /** Most live actors; the least recently used idle ones are evicted past it. */
  readonly maxLiveActors: number;
  /** Most heap the live actors' states may hold, estimated (see `heapFootprint`). */
  readonly maxLiveBytes: number;
}

/** Reports a change in the heap an actor's state holds, in bytes. */
export type Resized = (delta: number) => void;

/**
 * The live actors, least recently used first. Memory stays bounded by
 * `maxLiveActors` and `maxLiveBytes` (busy actors are never evicted, so they
 * may be exceeded briefly) and by idle passivation. A count alone is no
 * bound: one tenant's states can each hold ~22 MiB of heap within the 1 MiB
 * state limit.
 */
export class ActorRegistry {
  private readonly actors = new Map<string, AggregateActor>();
  private readonly sweeper: NodeJS.Timeout;
  /** Sum of the live actors' footprints. */
  private liveBytes = 0;

  constructor(private readonly options: ActorRegistryOptions) {
    const every = Math.max(10, Math.min(options.idleTimeoutMs / 2, 1000));
    this.sweeper = setInterval(() => this.passivateIdle(), every);
    this.sweeper.unref();
  }

  get size(): number {
    return this.actors.size;
  }

  /** Estimated heap the live actors' states hold. */
  get bytes(): number {
    return this.liveBytes;
  }

  /**
   * The live actor of `key`, created with `create` when there is none; the
   * actor reports its state's changes in size to the `Resized` it is given.
   */
  acquire(key: StreamKey, create: (resized: Resized) => AggregateActor): AggregateActor {
    const name = Key.toString(key);
    let actor = this.actors.get(name);
    if (actor === undefined) {
      const created: AggregateActor = create((delta) => this.resized(name, created, delta));
      actor = created;
      this.liveBytes += actor.footprint;
    } else {
      this.actors.delete(name); // re-insert: most recently used last
    }
    this.actors.set(name, actor);
    this.evictOverCap(name);
    return actor;
  }

  isAlive(key: StreamKey): boolean {
    return this.actors.has(Key.toString(key));
  }

  /**
   * Drops the idle live actors `matches` selects (their state reloads from
   * storage on next use) and returns how many it dropped. Busy ones stay: a
   * second actor of the same key would be a second writer.
   */
  evict(matches: (key: StreamKey) => boolean): number {
    let evicted = 0;
    for (const [name, actor] of this.actors) {
      if (!actor.busy && matches(actor.key)) {
        this.drop(name, actor);
        evicted++;
      }
    }
    return evicted;
  }

  /** Drops the live actor of `key` when it is idle; whether one was dropped. */
  evictKey(key: StreamKey): boolean {
    const name = Key.toString(key);
    const actor = this.actors.get(name);
    if (actor === undefined || actor.busy) return false;
    this.drop(name, actor);
    return true;
  }

  all(): IterableIterator<AggregateActor> {
    return this.actors.values();
  }

  close(): void {
    clearInterval(this.sweeper);
    this.actors.clear();
    this.liveBytes = 0;
  }

  private resized(name: string, actor: AggregateActor, delta: number): void {
    if (this.actors.get(name) !== actor) return; // evicted: no longer counted
    this.liveBytes += delta;
    this.evictOverCap(name);
  }

  private withinCaps(): boolean {
    return (
      this.actors.size <= this.options.maxLiveActors && this.liveBytes <= this.options.maxLiveBytes
    );
  }

  /** Least recently used first, sparing `keep` (the actor being acquired or grown). */
  private evictOverCap(keep: string): void {
    if (this.withinCaps()) return;
    for (const [name, actor] of this.actors) {
      if (!actor.busy && name !== keep) this.drop(name, actor);
      if (this.withinCaps()) return;
    }
  }

  private drop(name: string, actor: AggregateActor): void {
    this.actors.delete(name);
    this.liveBytes -= actor.footprint;
  }

  private passivateIdle(): void {
    const cutoff = Date.now() - this.options.idleTimeoutMs;
    for (const [name, actor] of this.actors) {
      if (!actor.busy && actor.lastActivity <= cutoff) this.drop(name, actor);
    }
    // An actor that outgrew the budget alone is dropped once it is idle.
    this.evictOverCap('');
  }
}
