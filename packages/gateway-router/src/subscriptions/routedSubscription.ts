import type { ClientReadableStream, Metadata, ServiceError } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { Logger, TenantId } from '@tenantfold/core';
import { parseStateRecord } from '@tenantfold/core';
import type { Filter } from '@tenantfold/query/language';
import type { StateNotification, StateRow } from '@tenantfold/query/live';
import { LiveSet, SubscriberBuffer } from '@tenantfold/query/live';
import type { NodeRecord } from '@tenantfold/nats';
import { ERROR_CODE_KEY, metadataValue } from '@tenantfold/wire';
import { RetryLaterError } from '../errors.js';
import { NodeAnswerError } from '../forwarding/errors.js';

/** `tenantfold.v1.StateChange` as proto-loader decodes it (enums as strings). */
export interface StateChangeMessage {
  readonly kind: 'SNAPSHOT' | 'CAUGHT_UP' | 'ENTERED' | 'UPDATED' | 'LEFT' | 'KIND_UNSPECIFIED';
  readonly aggregate_id: string;
  readonly version: number;
  readonly state_json: string;
  readonly updated_at: string;
  readonly position: number;
}

/** What the router sends its client: kinds decided by the router's own view of the set. */
export type RoutedChange = Omit<StateChangeMessage, 'kind'> & {
  readonly kind: 'SNAPSHOT' | 'CAUGHT_UP' | 'ENTERED' | 'UPDATED' | 'LEFT';
};

/** Where the upstream streams come from (the router's forwarding parts). */
export interface Upstreams {
  /** The tenant's owner now; RetryLaterError when no node serves it. */
  ownerOf(tenant: TenantId): NodeRecord;
  /** Reads placement afresh (after a refusal). */
  refresh(): Promise<unknown>;
  open(
    node: NodeRecord,
    request: unknown,
    metadata: Metadata,
  ): Promise<ClientReadableStream<unknown>>;
  /**
   * Subscribes to the tenant's state notifications (core NATS) for as long
   * as the subscription lives; returns the unsubscribe. A no-op while the
   * router has no NATS connection.
   */
  watch(
    tenant: TenantId,
    type: string,
    deliver: (notification: StateNotification) => void,
  ): () => void;
}

export interface RoutedSubscriptionOptions {
  readonly tenant: TenantId;
  readonly type: string;
  /** Filter text as the client sent it (forwarded) and parsed (for the router's own view). */
  readonly filterText: string;
  readonly filter: Filter;
  readonly consistencyToken?: number | undefined;
  /** The client's resume versions: it holds these aggregates at these versions. */
  readonly resume?: ReadonlyMap<string, number>;
  readonly metadata: Metadata;
  readonly upstreams: Upstreams;
  /** Changes waiting for a slow client before it is cut. */
  readonly bufferCapacity: number;
  /** How long to keep re-opening a lost upstream before giving up. */
  readonly reopenWindowMs: number;
  readonly logger: Logger;
  /** Called once when the subscription ends, however it ends. */
  readonly onClose?: () => void;
  /** Called when the stream moves to a node again: the owner changed, or the stream was lost. */
  readonly onMove?: (reason: MoveReason) => void;
}

export type MoveReason = 'owner_changed' | 'lost';

/** Node refusals after which the stream is re-opened on the (new) owner. */
const REOPEN_CODES = new Set(['NOT_OWNER', 'UNAVAILABLE']);
const LOST_STATUSES = new Set<number>([status.UNAVAILABLE, status.CANCELLED, status.INTERNAL]);
const KINDS = { entered: 'ENTERED', updated: 'UPDATED', left: 'LEFT' } as const;
const REFRESH_MS = 500;
const REOPEN_BACKOFF_MS = [50, 100, 200, 400, 800];

interface Upstream {
  readonly node: string;
  readonly stream: ClientReadableStream<unknown>;
}

/**
 * A QueryService.Subscribe held through the router. It forwards the owner's
 * stream and keeps it alive across owner changes: when placement gives the
 * tenant to another node, it opens the new owner's stream with `resume` (the
 * router's view of the set) while the old one still runs, and drops the old
 * one once the new one is caught up; a stream lost with UNAVAILABLE or
 * NOT_OWNER is re-opened the same way. A re-opened stream carries the highest
 * log position received as its consistency token, so a node that has just
 * taken the tenant over reads the set only once its read model has caught up
 * to what the client has already seen. The router also listens to the
 * tenant's state notifications on core NATS itself, so commits made while no
 * stream is open (the owner died, the new one is not reached yet) still reach
 * the client. A LiveSet over everything received decides the kinds and drops
 * repeats: the client sees each aggregate's versions once, in order,
 * whichever source sent them.
 */
