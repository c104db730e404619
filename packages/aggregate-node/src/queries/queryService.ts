import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { TenantId } from '@tenantfold/core';
import { UnavailableError, ValidationError } from '@tenantfold/core';
import type { ReadModel } from '@tenantfold/query';
import { initialPages } from '@tenantfold/query';
import { parseFilter } from '@tenantfold/query/language';
import type { StateNotification, StateRow, SubscriptionLimits } from '@tenantfold/query/live';
import {
  decodeNotification,
  LiveSet,
  SlowSubscriberError,
  stateSubject,
  SubscriberBuffer,
} from '@tenantfold/query/live';
import type { CallContext } from '@tenantfold/wire';
import { callContextOf, tenantOfCall, toServiceError } from '@tenantfold/wire';
import { unary } from '../grpc/unary.js';
import type { CommandHandler } from '../intake/commandHandler.js';

/** `QueryRequest` / `SubscribeRequest` as proto-loader decodes them. */
interface QueryRequest {
  tenant_id: string;
  aggregate_type: string;
  filter: string;
  sort: string;
  limit: number;
  cursor: string;
  consistency_token?: number;
}
interface SubscribeRequest {
  tenant_id: string;
  aggregate_type: string;
  filter: string;
  consistency_token?: number;
  resume: Record<string, number>;
}
type Kind = 'SNAPSHOT' | 'CAUGHT_UP' | 'ENTERED' | 'UPDATED' | 'LEFT';
interface StateChangeMessage {
  kind: Kind;
  aggregate_id: string;
  version: number;
  state_json: string;
  updated_at: string;
  position: number;
}

export interface QueryServiceOptions {
  readonly model: ReadModel;
  /** GetState and the ownership and tenant rules of the command path. */
  readonly handler: CommandHandler;
  readonly ownership: { assertOwned(tenant: TenantId): void };
  /** Resolves once the tenant's rows are complete (built at first read when needed). */
  readonly ready: (tenant: TenantId) => Promise<unknown>;
  /** The aggregate types the manifest declares now. */
  readonly types: () => readonly string[];
  readonly nc: NatsConnection;
  readonly limits: SubscriptionLimits;
  readonly allowDefaultTenant: boolean;
  /** Longest wait for a consistency token, in ms. */
  readonly waitMs: number;
  /** Changes held for one slow subscriber before it is cut. */
  readonly subscriberBuffer: number;
}

/** gRPC `tenantfold.v1.QueryService` over the node's state read model. */
export class QueryService {
  readonly #open = new Set<SubscriberBuffer<StateChangeMessage>>();

  constructor(private readonly options: QueryServiceOptions) {}

  get implementation(): UntypedServiceImplementation {
    const { model, handler } = this.options;
    return {
      Query: unary(async (request: QueryRequest, metadata) => {
        const tenant = this.admit(callContextOf(metadata), request);
        await this.waitFor(tenant, request.consistency_token);
        const page = model.query(tenant, request.aggregate_type, {
          filter: request.filter,
          sort: request.sort,
          ...(request.limit === 0 ? {} : { limit: request.limit }),
          ...(request.cursor === '' ? {} : { cursor: request.cursor }),
        });
        return {
          rows: page.rows.map(rowMessage),
          next_cursor: page.nextCursor ?? '',
          limit: page.limit,
          limit_capped: page.limitCapped,
          position: page.position,
        };
      }),
      GetState: unary(async (request: Record<string, unknown>, metadata) => {
        const { state, version } = await handler.getState(callContextOf(metadata), request);
        return { state_json: JSON.stringify(state), version };
      }),
      Subscribe: (call: ServerWritableStream<SubscribeRequest, StateChangeMessage>) => {
        this.subscribe(call).catch((error: unknown) => {
          if (!call.cancelled) call.emit('error', toServiceError(error));
        });
      },
    };
  }

