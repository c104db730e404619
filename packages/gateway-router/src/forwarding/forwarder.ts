import type { TenantId } from '@tenantfold/core';
import type { NodeRecord } from '@tenantfold/nats';
import type { Done } from '../holding/cutoverHold.js';
import type { CutoverHold } from '../holding/cutoverHold.js';
import type { PlacementCache } from '../placement/placementCache.js';
import { RetryLaterError } from '../errors.js';
import { NodeAnswerError } from './errors.js';
import type { ForwardedMethod } from './nodeChannels.js';

/** One call to forward to the tenant's owner. */
export interface ForwardRequest<T> {
  readonly tenant: TenantId;
  /** `<type>/<id>`: held requests of one aggregate are released in order (read only when held). */
  readonly aggregate: () => string;
  /** What the call is, for the forwarding-duration metric. */
  readonly method: ForwardedMethod;
  /** One attempt on `node`, answered within `deadlineMs`. */
  readonly send: (node: NodeRecord, deadlineMs: number) => Promise<T>;
}

export interface ForwarderOptions {
  readonly cache: PlacementCache;
  readonly hold: CutoverHold;
  readonly forwardTimeoutMs: number;
  /** Duration of each call to a node, in seconds. */
  readonly onForwarded?: (method: ForwardedMethod, seconds: number) => void;
  readonly onRetry?: () => void;
}

/**
 * The time a node's placement watch may lag the router's: when a node refuses
 * a tenant that the router's fresh placement still gives it, wait this long
 * before the one retry.
 */
const NODE_CATCH_UP_MS = 50;

/** Codes with which a node refuses a tenant it does not (or not yet, or no longer) serve. */
const REFUSALS = new Set(['NOT_OWNER', 'UNAVAILABLE']);

/**
 * Forwards a call to the node that owns its tenant: waits while the tenant is
 * in a migration cutover, and after a node's refusal reads placement afresh
 * and tries once more (then against the new owner, or after holding).
 */
export class Forwarder {
  constructor(private readonly options: ForwarderOptions) {}

  async forward<T>(request: ForwardRequest<T>): Promise<T> {
    const { hold, cache } = this.options;
    let done: Done = await hold.admit(request.tenant, request.aggregate);
    try {
      try {
        return await this.#once(request);
      } catch (error) {
        if (!(error instanceof NodeAnswerError) || !REFUSALS.has(error.code)) throw error;
        this.options.onRetry?.();
        await cache.refresh();
        done();
        done = () => undefined;
        done = await hold.admit(request.tenant, request.aggregate);
        if (cache.ownerOf(request.tenant) === error.nodeId) {
          await new Promise((resolve) => setTimeout(resolve, NODE_CATCH_UP_MS));
        }
        return await this.#once(request);
      }
    } finally {
      done();
    }
  }

  /** The node that owns the tenant now; RetryLaterError when placement gives it none. */
  ownerNode(tenant: TenantId): NodeRecord {
    const placement = this.options.cache.require();
    const owner = this.options.cache.ownerOf(tenant);
    const node = owner === undefined ? undefined : placement.nodes.get(owner);
    if (node === undefined) {
      throw new RetryLaterError(
        `no node serves tenant '${tenant}': placement revision ${placement.revision} has no active node for it`,
      );
    }
    return node;
  }

  async #once<T>(request: ForwardRequest<T>): Promise<T> {
    const node = this.ownerNode(request.tenant);
    const started = performance.now();
    try {
      return await request.send(node, this.options.forwardTimeoutMs);
    } finally {
      this.options.onForwarded?.(request.method, (performance.now() - started) / 1000);
    }
  }
}