export class RoutedSubscription {
  /** What the client reads; cut with SlowSubscriberError when it falls behind. */
  readonly changes: SubscriberBuffer<RoutedChange>;
  /** Settles when the subscription has ended, however it ended. */
  readonly ended: Promise<void>;
  #markEnded: () => void = () => undefined;
  readonly #live: LiveSet;
  readonly #o: RoutedSubscriptionOptions;
  #current: Upstream | undefined;
  #previous: Upstream | undefined;
  /** True once the client had its CAUGHT_UP: rows entering after it are ENTERED, not SNAPSHOT. */
  #caughtUp = false;
  #closed = false;
  #reopening = false;
  /** Highest log position received: a re-opened stream waits until its node has read that far. */
  #seen = 0;
  #unwatch: () => void = () => undefined;
  #firstMessage: { resolve: () => void; reject: (error: unknown) => void } | undefined;

  constructor(options: RoutedSubscriptionOptions) {
    this.#o = options;
    this.changes = new SubscriberBuffer(options.bufferCapacity);
    this.ended = new Promise((resolve) => {
      this.#markEnded = resolve;
    });
    this.#live = new LiveSet(options.filter, 0);
    const resume = options.resume ?? new Map<string, number>();
    this.#live.seed([...resume].map(([id, version]) => seedRow(id, version)));
  }

  /** Opens the first upstream; resolves at its first message, rejects with its refusal. */
  async start(): Promise<void> {
    const { upstreams, tenant, type } = this.#o;
    this.#unwatch = upstreams.watch(tenant, type, (n) => this.#notified(n));
    const first = new Promise<void>((resolve, reject) => {
      this.#firstMessage = { resolve, reject };
    });
    try {
      await this.#open(this.#o.resume);
    } catch (error) {
      this.close();
      throw error;
    }
    return first;
  }

  /** The node the subscription reads from now (undefined while it re-opens). */
  get node(): string | undefined {
    return this.#current?.node;
  }