  /** Ends every open subscription (the node is stopping): clients resubscribe elsewhere. */
  closeAll(): void {
    for (const buffer of this.#open) buffer.fail(new UnavailableError('the node is stopping'));
  }

  /** The call's tenant (owned here) after checking the type. */
  private admit(
    call: CallContext,
    request: { tenant_id: string; aggregate_type: string },
  ): TenantId {
    const tenant = tenantOfCall(call, request.tenant_id, this.options.allowDefaultTenant);
    this.options.ownership.assertOwned(tenant);
    const known = this.options.types();
    if (!known.includes(request.aggregate_type)) {
      throw new ValidationError(
        `unknown aggregate_type '${request.aggregate_type}' (known: ${known.join(', ')})`,
        'aggregate_type',
      );
    }
    return tenant;
  }

  /** The tenant's rows complete; with a token, read-your-writes (a bounded wait for its commit). */
  private async waitFor(tenant: TenantId, token: number | undefined): Promise<void> {
    await this.options.ready(tenant);
    if (token !== undefined && token > 0) {
      await this.options.model.waitForPosition(tenant, token, this.options.waitMs);
    }
  }

  /**
   * The initial set (or the differences from a resumed view), CAUGHT_UP, then
   * live changes. Notifications are subscribed to before the set is read and
   * held until it is, so none falls between the two.
   */
  private async subscribe(
    call: ServerWritableStream<SubscribeRequest, StateChangeMessage>,
  ): Promise<void> {
    const { options } = this;
    const { request } = call;
    const filter = parseFilter(request.filter);
    const tenant = this.admit(callContextOf(call.metadata), request);
    const release = options.limits.acquire(tenant);
    const buffer = new SubscriberBuffer<StateChangeMessage>(options.subscriberBuffer);
    this.#open.add(buffer);
    const held: StateNotification[] = [];
    let live: LiveSet | undefined;
    const feed = (notification: StateNotification) => {
      const kind = live?.next(notification);
      if (kind !== undefined && kind !== 'none') buffer.push(changeMessage(kind, notification));
    };
    let subscription: Subscription | undefined;
    call.on('cancelled', () => buffer.close());
    try {
      subscription = options.nc.subscribe(stateSubject(tenant, request.aggregate_type), {
        callback: (error, message) => {
          if (error !== null) return buffer.fail(error);
          const notification = decoded(message.data);
          if (notification === undefined) return;
          if (live !== undefined) feed(notification);
          else if (held.length < options.subscriberBuffer) held.push(notification);
          else buffer.fail(new SlowSubscriberError(options.subscriberBuffer));
        },
      });
      await options.nc.flush();
      await this.waitFor(tenant, request.consistency_token);
      // The initial set goes straight out a page at a time (it may exceed the
      // buffer, and a tenant's states may not all fit in memory at once); live
      // notifications are held meanwhile, up to the buffer's capacity, and the
      // set's versions make those of rows read after them no-ops.
      const resume = new Map(Object.entries(request.resume).map(([id, v]) => [id, Number(v)]));
      const resuming = resume.size > 0;
      let seeded: LiveSet | undefined;
      for (const page of initialPages(options.model, tenant, request.aggregate_type, filter)) {
        if (buffer.ended) break;
        seeded ??= new LiveSet(filter, page.position);
        seeded.seed(page.rows);
        const messages = resuming
          ? differences(page.rows, resume)
          : page.rows.map((row) => changeMessage('SNAPSHOT', row));
        for (const message of messages) {
          if (buffer.ended) break;
          await write(call, message);
        }
      }
      seeded ??= new LiveSet(filter, 0); // not reached: the first page always comes
      const caughtUp = { ...CAUGHT_UP, position: seeded.position };
      for (const message of [...left(options.model, tenant, request, resume), caughtUp]) {
        if (buffer.ended) break;
        await write(call, message);
      }
      live = seeded;
      for (const notification of held.splice(0)) feed(notification);
      for await (const message of buffer) await write(call, message);
      if (!call.cancelled) call.end();
    } finally {
      this.#open.delete(buffer);
      subscription?.unsubscribe();
      release();
    }
  }
}

/** A notification, or undefined for a message that is not one (anyone may publish on the subject). */
function decoded(data: Uint8Array): StateNotification | undefined {
  try {
    return decodeNotification(data);
  } catch {
    return undefined;
  }
}

/**
 * What a resuming client missed in one page of the set: its view (`resume`:
 * id → version, from which each id met is removed) against the rows now.
 */
function differences(rows: readonly StateRow[], resume: Map<string, number>): StateChangeMessage[] {
  const changes: StateChangeMessage[] = [];
  for (const row of rows) {
    const version = resume.get(row.id);
    if (version === undefined) changes.push(changeMessage('ENTERED', row));
    else if (version < row.version) changes.push(changeMessage('UPDATED', row));
    resume.delete(row.id);
  }
  return changes;
}

/** The ids of a resumed view left over once the set was read: they are not in it any more. */
function left(
  model: ReadModel,
  tenant: TenantId,
  request: SubscribeRequest,
  resume: ReadonlyMap<string, number>,
): StateChangeMessage[] {
  const changes: StateChangeMessage[] = [];
  for (const [id, version] of resume) {
    const row = model.get(tenant, request.aggregate_type, id);
    if (row !== undefined && row.version > version) changes.push(changeMessage('LEFT', row));
  }
  return changes;
}

const CAUGHT_UP: StateChangeMessage = {
  kind: 'CAUGHT_UP',
  aggregate_id: '',
  version: 0,
  state_json: '',
  updated_at: '',
  position: 0,
};

const KINDS = { entered: 'ENTERED', updated: 'UPDATED', left: 'LEFT' } as const;

function changeMessage(kind: Kind | keyof typeof KINDS, row: StateRow): StateChangeMessage {
  return {
    kind: kind in KINDS ? KINDS[kind as keyof typeof KINDS] : (kind as Kind),
    aggregate_id: row.id,
    version: row.version,
    state_json: JSON.stringify(row.state),
    updated_at: row.updated_at,
    position: row.position,
  };
}

function rowMessage(row: StateRow) {
  return {
    aggregate_id: row.id,
    version: row.version,
    updated_at: row.updated_at,
    state_json: JSON.stringify(row.state),
    position: row.position,
  };
}

/** Writes one message, waiting for the client while its window is full. */
async function write(
  call: ServerWritableStream<SubscribeRequest, StateChangeMessage>,
  message: StateChangeMessage,
): Promise<void> {
  if (call.cancelled || call.write(message)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
  });
}
