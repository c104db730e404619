import type {
  CallOptions,
  ChannelOptions,
  Client,
  ClientReadableStream,
  ClientUnaryCall,
  Metadata,
  ServiceError,
} from '@grpc/grpc-js';
import { connectivityState, credentials, status } from '@grpc/grpc-js';
import type { NodeRecord, Placement } from '@tenantfold/nats';
import { commandServiceClient, queryServiceClient } from '@tenantfold/wire';
import { RetryLaterError } from '../errors.js';
import { hasErrorCode, NodeAnswerError } from './errors.js';

/** The unary methods the router forwards: CommandService's and QueryService.Query. */
export type ForwardedMethod = 'SubmitCommand' | 'GetState' | 'Query';

type UnaryMethod = (
  request: unknown,
  metadata: Metadata,
  options: CallOptions,
  callback: (error: ServiceError | null, response?: unknown) => void,
) => ClientUnaryCall;
type CommandClient = Client & Record<'SubmitCommand' | 'GetState', UnaryMethod>;
type QueryClient = Client & {
  Query: UnaryMethod;
  Subscribe(request: unknown, metadata: Metadata): ClientReadableStream<unknown>;
};

/** One connection to a node, with a client of each service over it. */
interface Connection {
  readonly commands: CommandClient;
  readonly queries: QueryClient;
}

export interface NodeChannelsOptions {
  /** Connections per node; calls take them round-robin. */
  readonly channelsPerNode: number;
  /** How long a call waits for a connection to its node. */
  readonly connectTimeoutMs: number;
}

const CHANNEL_OPTIONS: ChannelOptions = {
  // Each client its own connection, otherwise grpc-js shares one per target.
  'grpc.use_local_subchannel_pool': 1,
  // A restarted node is found again within a second, not grpc's default 120 s backoff.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  'grpc.keepalive_time_ms': 30_000,
  // The router retries itself (once, after a refusal); grpc-js's retry layer only costs CPU.
  'grpc.enable_retries': 0,
};

const STATE_NAMES: Readonly<Record<number, string>> = {
  [connectivityState.IDLE]: 'IDLE',
  [connectivityState.CONNECTING]: 'CONNECTING',
  [connectivityState.READY]: 'READY',
  [connectivityState.TRANSIENT_FAILURE]: 'TRANSIENT_FAILURE',
  [connectivityState.SHUTDOWN]: 'SHUTDOWN',
};

class Pool {
  #next = 0;
  constructor(
    readonly address: string,
    readonly connections: readonly Connection[],
  ) {}

  pick(): Connection {
    return this.connections[this.#next++ % this.connections.length]!;
  }

  /** The best state among the pool's connections. */
  state(): number {
    const states = this.connections.map((c) => c.commands.getChannel().getConnectivityState(false));
    for (const wanted of [connectivityState.READY, connectivityState.CONNECTING]) {
      if (states.includes(wanted)) return wanted;
    }
    return states[0] ?? connectivityState.SHUTDOWN;
  }

  close(): void {
    for (const { commands, queries } of this.connections) {
      queries.close();
      commands.close();
    }
  }
}

/**
 * Pooled gRPC connections to the nodes, one pool per node id, replaced when
 * the node's address changes (a restart on another port) and closed when it
 * leaves placement. A call waits at most `connectTimeoutMs` for a connection.
 */
export class NodeChannels {
  readonly #pools = new Map<string, Pool>();
  readonly #unreachable: Array<(nodeId: string) => void> = [];

  constructor(private readonly options: NodeChannelsOptions) {}

  /** Calls `listener` each time a node cannot be reached (for metrics). */
  onUnreachable(listener: (nodeId: string) => void): void {
    this.#unreachable.push(listener);
  }