  /** The tenant's owner may have changed: move to it without a gap (no-op when it did not). */
  ownerChanged(): void {
    if (this.#closed || this.#reopening || this.#current === undefined) return;
    let owner: string;
    try {
      owner = this.#o.upstreams.ownerOf(this.#o.tenant).id;
    } catch {
      return; // no owner now (a cutover): the next placement change or a refusal moves us
    }
    if (owner !== this.#current.node) void this.#reopen('owner_changed', 'owner changed');
  }

  /** Ends the subscription (client gone): cancels the upstreams. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch();
    this.#current?.stream.cancel();
    this.#previous?.stream.cancel();
    this.changes.close();
    this.#firstMessage?.resolve();
    this.#firstMessage = undefined;
    this.#o.onClose?.();
    this.#markEnded();
  }

  /** The aggregates the client holds now, with their versions: the `resume` of a re-open. */
  #resume(): Map<string, number> {
    const versions = this.#live.versions();
    return new Map([...this.#live.members()].map((id) => [id, versions.get(id) ?? 0]));
  }

  async #open(resume: ReadonlyMap<string, number> | undefined): Promise<void> {
    const { upstreams, tenant, type, filterText, metadata } = this.#o;
    const token = Math.max(this.#seen, this.#o.consistencyToken ?? 0);
    const node = upstreams.ownerOf(tenant);
    const request = {
      tenant_id: tenant,
      aggregate_type: type,
      filter: filterText,
      ...(token === 0 ? {} : { consistency_token: token }),
      resume: Object.fromEntries(resume ?? []),
    };
    const stream = await upstreams.open(node, request, metadata);
    if (this.#closed) {
      stream.cancel();
      return;
    }
    const upstream: Upstream = { node: node.id, stream };
    if (this.#current !== undefined) {
      this.#previous?.stream.cancel();
      this.#previous = this.#current;
    }
    this.#current = upstream;
    stream.on('data', (message: StateChangeMessage) => this.#receive(upstream, message));
    stream.on('error', (error: ServiceError) => this.#lost(upstream, error));
    stream.on('end', () => this.#lost(upstream, undefined));
  }

  #receive(upstream: Upstream, message: StateChangeMessage): void {
    if (this.#closed) return;
    this.#firstMessage?.resolve();
    this.#firstMessage = undefined;
    this.#seen = Math.max(this.#seen, message.position);
    if (message.kind === 'CAUGHT_UP') {
      if (upstream === this.#current && this.#previous !== undefined) {
        this.#previous.stream.cancel();
        this.#previous = undefined;
      }
      if (!this.#caughtUp) {
        this.#caughtUp = true;
        this.#push({ ...message, kind: 'CAUGHT_UP' });
      }
      return;
    }
    this.#offer(
      parseStateRecord(message.aggregate_id, message, message.state_json),
      message.state_json,
    );
  }

  /** A notification the router received itself, on the tenant's state subject. */
  #notified(notification: StateNotification): void {
    if (this.#closed) return;
    this.#seen = Math.max(this.#seen, notification.position);
    this.#offer(notification, JSON.stringify(notification.state));
  }

  /** One aggregate's row, from any source: classified by the router's view, repeats dropped. */
  #offer(row: StateRow, stateJson: string): void {
    const kind = this.#live.next(row);
    if (kind === 'none') return;
    // A new subscription's members stay SNAPSHOT until its CAUGHT_UP, whoever sent them.
    const initial = kind === 'entered' && !this.#caughtUp && (this.#o.resume?.size ?? 0) === 0;
    this.#push({
      kind: initial ? 'SNAPSHOT' : KINDS[kind],
      aggregate_id: row.id,
      version: row.version,
      state_json: stateJson,
      updated_at: row.updated_at,
      position: row.position,
    });
  }

  #push(change: RoutedChange): void {
    if (!this.changes.push(change)) this.close();
  }

  #lost(upstream: Upstream, error: ServiceError | undefined): void {
    if (this.#closed) return;
    if (upstream === this.#previous) {
      this.#previous = undefined; // superseded: the current one carries on
      return;
    }
    if (upstream !== this.#current) return;
    // Before its first message a node's own refusal (a cap, a read model behind the token)
    // goes to the client at once; only "not mine" is worth trying elsewhere.
    const starting = this.#firstMessage !== undefined;
    if (error !== undefined && !reopenable(error, starting)) {
      const failure = new NodeAnswerError(upstream.node, error.code, error.details, error.metadata);
      return this.#fail(failure);
    }
    this.#current = undefined;
    void this.#reopen('lost', error?.details ?? 'the node ended the stream');
  }

  /** Opens the stream on the tenant's owner again, with backoff, within `reopenWindowMs`. */
  async #reopen(why: MoveReason, reason: string): Promise<void> {
    if (this.#reopening) return;
    this.#reopening = true;
    this.#o.onMove?.(why);
    const deadline = Date.now() + this.#o.reopenWindowMs;
    this.#o.logger.info(
      { tenant_id: this.#o.tenant, type: this.#o.type, reason },
      'subscription moving',
    );
    try {
      for (let attempt = 0; !this.#closed; attempt++) {
        try {
          await this.#freshPlacement();
          await this.#open(this.#resume());
          return;
        } catch (error) {
          if (error instanceof NodeAnswerError && !REOPEN_CODES.has(error.code))
            return this.#fail(error);
          const wait = REOPEN_BACKOFF_MS[Math.min(attempt, REOPEN_BACKOFF_MS.length - 1)]!;
          if (Date.now() + wait > deadline) {
            return this.#fail(
              new RetryLaterError(
                `subscription lost its node and could not re-open within ${this.#o.reopenWindowMs} ms (${reason}); resubscribe with the last versions seen`,
                1,
                { cause: error },
              ),
            );
          }
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
    } finally {
      this.#reopening = false;
    }
  }

  /**
   * Reads placement afresh, but waits at most REFRESH_MS and ignores a failed
   * read: the placement watch keeps the cache current anyway, and a KV read
   * can stall while the cluster is changing (a node going down).
   */
  async #freshPlacement(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#o.upstreams.refresh().catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, REFRESH_MS))),
    ]);
    clearTimeout(timer);
  }

  #fail(error: Error): void {
    if (this.#firstMessage !== undefined) {
      this.#firstMessage.reject(error);
      this.#firstMessage = undefined;
    }
    this.changes.fail(error);
    this.close();
  }
}

/**
 * Whether a stream error means "try the (new) owner" rather than "tell the
 * client": a lost connection, NOT_OWNER, and once running also UNAVAILABLE
 * (a slow-subscriber cut or a node going away: resume elsewhere).
 */
function reopenable(error: ServiceError, starting: boolean): boolean {
  const code = metadataValue(error.metadata, ERROR_CODE_KEY);
  if (code !== undefined) return starting ? code === 'NOT_OWNER' : REOPEN_CODES.has(code);
  // No answer of the node's own: the connection or the node went away mid-stream.
  return LOST_STATUSES.has(error.code);
}

/** A row standing for an aggregate the client already holds (only id and version count). */
function seedRow(id: string, version: number): StateRow {
  return { id, version, updated_at: '', position: 0, state: null };
}
