import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@tenantfold/core';
import type { NatsSettings } from '@tenantfold/nats';
import { connectNats, PlacementStore } from '@tenantfold/nats';
import type { PlacementCache } from './placementCache.js';

export interface KvLinkOptions {
  /** Where NATS is and whom to log in as. */
  readonly nats: NatsSettings;
  readonly bucket: string;
  /** Per attempt: connecting, and each KV request. */
  readonly timeoutMs: number;
  readonly cache: PlacementCache;
  readonly logger: Logger;
  readonly onConnection?: (connected: boolean) => void;
}

/** Pause between attempts to reach KV after it was unreachable at start. */
const RETRY_MS = 1_000;

/**
 * The router's link to the placement bucket: connects to NATS, loads
 * placement and hands the store to the cache to follow. When KV cannot be
 * reached at start, `start()` says so and keeps trying in the background;
 * once connected, nats.js reconnects by itself and the cache's watch resumes.
 */
export class KvLink {
  #nc: NatsConnection | undefined;
  #connected = false;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(private readonly options: KvLinkOptions) {}

  /** The NATS connection while there is one (state notifications ride on it too). */
  get connection(): NatsConnection | undefined {
    return this.#nc;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** One attempt now; false (and retries in the background) when KV is unreachable. */
  async start(): Promise<boolean> {
    try {
      await this.#attempt();
      return true;
    } catch (error) {
      this.options.logger.warn(
        { err: error, servers: this.options.nats.natsServers },
        'placement KV unreachable; retrying in the background',
      );
      this.#scheduleRetry();
      return false;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    const nc = this.#nc;
    this.#nc = undefined;
    if (nc !== undefined && !nc.isClosed()) await nc.close();
  }

  #scheduleRetry(): void {
    if (this.#stopped) return;
    this.#retry = setTimeout(() => {
      this.#attempt().then(
        () => this.options.logger.info({}, 'placement KV reached; following it from now on'),
        () => this.#scheduleRetry(),
      );
    }, RETRY_MS);
  }

  async #attempt(): Promise<void> {
    const { nats, timeoutMs } = this.options;
    // Once connected, never give up: the router serves the last placement meanwhile.
    const nc = await connectNats(nats, {
      name: 'tenantfold-router',
      timeoutMs,
      reconnectForever: true,
    });
    try {
      const store = await PlacementStore.open(nc, {
        bucket: this.options.bucket,
        requestTimeoutMs: timeoutMs,
      });
      if (this.#stopped) throw new Error('stopped');
      this.#nc = nc;
      this.#setConnected(true);
      void this.#watchStatus(nc);
      await this.options.cache.follow(store);
    } catch (error) {
      this.#nc = undefined;
      this.#setConnected(false);
      await nc.close().catch(() => undefined);
      throw error;
    }
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') this.#setConnected(false);
      if (status.type === 'reconnect') this.#setConnected(true);
    }
    this.#setConnected(false);
  }

  #setConnected(connected: boolean): void {
    if (connected === this.#connected) return;
    this.#connected = connected;
    this.options.onConnection?.(connected);
    if (!this.#stopped && !connected) {
      this.options.logger.warn({}, 'NATS connection lost: serving the last known placement');
    } else if (connected) {
      this.options.logger.info({}, 'NATS connected');
    }
  }
}
