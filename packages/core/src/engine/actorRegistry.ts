import type { StreamKey } from '../domain/index.js';
import { StreamKey as Key } from '../domain/index.js';
import type { AggregateActor } from './actor.js';

export interface ActorRegistryOptions {
  /** An actor idle this long is passivated. */
  readonly idleTimeoutMs: number;
  /** Most live actors; the least recently used idle ones are evicted past it. */
  readonly maxLiveActors: number;
}

/**
 * The live actors, least recently used first. Memory stays bounded by
 * `maxLiveActors` (busy actors are never evicted, so it may be exceeded
 * briefly) and by idle passivation.
 */
export class ActorRegistry {
  private readonly actors = new Map<string, AggregateActor>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: ActorRegistryOptions) {
    const every = Math.max(10, Math.min(options.idleTimeoutMs / 2, 1000));
    this.sweeper = setInterval(() => this.passivateIdle(), every);
    this.sweeper.unref();
  }

  get size(): number {
    return this.actors.size;
  }

  /** The live actor of `key`, created with `create` when there is none. */
  acquire(key: StreamKey, create: () => AggregateActor): AggregateActor {
    const name = Key.toString(key);
    let actor = this.actors.get(name);
    if (actor === undefined) {
      actor = create();
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
        this.actors.delete(name);
        evicted++;
      }
    }
    return evicted;
  }

  all(): IterableIterator<AggregateActor> {
    return this.actors.values();
  }

  close(): void {
    clearInterval(this.sweeper);
    this.actors.clear();
  }

  private evictOverCap(keep: string): void {
    for (const [name, actor] of this.actors) {
      if (this.actors.size <= this.options.maxLiveActors) return;
      if (!actor.busy && name !== keep) this.actors.delete(name);
    }
  }

  private passivateIdle(): void {
    const cutoff = Date.now() - this.options.idleTimeoutMs;
    for (const [name, actor] of this.actors) {
      if (!actor.busy && actor.lastActivity <= cutoff) this.actors.delete(name);
    }
  }
}