  /**
   * One unary call to `node`. Rejects with `NodeAnswerError` for the node's own
   * error answers and with `RetryLaterError` when the node cannot be reached
   * or does not answer in time.
   */
  async call(
    node: NodeRecord,
    method: ForwardedMethod,
    request: unknown,
    metadata: Metadata,
    deadlineMs: number,
  ): Promise<unknown> {
    const connection = await this.#ready(node);
    return new Promise((resolve, reject) => {
      try {
        const unaryCall: UnaryMethod =
          method === 'Query'
            ? connection.queries.Query.bind(connection.queries)
            : connection.commands[method].bind(connection.commands);
        unaryCall(request, metadata, { deadline: Date.now() + deadlineMs }, (error, response) => {
          if (error === null) return resolve(response);
          reject(this.#failure(node, error, deadlineMs));
        });
      } catch (error) {
        // The pool was closed while this call waited for its connection (the node moved).
        reject(
          new RetryLaterError(`node '${node.id}' changed address during the call; retry`, 1, {
            cause: error,
          }),
        );
      }
    });
  }

  /**
   * Opens QueryService.Subscribe on `node` once a connection is ready;
   * `RetryLaterError` when the node cannot be reached.
   */
  async subscribe(
    node: NodeRecord,
    request: unknown,
    metadata: Metadata,
  ): Promise<ClientReadableStream<unknown>> {
    const connection = await this.#ready(node);
    try {
      return connection.queries.Subscribe(request, metadata);
    } catch (error) {
      throw new RetryLaterError(`node '${node.id}' changed address; retry`, 1, { cause: error });
    }
  }

  /** Drops pools of nodes that left placement or moved to another address. */
  retain(placement: Placement): void {
    for (const [id, pool] of this.#pools) {
      if (placement.nodes.get(id)?.grpcAddress !== pool.address) {
        pool.close();
        this.#pools.delete(id);
      }
    }
  }

  /** Connection state per node id (`READY`, `CONNECTING`, `TRANSIENT_FAILURE`, ...). */
  states(): Map<string, string> {
    return new Map([...this.#pools].map(([id, pool]) => [id, STATE_NAMES[pool.state()] ?? '?']));
  }

  close(): void {
    for (const pool of this.#pools.values()) pool.close();
    this.#pools.clear();
  }

  #pool(node: NodeRecord): Pool {
    const existing = this.#pools.get(node.id);
    if (existing?.address === node.grpcAddress) return existing;
    existing?.close();
    const Commands = commandServiceClient();
    const Queries = queryServiceClient();
    const open = (): Connection => {
      const commands = new Commands(
        node.grpcAddress,
        credentials.createInsecure(),
        CHANNEL_OPTIONS,
      ) as unknown as CommandClient;
      const queries = new Queries(node.grpcAddress, credentials.createInsecure(), {
        channelOverride: commands.getChannel(),
      }) as unknown as QueryClient;
      return { commands, queries };
    };
    const pool = new Pool(
      node.grpcAddress,
      Array.from({ length: this.options.channelsPerNode }, open),
    );
    this.#pools.set(node.id, pool);
    return pool;
  }

  /** A connection of the node's pool, connected. */
  async #ready(node: NodeRecord): Promise<Connection> {
    const connection = this.#pool(node).pick();
    if (connection.commands.getChannel().getConnectivityState(true) !== connectivityState.READY) {
      await this.#connect(connection.commands, node);
    }
    return connection;
  }

  /**
   * Waits for a connection: fails at once when the node refuses it (a down
   * node answers UNAVAILABLE fast) and after `connectTimeoutMs` when it hangs.
   */
  async #connect(client: CommandClient, node: NodeRecord): Promise<void> {
    const timeout = this.options.connectTimeoutMs;
    const channel = client.getChannel();
    const deadline = Date.now() + timeout;
    let state = channel.getConnectivityState(true);
    while (state !== connectivityState.READY) {
      let reason: string | undefined;
      if (state === connectivityState.TRANSIENT_FAILURE || state === connectivityState.SHUTDOWN) {
        reason = 'the connection failed';
      } else {
        const changed = await new Promise<boolean>((resolve) =>
          channel.watchConnectivityState(state, deadline, (error) => resolve(error === undefined)),
        );
        if (!changed) reason = `no connection within ${timeout} ms`;
      }
      if (reason !== undefined) {
        this.#reportUnreachable(node.id);
        throw new RetryLaterError(
          `node '${node.id}' (${node.grpcAddress}) is unreachable: ${reason}`,
        );
      }
      state = channel.getConnectivityState(false);
    }
  }

  #reportUnreachable(nodeId: string): void {
    for (const listener of this.#unreachable) listener(nodeId);
  }

  #failure(node: NodeRecord, error: ServiceError, deadlineMs: number): Error {
    const lost =
      error.code === status.UNAVAILABLE ||
      error.code === status.DEADLINE_EXCEEDED ||
      error.code === status.CANCELLED;
    if (hasErrorCode(error.metadata) || !lost) {
      return new NodeAnswerError(node.id, error.code, error.details, error.metadata);
    }
    // Lost on the way (no answer from the node itself): whether it ran is unknown.
    if (error.code === status.UNAVAILABLE) this.#reportUnreachable(node.id);
    const what =
      error.code === status.DEADLINE_EXCEEDED
        ? `did not answer within ${deadlineMs} ms`
        : `failed: ${error.details}`;
    return new RetryLaterError(
      `call to node '${node.id}' (${node.grpcAddress}) ${what}; the command may or may not have run: retry with the same command_id`,
      1,
      { cause: error },
    );
  }
}
